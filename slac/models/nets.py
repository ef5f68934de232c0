"""Building blocks: conv encoder, deconv decoder, MLPs, diagonal-Gaussian and tanh-Gaussian heads."""

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


class TanhGaussianActor(nn.Module):
    """pi(a | input): MLP 256-256 ReLU -> mean, log std (clipped); a = tanh(u), u ~ N(mean, std^2)."""

    def __init__(self, in_dim: int, action_dim: int, hidden: int = 256, log_std_min: float = -20.0, log_std_max: float = 2.0):
        super().__init__()
        self.net = mlp(in_dim, 2 * action_dim, hidden)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, x: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (action in (-1, 1), log pi(action)) with the tanh change-of-variables term."""
        if deterministic:
            mean, _ = self.net(x).chunk(2, dim=-1)
            return torch.tanh(mean), torch.zeros_like(mean[..., 0])
        action, gaussian, log_det, _, _ = self._sample(x)
        return action, (gaussian - log_det).sum(-1)

    def sample_with_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """A sampled action, its log pi, and (detached) what makes the entropy -log pi: `entropy_gaussian`
        (-log N(u; mean, std), summed over actions) plus `entropy_tanh` (sum of log(1 - tanh(u)^2) <= 0),
        the mean `log_std`, and the `saturation`: the fraction of pre-tanh samples with |u| > 2. A falling
        entropy then reads as a shrinking std (the first) or as actions pushed into tanh's flat ends."""
        action, gaussian, log_det, log_std, u = self._sample(x)
        log_pi = (gaussian - log_det).sum(-1)
        with torch.no_grad():
            parts = {"entropy_gaussian": -gaussian.sum(-1).mean(), "entropy_tanh": log_det.sum(-1).mean(),
                     "log_std": log_std.mean(), "saturation": (u.abs() > 2.0).float().mean()}
        return action, log_pi, parts

    def _sample(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """action = tanh(u), u ~ N(mean, std^2) reparameterised; log N(u) and log(1 - tanh(u)^2) per action."""
        mean, log_std = self.net(x).chunk(2, dim=-1)
        log_std = log_std.clamp(self.log_std_min, self.log_std_max)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), numerically stable
        log_det = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
        return torch.tanh(u), gaussian_log_prob(u, mean, std), log_det, log_std, u


class Critic(nn.Module):
    """Q(input, a): MLP 256-256 ReLU -> scalar."""

    def __init__(self, in_dim: int, action_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = mlp(in_dim + action_dim, 1, hidden)

    def forward(self, x: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, action], dim=-1)).squeeze(-1)


class TwinCritic(nn.Module):
    """Two Q-functions on [z1, z2, a] (the clipped double-Q of SAC)."""

    def __init__(self, in_dim: int, action_dim: int, hidden: int) -> None:
        super().__init__()
        self.q1 = Critic(in_dim, action_dim, hidden)
        self.q2 = Critic(in_dim, action_dim, hidden)

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(z, action), self.q2(z, action)


class CategoricalActor(nn.Module):
    """pi(a | input) over n discrete actions: MLP 256-256 ReLU -> logits. Acting returns one-hot
    vectors (what the model, the replay and the history hold), as TanhGaussianActor returns actions."""

    def __init__(self, in_dim: int, n_actions: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = mlp(in_dim, n_actions, hidden)

    def distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities, log-probabilities), each (B, n)."""
        log_probs = F.log_softmax(self.net(x), dim=-1)
        return log_probs.exp(), log_probs

    def forward(self, x: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(one-hot action (B, n): sampled, or the most probable; log pi of it (B,))."""
        probs, log_probs = self.distribution(x)
        index = probs.argmax(-1) if deterministic else torch.multinomial(probs, 1).squeeze(-1)
        one_hot = F.one_hot(index, probs.shape[-1]).to(probs.dtype)
        return one_hot, (log_probs * one_hot).sum(-1)


class DiscreteTwinCritic(nn.Module):
    """Two Q-functions mapping an input to one value per discrete action: Q_i(x) (B, n)."""

    def __init__(self, in_dim: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.q1 = mlp(in_dim, n_actions, hidden)
        self.q2 = mlp(in_dim, n_actions, hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(x), self.q2(x)
