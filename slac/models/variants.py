"""Latent-model variants of the paper's Figure 5a ablation, on the same encoder, decoder, reward
model and head sizes as the default model (`slac.models.slac`). The single-latent models (filtering,
vae) use one latent of z2_dim (256) units, as the authors' simple-filtering and simple-VAE ablation
configs; factored-vae keeps z1 (32) and z2 (256)."""

from __future__ import annotations

import torch

from slac.config import Config
from slac.models.base import LatentModel, Latents, LatentTrace, restart_where, sample
from slac.models.nets import GaussianHead


class FilteringModel(LatentModel):
    """filtering (the authors' simple-filtering ablation config): one sequential 256-d latent z.
    p(z_1) = N(0, I); p(z_t+1 | z_t, a_t); q(z_1 | x_1); q(z_t+1 | x_t+1, z_t, a_t)."""

    def __init__(self, action_dim: int, config: Config) -> None:
        super().__init__(action_dim, config)
        f, a, h = config.feature_dim, action_dim, config.hidden_dim
        self.latent_dim = d = config.z2_dim
        self.first_posterior = GaussianHead(f, d, h)
        self.transition_prior = GaussianHead(d + a, d, h)
        self.transition_posterior = GaussianHead(f + d + a, d, h)
        self.build_output_heads()

    def posterior(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor) -> Latents:
        first_mean, first_std = self.first_posterior(features)  # (B, T+1, d)
        z = sample(first_mean[:, 0], first_std[:, 0])
        trace = LatentTrace()
        trace.add(z, first_mean[:, 0], first_std[:, 0], torch.zeros_like(z), torch.ones_like(z))
        for t in range(1, features.shape[1]):
            reset = resets[:, t, None]
            post_mean, post_std = self.transition_posterior(features[:, t], z, actions[:, t - 1])
            prior_mean, prior_std = self.transition_prior(z, actions[:, t - 1])
            post_mean, post_std, prior_mean, prior_std = restart_where(
                reset, first_mean[:, t], first_std[:, t], post_mean, post_std, prior_mean, prior_std)
            z = sample(post_mean, post_std)
            trace.add(z, post_mean, post_std, prior_mean, prior_std)
        return trace.stack()

    def prior(self, actions: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
        z = torch.randn(actions.shape[0], self.latent_dim, device=actions.device) if first is None else first
        zs = [z]
        for t in range(actions.shape[1]):
            z = sample(*self.transition_prior(z, actions[:, t]))
            zs.append(z)
        return torch.stack(zs, dim=1)


class VAEModel(LatentModel):
    """vae (the authors' simple-VAE ablation config): one 256-d latent per frame, no temporal
    dependencies.  p(z_t) = N(0, I); q(z_t | x_t)."""

    def __init__(self, action_dim: int, config: Config) -> None:
        super().__init__(action_dim, config)
        self.latent_dim = config.z2_dim
        self.frame_posterior = GaussianHead(config.feature_dim, self.latent_dim, config.hidden_dim)
        self.build_output_heads()

    def posterior(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor) -> Latents:
        mean, std = self.frame_posterior(features)  # (B, T+1, d), every frame on its own
        return Latents(sample(mean, std), mean, std, torch.zeros_like(mean), torch.ones_like(std))

    def prior(self, actions: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
        z = torch.randn(actions.shape[0], actions.shape[1] + 1, self.latent_dim, device=actions.device)
        if first is not None:
            z[:, 0] = first
        return z


class FactoredVAEModel(LatentModel):
    """factored-vae (the authors' factored-VAE ablation): the two-variable factorisation per frame, no temporal dependencies.
    p(z1_t) = N(0, I); p(z2_t | z1_t); q(z1_t | x_t); q(z2_t | .) = p(z2_t | z1_t)."""

    def __init__(self, action_dim: int, config: Config) -> None:
        super().__init__(action_dim, config)
        self.z1_dim, self.z2_dim = config.z1_dim, config.z2_dim
        self.latent_dim = config.z1_dim + config.z2_dim
        self.z1_posterior = GaussianHead(config.feature_dim, config.z1_dim, config.hidden_dim)
        self.z2_prior = GaussianHead(config.z1_dim, config.z2_dim, config.hidden_dim)
        self.build_output_heads()

    def posterior(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor) -> Latents:
        mean, std = self.z1_posterior(features)  # (B, T+1, d1)
        z1 = sample(mean, std)
        z2 = sample(*self.z2_prior(z1))
        return Latents(torch.cat([z1, z2], -1), mean, std, torch.zeros_like(mean), torch.ones_like(std))

    def prior(self, actions: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
        z1 = torch.randn(actions.shape[0], actions.shape[1] + 1, self.z1_dim, device=actions.device)
        z = torch.cat([z1, sample(*self.z2_prior(z1))], -1)
        if first is not None:
            z[:, 0] = first
        return z


class PlaNetModel(LatentModel):
    """planet: PlaNet's recurrent state-space model (RSSM), deterministic h beside stochastic s.
    h_t = GRU(h_t-1, [s_t-1, a_t-1]); p(s_t | h_t); q(s_t | h_t, x_t); latent z_t = [h_t, s_t].
    PlaNet's sizes: 200 deterministic, 30 stochastic, 200 hidden units; KL clipped below at 3 free nats."""

    deterministic_dim, stochastic_dim, planet_hidden = 200, 30, 200
    free_nats = 3.0

    def __init__(self, action_dim: int, config: Config) -> None:
        super().__init__(action_dim, config)
        d, s, h = self.deterministic_dim, self.stochastic_dim, self.planet_hidden
        self.latent_dim = d + s
        self.embed = torch.nn.Sequential(torch.nn.Linear(s + action_dim, h), torch.nn.ELU())
        self.cell = torch.nn.GRUCell(h, d)
        self.prior_head = GaussianHead(d, s, h)
        self.posterior_head = GaussianHead(d + config.feature_dim, s, h)
        self.build_output_heads()

    def _step(self, h, s, action):
        return self.cell(self.embed(torch.cat([s, action], -1)), h)

    def posterior(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor) -> Latents:
        batch, steps = features.shape[:2]
        h = features.new_zeros(batch, self.deterministic_dim)
        s = features.new_zeros(batch, self.stochastic_dim)
        no_action = features.new_zeros(batch, self.action_dim)
        trace = LatentTrace()
        for t in range(steps):
            action = no_action if t == 0 else actions[:, t - 1]
            reset = resets[:, t, None]
            h, s, action = (torch.where(reset, torch.zeros_like(x), x) for x in (h, s, action))
            h = self._step(h, s, action)
            prior_mean, prior_std = self.prior_head(h)
            post_mean, post_std = self.posterior_head(h, features[:, t])
            s = sample(post_mean, post_std)
            trace.add(torch.cat([h, s], -1), post_mean, post_std, prior_mean, prior_std)
        return trace.stack()

    def prior(self, actions: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
        batch = actions.shape[0]
        if first is None:
            h = actions.new_zeros(batch, self.deterministic_dim)
            h = self._step(h, actions.new_zeros(batch, self.stochastic_dim), actions.new_zeros(batch, self.action_dim))
            s = sample(*self.prior_head(h))
        else:
            h, s = first.split([self.deterministic_dim, self.stochastic_dim], -1)
        zs = [torch.cat([h, s], -1)]
        for t in range(actions.shape[1]):
            h = self._step(h, s, actions[:, t])
            s = sample(*self.prior_head(h))
            zs.append(torch.cat([h, s], -1))
        return torch.stack(zs, dim=1)
