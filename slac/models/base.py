"""The interface every latent model implements, and the sequence ELBO they share (eq. 7)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch
from torch import nn

from slac.config import Config
from slac.models.nets import Decoder, Encoder, GaussianHead, gaussian_kl, gaussian_log_prob, image_log_likelihood


@dataclass
class Latents:
    """Samples of the filtering posterior over a window and the distributions of its KL term."""

    z: torch.Tensor  # (B, T+1, latent_dim): what the critic sees
    post_mean: torch.Tensor  # (B, T+1, d) posterior of the KL-carrying variable
    post_std: torch.Tensor
    prior_mean: torch.Tensor  # (B, T+1, d) its prior, conditioned on the previous posterior sample
    prior_std: torch.Tensor

    def detach(self) -> Latents:
        return Latents(*(t.detach() for t in vars(self).values()))


class LatentModel(nn.Module):
    """Encoder, decoder, reward model and a latent sequence model.

    `encode(images) -> features`; `posterior(features, actions, resets) -> Latents`;
    `prior(actions, ...) -> z`; `decode(z) -> mean image`; `loss(...) -> dict of eq. 7 terms`.
    """

    latent_dim: int
    free_nats: float = 0.0  # KL per step clipped below at this (PlaNet's free nats); 0: the plain ELBO

    def __init__(self, action_dim: int, config: Config) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.encoder = Encoder(config.encoder_depth, config.feature_dim)
        self.decoder_std = config.decoder_var**0.5
        self.reward_std_min = config.reward_std_min
        self.hidden_dim = config.hidden_dim
        self.config = config
        self.bf16 = config.precision == "bf16"  # convolutions in bfloat16 (opt-in)
        self.channels_last = config.channels_last
        self.encode_chunk = config.encode_chunk

    def build_output_heads(self) -> None:
        """Decoder p(x_t | z_t) and reward model p(r_t | z_t, a_t, z_t+1), once latent_dim is known."""
        self.decoder = Decoder(self.latent_dim, self.config.encoder_depth)
        self.reward = GaussianHead(2 * self.latent_dim + self.action_dim, 1, self.hidden_dim)

    def _conv_precision(self, device: torch.device) -> contextlib.AbstractContextManager:
        """bf16 autocast for the convolutional encoder and decoder when `precision=bf16`; a no-op otherwise."""
        return torch.autocast(device.type, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def images_from_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """(..., 3, 64, 64) pixels in [0, 255] -> float32 images in [0, 1], in one pass and in the
        decoder's memory layout (channels_last when set), so that the image likelihood, which compares
        them with the decoder's output, runs on matching layouts."""
        flat = pixels.reshape(-1, *pixels.shape[-3:])
        layout = torch.channels_last if self.channels_last else torch.contiguous_format
        images = torch.empty(flat.shape, dtype=torch.float32, device=flat.device, memory_format=layout)
        return images.copy_(flat).div_(255.0).reshape(pixels.shape)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(..., 3, 64, 64) in [0, 1] -> (..., feature_dim) float32."""
        flat = images.reshape(-1, *images.shape[-3:])  # either layout: the first conv's output follows its weights
        with self._conv_precision(images.device):
            return self.encoder(flat).float().reshape(*images.shape[:-3], -1)

    @torch.no_grad()
    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """No-grad features of (..., 3, 64, 64) pixels in [0, 255] (uint8 or float), `encode_chunk`
        images at a time (0: 512 on CPU, all at once elsewhere). Each chunk is converted to [0, 1] on
        its own, straight to bfloat16 under `precision=bf16` (equal to autocast's cast of the float32
        images: integers up to 256 are exact in bfloat16 and the division rounds once), so the float
        copy of the whole batch is never made."""
        lead = pixels.shape[:-3]
        flat = pixels.reshape(-1, *pixels.shape[-3:])
        chunk = self.encode_chunk or (512 if flat.device.type == "cpu" else flat.shape[0])
        dtype = torch.bfloat16 if self.bf16 else torch.float32  # what autocast would cast the images to
        with self._conv_precision(flat.device):  # one context: autocast casts each weight once, not per chunk
            # NCHW: converting 3-channel images to NHWC costs more (18 ms per 2,016) than the first conv saves
            features = [self.encode(flat[i : i + chunk].to(dtype).div_(255.0)) for i in range(0, flat.shape[0], max(chunk, 1))]
        return torch.cat(features).reshape(*lead, -1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(..., latent_dim) -> (..., 3, 64, 64) float32 mean image."""
        with self._conv_precision(z.device):
            return self.decoder(z).float()

    def posterior(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor) -> Latents:
        raise NotImplementedError

    def latent_samples(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor) -> torch.Tensor:
        """Only the posterior samples z (B, T+1, D), for callers that need no KL term; models may skip
        the prior's networks here."""
        return self.posterior(features, actions, resets).z

    def prior(self, actions: torch.Tensor, first: Latents | None = None) -> torch.Tensor:
        raise NotImplementedError

    def loss(self, images: torch.Tensor, actions: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor,
             frame_mask: torch.Tensor, latents: Latents) -> dict[str, torch.Tensor]:
        """Eq. 7, J_M = E_q[ sum_t -log p(x_t|z_t) - log p(r_t|z_t,a_t,z_t+1) + KL(q(z_t|.) || p(z_t|.)) ].

        Sums over time (real positions only: padding adds nothing) and pixels, mean over the batch.
        images (B, T+1, 3, 64, 64) in [0, 1]; actions (B, T, A); rewards, mask (B, T); frame_mask (B, T+1).
        """
        z = latents.z
        image_mean = self.decode(z)  # (B, T+1, 3, 64, 64)
        image_ll = image_log_likelihood(images, image_mean, self.decoder_std)  # (B, T+1)
        reward_mean, predicted_std = self.reward(z[:, :-1], actions, z[:, 1:])  # (B, T, 1)
        reward_std = predicted_std
        if self.reward_std_min:  # the `reward_std_min` deviation (off by default)
            reward_std = reward_std.clamp(min=self.reward_std_min)
        reward_ll = gaussian_log_prob(rewards, reward_mean.squeeze(-1), reward_std.squeeze(-1))
        kl = self.latent_cost(latents, frame_mask)  # (B, T+1)
        stats = reward_model_stats(predicted_std.squeeze(-1).detach(), reward_ll.detach(), mask)
        image_ll = (image_ll * frame_mask).sum(1).mean()
        reward_ll = (reward_ll * mask).sum(1).mean()
        kl = (kl * frame_mask).sum(1).mean()
        return {"model_loss": -(image_ll + reward_ll - kl), "image_ll": image_ll, "reward_ll": reward_ll, "kl": kl,
                **stats}

    def latent_cost(self, latents: Latents, frame_mask: torch.Tensor) -> torch.Tensor:
        """The latent term of eq. 7 per step, (B, T+1): KL(q(z1_t | .) || p(z1_t | .)), clipped below
        at `free_nats` when set. Masked by the caller."""
        kl = gaussian_kl(latents.post_mean, latents.post_std, latents.prior_mean, latents.prior_std)
        return kl.clamp(min=self.free_nats) if self.free_nats else kl


