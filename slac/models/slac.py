"""The paper's fully stochastic two-variable sequential latent variable model (Figure 1, eq. 4, 7).

p(z1_1) = N(0, I);  p(z2_1 | z1_1);  p(z1_t+1 | z2_t, a_t);  p(z2_t+1 | z1_t+1, z2_t, a_t)
q(z1_1 | x_1);      q(z1_t+1 | x_t+1, z2_t, a_t);            q(z2 | .) = p(z2 | .) (shared network)
p(x_t | z1_t, z2_t) (fixed variance);  p(r_t | z_t, a_t, z_t+1)
"""

from __future__ import annotations

import torch

from slac.config import Config
from slac.models.base import LatentModel, Latents, LatentTrace, restart_where, sample
from slac.models.nets import GaussianHead, gaussian_log_prob


class SlacModel(LatentModel):
    """slac: p(z1_1) = N(0, I); p(z2_1 | z1_1); p(z1_t+1 | z2_t, a_t); p(z2_t+1 | z1_t+1, z2_t, a_t);
    q(z1_1 | x_1); q(z1_t+1 | x_t+1, z2_t, a_t); q(z2 | .) = p(z2 | .). Fully stochastic, latents z1 (32)
    and z2 (256); only z1 carries a KL term."""

    z1_stochastic = True  # False: z1 is its posterior's mean (the `deterministic` ablation)
    z2_stochastic = True  # False: z2 follows the mean of its transition (`partially-stochastic`, `deterministic`)

    def _z1(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        return sample(mean, std) if self.z1_stochastic else mean

    def _z2(self, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
        return sample(mean, std) if self.z2_stochastic else mean

    def __init__(self, action_dim: int, config: Config) -> None:
        super().__init__(action_dim, config)
        f, a, h = config.feature_dim, action_dim, config.hidden_dim
        d1, d2 = config.z1_dim, config.z2_dim
        self.z1_dim, self.z2_dim = d1, d2
        self.latent_dim = d1 + d2
        self.z2_first_prior = GaussianHead(d1, d2, h)  # p(z2_1 | z1_1), also its posterior
        self.z1_prior = GaussianHead(d2 + a, d1, h)  # p(z1_t+1 | z2_t, a_t)
        self.z2_prior = GaussianHead(d1 + d2 + a, d2, h)  # p(z2_t+1 | z1_t+1, z2_t, a_t), also posterior
        self.z1_first_posterior = GaussianHead(f, d1, h)  # q(z1_1 | x_1)
        self.z1_posterior = GaussianHead(f + d2 + a, d1, h)  # q(z1_t+1 | x_t+1, z2_t, a_t)
        self.build_output_heads()

    def posterior(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor) -> Latents:
        """Filter once over the window: z_t ~ q(z_t | x_t, z_t-1, a_t-1), restarting where `resets`.

        features (B, T+1, F); actions (B, T, A); resets (B, T+1) bool, True at position 0, at padding
        and at an episode's first frame: there the first-step posterior q(z1_1 | x_1) and prior
        N(0, I) are used. Returns z = [z1, z2] (B, T+1, d1 + d2) and the z1 KL's distributions.
        """
        return self._filter(features, actions, resets, with_prior=True)

    def latent_samples(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor) -> torch.Tensor:
        """The posterior's z alone: the same samples, without evaluating the z1 prior (a quarter of
        the filter's networks), for the critic's windows and for acting."""
        return self._filter(features, actions, resets, with_prior=False).z

    def _filter(self, features: torch.Tensor, actions: torch.Tensor, resets: torch.Tensor, with_prior: bool) -> Latents:
        """The filter of `posterior`; without `with_prior` the prior fields repeat the posterior's."""
        first_mean, first_std = self.z1_first_posterior(features)  # (B, T+1, d1), one batched call
        z1 = self._z1(first_mean[:, 0], first_std[:, 0])
        z2 = self._z2(*self.z2_first_prior(z1))
        trace = LatentTrace()
        trace.add(torch.cat([z1, z2], -1), first_mean[:, 0], first_std[:, 0], torch.zeros_like(z1), torch.ones_like(z1))
        for t in range(1, features.shape[1]):
            action = actions[:, t - 1]
            reset = resets[:, t, None]
            post_mean, post_std = self.z1_posterior(features[:, t], z2, action)
            prior_mean, prior_std = self.z1_prior(z2, action) if with_prior else (post_mean, post_std)
            post_mean, post_std, prior_mean, prior_std = restart_where(
                reset, first_mean[:, t], first_std[:, t], post_mean, post_std, prior_mean, prior_std)
            z1 = self._z1(post_mean, post_std)
            z2_mean, z2_std = self.z2_prior(z1, z2, action)
            z2_first_mean, z2_first_std = self.z2_first_prior(z1)
            z2 = self._z2(torch.where(reset, z2_first_mean, z2_mean), torch.where(reset, z2_first_std, z2_std))
            trace.add(torch.cat([z1, z2], -1), post_mean, post_std, prior_mean, prior_std)
        return trace.stack()

    def prior(self, actions: torch.Tensor, first: torch.Tensor | None = None) -> torch.Tensor:
        """Open-loop samples from the prior: z_1 = `first` (B, D) if given, else z1_1 ~ N(0, I),
        z2_1 ~ p(z2_1 | z1_1); then z_t+1 ~ p(z_t+1 | z_t, a_t). actions (B, T, A) -> z (B, T+1, D)."""
        if first is None:
            z1 = torch.randn(actions.shape[0], self.z1_dim, device=actions.device)
            z2 = self._z2(*self.z2_first_prior(z1))
        else:
            z1, z2 = first.split([self.z1_dim, self.z2_dim], dim=-1)
        zs = [torch.cat([z1, z2], -1)]
        for t in range(actions.shape[1]):
            z1 = self._z1(*self.z1_prior(z2, actions[:, t]))
            z2 = self._z2(*self.z2_prior(z1, z2, actions[:, t]))
            zs.append(torch.cat([z1, z2], -1))
        return torch.stack(zs, dim=1)


class PartiallyStochasticModel(SlacModel):
    """partially-stochastic (the authors' slac_ablation_partially_stochastic.gin): as slac, but both z2
    distributions are deterministic: z2_1 = mean of p(z2_1 | z1_1), z2_t+1 = mean of
    p(z2_t+1 | z1_t+1, z2_t, a_t). z1 stays stochastic and carries the KL term."""

    z2_stochastic = False


class DeterministicModel(SlacModel):
    """deterministic (the authors' slac_ablation_deterministic.gin): nothing random in the transitions.
    z1_1 = mean of q(z1_1 | x_1); z1_t+1 = mean of q(z1_t+1 | x_t+1, z2_t, a_t); z2 as in
    partially-stochastic. The z1 priors are unit-variance Gaussians, p(z1_1) = N(0, I) and
    p(z1_t+1 | z2_t, a_t) = N(mean(z2_t, a_t), I), and the KL term of eq. 7 becomes
    -log p(z1_t | z2_t-1, a_t-1) of the deterministic z1, without the first step (`latent_cost`)."""

    z1_stochastic = False
    z2_stochastic = False

    def latent_cost(self, latents: Latents, frame_mask: torch.Tensor) -> torch.Tensor:
        """-log N(z1_t; prior mean, I) at every real step after the episode's first frame, (B, T+1)."""
        z1 = latents.post_mean
        cost = -gaussian_log_prob(z1, latents.prior_mean, 1.0).sum(-1)
        after_first = torch.zeros_like(frame_mask)
        after_first[:, 1:] = frame_mask[:, :-1]  # a window's first real frame is its episode's first or position 0
        return cost * after_first
