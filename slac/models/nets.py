"""The latent models' building blocks: conv encoder, deconv decoder, MLPs, diagonal-Gaussian heads,
Gaussian log-likelihoods and KL. (The actor and critic networks are in slac.agents.networks.)"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from slac.models import conv

LEAKY_SLOPE = 0.2  # the authors' LeakyReLU slope in every model network
LOG_2PI = math.log(2 * math.pi)


def mlp(in_dim: int, out_dim: int, hidden: int, activation: type[nn.Module] = nn.ReLU, layers: int = 2) -> nn.Sequential:
    """`layers` hidden layers of `hidden` units with `activation`, then a linear output."""
    modules: list[nn.Module] = []
    dim = in_dim
    for _ in range(layers):
        modules += [nn.Linear(dim, hidden), activation()]
        dim = hidden
    modules.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*modules)


def authors_init(module: nn.Module) -> None:
    """The authors' initialisation (Keras defaults, as the popular port): Glorot-uniform weights and
    zero biases for every dense, conv and transposed-conv layer. Use as `network.apply(authors_init)`."""
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def _leaky(inplace: bool = False) -> nn.LeakyReLU:
    return nn.LeakyReLU(LEAKY_SLOPE, inplace=inplace)


def _conv_leaky() -> nn.LeakyReLU:
    """In place after a convolution: its backward needs its input, not its output, so the activation
    can overwrite the output and save a full pass over the largest tensors of an update."""
    return _leaky(inplace=True)


class Encoder(nn.Module):
    """64x64x3 image -> feature vector: conv 5x5/2, 3x3/2 x3, 4x4 valid; LeakyReLU 0.2 after each."""

    def __init__(self, depth: int = 32, feature_dim: int = 256) -> None:
        super().__init__()
        self.feature_dim = feature_dim
        self.net = nn.Sequential(
            conv.Conv2d(3, depth, 5, 2, padding=2), _conv_leaky(),  # 64 -> 32
            conv.Conv2d(depth, 2 * depth, 3, 2, padding=1), _conv_leaky(),  # -> 16
            conv.Conv2d(2 * depth, 4 * depth, 3, 2, padding=1), _conv_leaky(),  # -> 8
            conv.Conv2d(4 * depth, 8 * depth, 3, 2, padding=1), _conv_leaky(),  # -> 4
            conv.Conv2d(8 * depth, feature_dim, 4), _conv_leaky(),  # -> 1
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(..., 3, 64, 64) floats in [0, 1] -> (..., feature_dim)."""
        lead = images.shape[:-3]
        features = self.net(images.reshape(-1, *images.shape[-3:]))
        return features.reshape(*lead, self.feature_dim)


class Decoder(nn.Module):
    """Latent -> mean image, the encoder mirrored with transposed convs; LeakyReLU after every layer
    including the last, as in the authors' code."""

    def __init__(self, latent_dim: int, depth: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            conv.ConvTranspose2d(latent_dim, 8 * depth, 4), _conv_leaky(),  # 1 -> 4
            conv.ConvTranspose2d(8 * depth, 4 * depth, 3, 2, padding=1, output_padding=1), _conv_leaky(),  # -> 8
            conv.ConvTranspose2d(4 * depth, 2 * depth, 3, 2, padding=1, output_padding=1), _conv_leaky(),  # -> 16
            conv.ConvTranspose2d(2 * depth, depth, 3, 2, padding=1, output_padding=1), _conv_leaky(),  # -> 32
            conv.ConvTranspose2d(depth, 3, 5, 2, padding=2, output_padding=1), _conv_leaky(),  # -> 64
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        """(..., latent_dim) -> (..., 3, 64, 64)."""
        lead = latents.shape[:-1]
        images = self.net(latents.reshape(-1, latents.shape[-1], 1, 1))
        return images.reshape(*lead, *images.shape[-3:])


class GaussianHead(nn.Module):
    """Diagonal Gaussian from an MLP (256-256, LeakyReLU 0.2); std = softplus + 1e-5."""

    def __init__(self, in_dim: int, out_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.out_dim = out_dim
        self.net = mlp(in_dim, 2 * out_dim, hidden, activation=_leaky)

    def forward(self, *inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs are concatenated on the last axis; returns (mean, std)."""
        x = inputs[0] if len(inputs) == 1 else torch.cat(inputs, dim=-1)
        mean, raw_std = self.net(x).chunk(2, dim=-1)
        return mean, F.softplus(raw_std) + 1e-5


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor | float) -> torch.Tensor:
    """Elementwise log N(x; mean, std^2)."""
    std = torch.as_tensor(std, dtype=x.dtype, device=x.device)
    return -0.5 * ((x - mean) / std) ** 2 - torch.log(std) - 0.5 * LOG_2PI


class _ImageLogLikelihood(torch.autograd.Function):
    """sum over pixels of log N(x; mean, std^2) with a hand-written backward: one pass over the
    images forward (the difference, kept for backward) and one backward, where autograd's elementwise
    graph makes about ten passes over tensors of batch x 9 x 3 x 64 x 64 floats."""

    @staticmethod
    def forward(ctx, images: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
        diff = images - mean
        pixels = images.shape[-3] * images.shape[-2] * images.shape[-1]
        squares = torch.linalg.vector_norm(diff, dim=(-3, -2, -1)).square()
        ctx.save_for_backward(diff)
        ctx.var = std**2
        return -0.5 * squares / ctx.var - pixels * (math.log(std) + 0.5 * LOG_2PI)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (diff,) = ctx.saved_tensors
        scale = (grad / ctx.var)[..., None, None, None]  # d/dmean = (x - mean) / var = -d/dx
        grad_images = diff * -scale if ctx.needs_input_grad[0] else None
        grad_mean = diff * scale if ctx.needs_input_grad[1] else None
        return grad_images, grad_mean, None


def image_log_likelihood(images: torch.Tensor, mean: torch.Tensor, std: float) -> torch.Tensor:
    """log p(x_t | z_t) of eq. 7 for a fixed-variance Gaussian decoder: log N(x; mean, std^2) summed
    over the last three (channel, height, width) axes. (..., C, H, W) -> (...)."""
    return _ImageLogLikelihood.apply(images, mean, float(std))


def gaussian_kl(mean_q: torch.Tensor, std_q: torch.Tensor, mean_p: torch.Tensor, std_p: torch.Tensor) -> torch.Tensor:
    """KL(N(mean_q, std_q^2) || N(mean_p, std_p^2)), summed over the last axis."""
    var_ratio = (std_q / std_p) ** 2
    return 0.5 * (var_ratio + ((mean_q - mean_p) / std_p) ** 2 - 1 - torch.log(var_ratio)).sum(-1)
