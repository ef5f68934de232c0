"""What every agent shares: the update (all losses at the same parameters, then each optimiser, then
the soft target update), the temperature, acting on a history, and the inputs the actor and critic
see (histories, random shifts, filter restarts). The losses themselves are in slac.agents.losses.
"""

from __future__ import annotations

import copy

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from slac.agents.losses import actor_loss, alpha_loss, critic_loss, discrete_actor_loss, discrete_critic_loss
from slac.agents.networks import CategoricalActor, DiscreteTwinCritic, TanhGaussianActor, TwinCritic
from slac.common import faults
from slac.errors import NumericalError
from slac.models.nets import authors_init
from slac.replay import SequenceBatch


def actor_input(features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """History (x_1:tau+1, a_1:tau) as one vector: features (B, T+1, F), actions (B, T, A) -> (B, (T+1)F + TA)."""
    return torch.cat([features.flatten(1), actions.flatten(1)], dim=-1)


def random_shift(images: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Random-crop augmentation (appendix D, as DrQ): pad each window by `pad` pixels (edge
    replicated) and crop back at a random offset, the same for every frame of a window.
    (B, T, C, H, W) -> (B, T, C, H, W)."""
    b, t, c, h, w = images.shape
    padded = F.pad(images.reshape(b, t * c, h, w), (pad, pad, pad, pad), mode="replicate")
    dy = torch.randint(0, 2 * pad + 1, (b, 1), device=images.device)
    dx = torch.randint(0, 2 * pad + 1, (b, 1), device=images.device)
    rows = (dy + torch.arange(h, device=images.device))[:, :, None]  # (B, H, 1)
    cols = (dx + torch.arange(w, device=images.device))[:, None, :]  # (B, 1, W)
    batch = torch.arange(b, device=images.device)[:, None, None]
    cropped = padded.permute(0, 2, 3, 1)[batch, rows, cols]  # (B, H, W, T*C)
    return cropped.permute(0, 3, 1, 2).reshape(b, t, c, h, w)


def batch_history_resets(length: int, real_frames: torch.Tensor) -> torch.Tensor:
    """(N, length) bool: where a filter over each of N acting histories restarts, given the `real_frames`
    (N,) of each that belong to its episode. The padding before the episode's first frame and that
    frame itself restart it, as in a padded training window."""
    first_real = length - real_frames.clamp(max=length)
    return torch.arange(length, device=real_frames.device)[None] <= first_real[:, None]


def check_finite(terms: dict[str, torch.Tensor], update: int) -> None:
    """Raise NumericalError naming every NaN or infinite term, before any optimiser steps (one
    device-to-host sync per update)."""
    names = list(terms)
    finite = torch.isfinite(torch.stack([terms[n].detach().float() for n in names])).cpu()
    if not bool(finite.all()):
        bad = ", ".join(f"{n}={float(terms[n]):.4g}" for n, ok in zip(names, finite.tolist()) if not ok)
        raise NumericalError(f"non-finite loss at update {update}: {bad}; no weights were changed by it")


def step_optimizers(terms: dict[str, torch.Tensor], groups: list[tuple[str, list[torch.Tensor], str]],
                    optimizers: dict[str, torch.optim.Optimizer], update: int) -> None:
    """Each (loss, parameters, optimiser) group: the gradient of that loss alone on those
    parameters, all computed before any optimiser steps (so every loss sees the same weights)."""
    check_finite(terms, update)
    for loss_name, params, _ in groups:
        grads = torch.autograd.grad(terms[loss_name], params, allow_unused=True)
        for param, grad in zip(params, grads):
            param.grad = grad
    faults.inject("update")
    for _, _, opt_name in groups:
        optimizers[opt_name].step()


def soft_update(target: nn.Module, source: nn.Module, tau: float) -> None:
    """theta' <- (1 - tau) theta' + tau theta."""
    with torch.no_grad():
        torch._foreach_lerp_(list(target.parameters()), list(source.parameters()), tau)


class ActorCriticAgent(nn.Module):
    """What every agent shares (SLAC and the SAC baselines of slac.agents.sac): one update applying each
    loss to its own parameters, the soft target update, the temperature, and acting on a history.

    A subclass sets `seq_len` (frames in a history; replay windows have one more),
    `observation_shape`, `actor`, `critic`, `critic_target`, `log_alpha`, `optimizers`, and defines
    `compute_losses`, `_loss_groups`, `encode_frames` and `act`.
    """

    has_model = False  # a latent model to pretrain, visualise and roll out
    discrete = False  # actions: one-hot vectors of n discrete choices (categorical actor) rather than continuous
    observation_shape: tuple[int, ...] = (3, 64, 64)

    def _add_actor_critic(self, actor_dim: int, critic_dim: int) -> None:
        """The actor, the twin critics and the temperature on inputs of these sizes (the target critic
        is copied after initialisation). Continuous actions: a tanh-Gaussian actor, critics Q(x, a),
        target entropy -|A|. Discrete (`self.discrete`): a categorical actor, critics giving one value
        per action, target entropy `discrete_target_entropy_scale` * log n. Either: `target_entropy` if set."""
        config = self.config
        if self.discrete:
            self.actor = CategoricalActor(actor_dim, self.action_dim, config.ac_hidden_dim)
            self.critic = DiscreteTwinCritic(critic_dim, self.action_dim, config.ac_hidden_dim)
            target = config.discrete_target_entropy_scale * float(np.log(self.action_dim))
        else:
            self.actor = TanhGaussianActor(actor_dim, self.action_dim, config.ac_hidden_dim, config.log_std_min,
                                           config.log_std_max)
            self.critic = TwinCritic(critic_dim, self.action_dim, config.ac_hidden_dim)
            target = -float(self.action_dim)
        self.log_alpha = nn.Parameter(torch.tensor(float(np.log(config.init_alpha))))
        self.target_entropy = target if config.target_entropy is None else config.target_entropy

    def _finish_init(self, device: torch.device | str, optimized: dict[str, tuple[list[nn.Parameter], float]]) -> None:
        """The end every agent's constructor shares: the authors' initialisation of every layer
        (`init=authors`, Keras' defaults), the target critic copied after it, the device, and one fused
        Adam per loss over `optimized` = {name: (parameters, learning rate)}."""
        if self.config.init == "authors":
            self.apply(authors_init)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.to(device)
        self.device = torch.device(device)
        fused = self.device.type in ("cpu", "cuda")  # one kernel per step
        self.optimizers = {name: torch.optim.Adam(params, lr=lr, fused=fused) for name, (params, lr) in optimized.items()}
        self.model_version = 0  # updates so far: cached encoder features are valid for one version

    def q_value(self, critic_input: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """min_i Q_i(input, a), (B,); `action` one-hot for discrete critics."""
        if self.discrete:
            return (torch.min(*self.critic(critic_input)) * action).sum(-1)
        return torch.min(*self.critic(critic_input, action))

    @property
    def alpha(self) -> torch.Tensor:
        return self.log_alpha.exp().detach()

    def update(self, batch: SequenceBatch, model_only: bool = False) -> dict[str, torch.Tensor]:
        """One update (the authors' `_train`): all losses at the same parameters, then each
        optimiser steps on the gradient of its own loss, then the soft target update."""
        terms = self.compute_losses(batch, model_only=model_only)
        step_optimizers(terms, self._loss_groups(model_only), self.optimizers, self.model_version)
        self.model_version += 1
        if not model_only:
            soft_update(self.critic_target, self.critic, self.config.tau)
        return {name: value.detach() for name, value in terms.items()}

    def actor_critic_terms(self, batch: SequenceBatch, critic_now: torch.Tensor, critic_next: torch.Tensor,
                           actor_now: torch.Tensor, actor_next: torch.Tensor) -> dict[str, torch.Tensor]:
        """Critic (eq. 8-9), actor (eq. 10) and temperature losses on the window's last transition:
        the critic's inputs at tau and tau+1, the actor's histories at tau and tau+1."""
        alpha = self.alpha
        transition = (batch.actions[:, -1], batch.rewards[:, -1], batch.terminals[:, -1])
        if self.discrete:  # the same equations with expectations over the policy's probabilities
            terms = discrete_critic_loss(self.critic, self.critic_target, self.actor, critic_now, *transition,
                                         critic_next, actor_next, alpha, self.config.gamma)
            terms.update(discrete_actor_loss(self.actor, self.critic, critic_now.detach(), actor_now, alpha))
            # The policy's exact entropy stands where a continuous policy has a fresh sample's -log pi.
            terms.update(alpha_loss(self.log_alpha, -terms.pop("entropy_per_history"), self.target_entropy))
            terms["alpha"] = alpha
            return terms
        terms = critic_loss(self.critic, self.critic_target, self.actor, critic_now, *transition, critic_next,
                            actor_next, alpha, self.config.gamma)
        # The actor's loss trains the actor alone: nothing upstream of the critic's input (an encoder).
        terms.update(actor_loss(self.actor, self.critic, critic_now.detach(), actor_now, alpha))
        with torch.no_grad():
            _, fresh_log_pi = self.actor(actor_now)
        terms.update(alpha_loss(self.log_alpha, fresh_log_pi, self.target_entropy))
        terms["alpha"] = alpha
        return terms

    def act(self, features: torch.Tensor, actions: torch.Tensor, real_frames: torch.Tensor,
            deterministic: bool = False) -> np.ndarray:
        """The one acting entry: actions (N, A) for N histories, given the features (N, L, F) of their
        frames (`encode_frames`), the actions (N, L-1, A) between them, and how many frames of each
        belong to its episode, `real_frames` (N,) (the rest is padding: the first frame repeated).
        slac.policy.history builds these histories."""
        raise NotImplementedError