def reward_model_stats(predicted_std: torch.Tensor, reward_ll: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the reward model p(r_t | z_t, a_t, z_t+1) of eq. 7 does on one batch, over its real steps
    (`mask`, (B, T)): the smallest and the median predicted std (the head's own output, before any
    `reward_std_min` floor) and the worst per-step negative log-likelihood -log p(r_t | .) (with the
    floor, as the loss sees it). Scalars, computed without a host sync; padding never counts."""
    real = mask > 0
    nan = torch.full_like(predicted_std, float("nan"))
    return {
        "reward_std_min": torch.where(real, predicted_std, torch.full_like(predicted_std, float("inf"))).amin(),
        "reward_std_median": torch.where(real, predicted_std, nan).flatten().nanmedian(),
        "reward_nll_max": torch.where(real, -reward_ll, torch.full_like(reward_ll, float("-inf"))).amax(),
    }


def sample(mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Reparameterised sample of N(mean, std^2)."""
    return mean + std * torch.randn_like(std)


def restart_where(reset: torch.Tensor, first_mean: torch.Tensor, first_std: torch.Tensor,
                  post_mean: torch.Tensor, post_std: torch.Tensor, prior_mean: torch.Tensor,
                  prior_std: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Where `reset` (padding or an episode's first frame) the filter restarts: the first-step
    posterior q(z_1 | x_1) replaces the transition posterior, and N(0, I) the transition prior."""
    return (torch.where(reset, first_mean, post_mean), torch.where(reset, first_std, post_std),
            torch.where(reset, torch.zeros_like(prior_mean), prior_mean),
            torch.where(reset, torch.ones_like(prior_std), prior_std))


class LatentTrace:
    """Per-step filter outputs collected in a loop, stacked on the time axis into `Latents`."""

    def __init__(self) -> None:
        self.steps: list[tuple[torch.Tensor, ...]] = []

    def add(self, z, post_mean, post_std, prior_mean, prior_std) -> None:
        self.steps.append((z, post_mean, post_std, prior_mean, prior_std))

    def stack(self) -> Latents:
        return Latents(*(torch.stack(column, dim=1) for column in zip(*self.steps)))
