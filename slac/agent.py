"""The actor, twin critics and temperature of SLAC, their losses (eq. 8-10), one update, and acting.

Pure loss functions take tensors and return named tensors; `SLACAgent.update` computes every loss
at the same (pre-update) parameters, then applies all optimiser steps, then the target update.
"""

from __future__ import annotations

import copy
import functools
from collections import deque

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from slac import faults
from slac.errors import NumericalError
from slac.host import keep_freed_memory, set_cuda_matmul_precision
from slac.models import LatentModel, build_model
from slac.nets import Critic, TanhGaussianActor, authors_init
from slac.replay import SequenceBatch


class TwinCritic(nn.Module):
    """Two Q-functions on [z1, z2, a] (the clipped double-Q of SAC)."""

    def __init__(self, in_dim: int, action_dim: int, hidden: int) -> None:
        super().__init__()
        self.q1 = Critic(in_dim, action_dim, hidden)
        self.q2 = Critic(in_dim, action_dim, hidden)

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(z, action), self.q2(z, action)


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


def history_resets(length: int, real_frames: int | None, device: torch.device | str = "cpu") -> torch.Tensor:
    """(1, length) bool: where a filter over an acting history restarts. The padding before the
    episode's first frame and that frame itself restart it, as in a padded training window."""
    first_real = length - min(real_frames or length, length)
    resets = torch.zeros(1, length, dtype=torch.bool, device=device)
    resets[0, : first_real + 1] = True
    return resets


def batch_history_resets(length: int, real_frames: torch.Tensor) -> torch.Tensor:
    """(N, length) bool: `history_resets` for N histories with `real_frames` (N,) real frames each."""
    first_real = length - real_frames.clamp(max=length)
    return torch.arange(length, device=real_frames.device)[None] <= first_real[:, None]


def critic_loss(
    critic: TwinCritic,
    critic_target: TwinCritic,
    actor: TanhGaussianActor,
    z: torch.Tensor,
    action: torch.Tensor,
    reward: torch.Tensor,
    terminal: torch.Tensor,
    next_z: torch.Tensor,
    next_history: torch.Tensor,
    alpha: torch.Tensor,
    gamma: float,
) -> dict[str, torch.Tensor]:
    """Eq. 8-9: 1/2 (Q(z_tau, a_tau) - (r_tau + gamma V(z_tau+1)))^2 for each critic, summed;
    V(z_tau+1) = E_{a ~ pi(.|x_1:tau+1, a_1:tau)}[min_i Q'_i(z_tau+1, a) - alpha log pi(a|.)].

    z, next_z are consecutive samples of one filtered sequence (detached); a true terminal cuts
    the bootstrap, a time limit does not.
    """
    with torch.no_grad():
        next_action, next_log_pi = actor(next_history)
        next_q = torch.min(*critic_target(next_z, next_action))
        next_value = next_q - alpha * next_log_pi
        target = reward + gamma * (1.0 - terminal) * next_value
    q1, q2 = critic(z, action)
    loss = 0.5 * ((q1 - target) ** 2).mean() + 0.5 * ((q2 - target) ** 2).mean()
    return {"critic_loss": loss, "q1": q1.detach().mean(), "q2": q2.detach().mean(), "target_q": target.mean()}


def actor_loss(
    actor: TanhGaussianActor, critic: TwinCritic, z: torch.Tensor, history: torch.Tensor, alpha: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Eq. 10: E_{a ~ pi(.|x_1:tau, a_1:tau-1)}[alpha log pi(a|.) - min_i Q_i(z_tau, a)] (reparameterised).
    Also the entropy estimate -log pi of these samples and its parts (TanhGaussianActor.sample_with_parts)."""
    action, log_pi, parts = actor.sample_with_parts(history)
    q = torch.min(*critic(z, action))
    loss = (alpha * log_pi - q).mean()
    return {"actor_loss": loss, "entropy": -log_pi.detach().mean(), **parts}


def alpha_loss(log_alpha: torch.Tensor, log_pi: torch.Tensor, target_entropy: float) -> dict[str, torch.Tensor]:
    """Temperature: log_alpha * stopgrad(-log pi(a|h) - target_entropy), so alpha rises when the
    policy's entropy is below the target and falls when above."""
    loss = (log_alpha * (-log_pi.detach() - target_entropy)).mean()
    return {"alpha_loss": loss}


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
    """What every agent shares (SLAC and the SAC baselines of slac.sac): one update applying each
    loss to its own parameters, the soft target update, the temperature, and acting on a history.

    A subclass sets `seq_len` (frames in a history; replay windows have one more),
    `observation_shape`, `actor`, `critic`, `critic_target`, `log_alpha`, `optimizers`, and defines
    `compute_losses`, `_loss_groups`, `encode_frames` and `act_on_histories`.
    """

    has_model = False  # a latent model to pretrain, visualise and roll out
    observation_shape: tuple[int, ...] = (3, 64, 64)

    def _add_actor_critic(self, actor_dim: int, critic_dim: int) -> None:
        """The actor, the twin critics and the temperature (initial alpha, target entropy -|A| by
        default) on inputs of these sizes; the target critic is copied after initialisation."""
        config = self.config
        self.actor = TanhGaussianActor(actor_dim, self.action_dim, config.ac_hidden_dim, config.log_std_min,
                                       config.log_std_max)
        self.critic = TwinCritic(critic_dim, self.action_dim, config.ac_hidden_dim)
        self.log_alpha = nn.Parameter(torch.tensor(float(np.log(config.init_alpha))))
        self.target_entropy = -float(self.action_dim) if config.target_entropy is None else config.target_entropy

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
        terms = critic_loss(self.critic, self.critic_target, self.actor, critic_now, batch.actions[:, -1],
                            batch.rewards[:, -1], batch.terminals[:, -1], critic_next, actor_next, alpha,
                            self.config.gamma)
        # The actor's loss trains the actor alone: nothing upstream of the critic's input (an encoder).
        terms.update(actor_loss(self.actor, self.critic, critic_now.detach(), actor_now, alpha))
        with torch.no_grad():
            _, fresh_log_pi = self.actor(actor_now)
        terms.update(alpha_loss(self.log_alpha, fresh_log_pi, self.target_entropy))
        terms["alpha"] = alpha
        return terms

    @torch.no_grad()
    def act_on_features(self, features: torch.Tensor, actions: torch.Tensor, deterministic: bool = False,
                        real_frames: int | None = None) -> np.ndarray:
        """features (L, F) of a history's frames, actions (L-1, A); `real_frames` of them are the
        episode's (the rest is padding: the first frame repeated)."""
        real = torch.tensor([real_frames or features.shape[0]])
        return self.act_on_histories(features[None], actions[None], real, deterministic)[0]

    def act(self, frames: np.ndarray, actions: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for a history: frames (L, *observation_shape) x_1:tau+1, actions (L-1, A) a_1:tau."""
        expected = (self.seq_len, *self.observation_shape)
        if tuple(frames.shape) != expected or tuple(actions.shape) != (self.seq_len - 1, self.action_dim):
            raise ValueError(
                f"a history is {self.seq_len} frames {expected[1:]} and {self.seq_len - 1} actions of size "
                f"{self.action_dim}; got frames {tuple(frames.shape)} and actions {tuple(actions.shape)}"
            )
        features = self.encode_frames(frames)
        return self.act_on_features(features, torch.as_tensor(actions, dtype=torch.float32, device=self.device), deterministic)


class SLACAgent(ActorCriticAgent):
    """Latent model, actor, twin critics with targets, learned temperature, and their optimisers."""

    has_model = True

    def __init__(self, action_dim: int, config, device: torch.device | str = "cpu") -> None:
        super().__init__()
        self.config = config
        self.action_dim = action_dim
        self.seq_len = config.seq_len
        self.model: LatentModel = build_model(config.model, action_dim, config)
        history_dim = config.seq_len * config.feature_dim + (config.seq_len - 1) * action_dim
        input_dims = {"history": history_dim, "latent": self.model.latent_dim}
        self._add_actor_critic(input_dims[config.actor_input], input_dims[config.critic_input])
        if config.init == "authors":  # every layer initialised the authors' way (Keras defaults)
            for network in (self.model, self.actor, self.critic):
                network.apply(authors_init)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.to(device)
        self.device = torch.device(device)
        if config.channels_last:
            self.model.encoder.to(memory_format=torch.channels_last)
            self.model.decoder.to(memory_format=torch.channels_last)
        if self.device.type == "cpu" and config.keep_freed_memory:
            keep_freed_memory()  # ~14% of a CPU update was page faults of freshly mapped tensors
        if self.device.type == "cuda":
            set_cuda_matmul_precision(config.tf32)
        if config.compile:  # in place, so parameter names (and checkpoints) are unchanged
            self.model.encoder.compile()
            self.model.decoder.compile()
        adam = functools.partial(torch.optim.Adam, fused=self.device.type in ("cpu", "cuda"))  # one kernel per step
        self.optimizers = {
            "model": adam(self.model.parameters(), lr=config.model_lr),
            "critic": adam(self.critic.parameters(), lr=config.critic_lr),
            "actor": adam(self.actor.parameters(), lr=config.actor_lr),
            "alpha": adam([self.log_alpha], lr=config.alpha_lr),
        }
        self.model_version = 0  # model updates so far: cached encoder features are valid for one version

    def acting_modules(self) -> dict[str, nn.Module]:
        """What acting needs (what `slac export` writes): the model (encoder, and a latent actor's filter), the actor."""
        return {"model": self.model, "actor": self.actor}

    # ------------------------------------------------------------------ losses
    def compute_losses(self, batch: SequenceBatch, model_only: bool = False) -> dict[str, torch.Tensor]:
        """Every loss of one update on one batch, at the current parameters (nothing is stepped).

        The encoder and the filtering posterior run once over all windows; the model loss (eq. 7)
        uses the first `model_batch` windows, with gradients; the other windows are encoded without.
        Actor, critic and alpha losses use all windows, detached from the model.
        """
        batch = batch.to(self.device, non_blocking=True)
        pixels = batch.images  # (B, T+1, 3, 64, 64) uint8
        if self.config.augment == "crop":
            pixels = random_shift(pixels.float())
        resets = batch.resets
        m = pixels.shape[0] if model_only else self.config.model_batch
        images_m = self.model.images_from_pixels(pixels[:m])
        features_m = self.model.encode(images_m)  # (m, T+1, F)
        latents_m = self.model.posterior(features_m, batch.actions[:m], resets[:m])
        terms = self.model.loss(
            images_m, batch.actions[:m], batch.rewards[:m], batch.mask[:m], batch.frame_mask[:m], latents_m
        )
        if model_only:
            return terms
        features, z = features_m.detach(), latents_m.z.detach()
        if pixels.shape[0] > m:  # one encoder pass per image: with gradients above, without here
            with torch.no_grad():
                features_r = self.model.encode_pixels(pixels[m:])
                z_r = self.model.latent_samples(features_r, batch.actions[m:], resets[m:])
            features, z = torch.cat([features, features_r]), torch.cat([z, z_r])
        inputs = {
            "history": (actor_input(features[:, :-1], batch.actions[:, :-1]),  # x_1:tau, a_1:tau-1
                        actor_input(features[:, 1:], batch.actions[:, 1:])),  # x_2:tau+1, a_2:tau
            "latent": (z[:, -2], z[:, -1]),  # z_tau, z_tau+1 of one filtered sequence
        }
        actor_now, actor_next = inputs[self.config.actor_input]
        critic_now, critic_next = inputs[self.config.critic_input]
        terms.update(self.actor_critic_terms(batch, critic_now, critic_next, actor_now, actor_next))
        return terms

    @torch.no_grad()
    def probe(self, batch: SequenceBatch) -> dict[str, torch.Tensor]:
        """What slac.drift follows on fixed windows: encoder features (B, T+1, F), the critic's latent
        samples (B, T+1, D) (torch's global noise: the caller fixes it), predicted rewards (B, T), and
        min-Q of the last transition (B,) on the critic's input."""
        batch = batch.to(self.device)
        features = self.model.encode_pixels(batch.images)
        z = self.model.latent_samples(features, batch.actions, batch.resets)
        reward_mean, _ = self.model.reward(z[:, :-1], batch.actions, z[:, 1:])
        critic_now = z[:, -2] if self.config.critic_input == "latent" else actor_input(features[:, :-1], batch.actions[:, :-1])
        q = torch.min(*self.critic(critic_now, batch.actions[:, -1]))
        return {"features": features, "latents": z, "reward": reward_mean.squeeze(-1), "q": q}

    # ------------------------------------------------------------------ updates
    def _loss_groups(self, model_only: bool) -> list[tuple[str, list[torch.Tensor], str]]:
        """(loss, the parameters it trains, optimiser) for `step_optimizers`."""
        groups = [("model_loss", list(self.model.parameters()), "model")]
        if not model_only:
            groups += [("critic_loss", list(self.critic.parameters()), "critic"),
                       ("actor_loss", list(self.actor.parameters()), "actor"), ("alpha_loss", [self.log_alpha], "alpha")]
        return groups

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """(N, 3, 64, 64) uint8 -> (N, F) features."""
        return self.model.encode_pixels(torch.as_tensor(frames, device=self.device))

    @torch.no_grad()
    def act_on_histories(self, features: torch.Tensor, actions: torch.Tensor, real_frames: torch.Tensor,
                         deterministic: bool = False) -> np.ndarray:
        """The batched `act_on_features`: features (N, 8, F), actions (N, 7, A), real_frames (N,) -> (N, A)."""
        if self.config.actor_input == "latent":
            resets = batch_history_resets(features.shape[1], real_frames.to(self.device))
            x = self.model.latent_samples(features, actions, resets)[:, -1]
        else:
            x = actor_input(features, actions)
        action, _ = self.actor(x, deterministic=deterministic)
        return action.cpu().numpy()


class HistoryPolicy:
    """The actor run on the rolling history of the current episode.

    At an episode's start the missing history is the first frame repeated with zero actions,
    exactly as the replay buffer pads training windows. Each frame is encoded once while the
    encoder is unchanged; after a model update the history is re-encoded (8 frames).
    """

    def __init__(self, agent: ActorCriticAgent) -> None:
        self.agent = agent
        self.length = agent.seq_len
        self.frames: deque[np.ndarray] = deque(maxlen=self.length)
        self.actions: deque[np.ndarray] = deque(maxlen=self.length - 1)
        self._features: deque[torch.Tensor | None] = deque(maxlen=self.length)
        self._version = -1
        self._last_action: np.ndarray | None = None
        self.real_frames = 0  # frames of the current episode in the history (the rest is padding)

    def start(self, observation: np.ndarray) -> None:
        """Start an episode at `observation`: the first frame repeated, zero actions."""
        self.frames.extend([observation] * self.length)
        self.actions.extend([np.zeros(self.agent.action_dim, np.float32)] * (self.length - 1))
        self._features.extend([None] * self.length)
        self.real_frames = 1

    def reset(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Start an episode at `observation`; returns the policy's first action."""
        self.start(observation)
        return self.act(deterministic)

    def load_history(self, frames: np.ndarray, actions: np.ndarray, real_frames: int | None = None) -> None:
        """Continue from a known history: frames (8, 3, H, W), actions (7, A) (e.g. after a resume)."""
        self.frames.extend(list(frames))
        self.actions.extend(list(np.asarray(actions, np.float32)))
        self._features.extend([None] * self.length)
        self.real_frames = self.length if real_frames is None else real_frames

    def observe(self, action: np.ndarray, observation: np.ndarray) -> None:
        """Record the action taken and the frame it led to."""
        self.actions.append(np.asarray(action, np.float32))
        self.frames.append(observation)
        self._features.append(None)
        self.real_frames = min(self.real_frames + 1, self.length)

    def step(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """After the last returned action was taken and led to `observation`: the next action."""
        self.observe(self._last_action, observation)
        return self.act(deterministic)

    def act(self, deterministic: bool = False) -> np.ndarray:
        """The action for the current history (sampled, or the mean's tanh if deterministic)."""
        if self._version != self.agent.model_version:
            self._features.extend([None] * self.length)
            self._version = self.agent.model_version
        missing = [i for i, f in enumerate(self._features) if f is None]
        if missing:
            frames = [self.frames[i] for i in missing]
            unique = len(missing) == self.length and all(f is frames[0] for f in frames)
            encoded = self.agent.encode_frames(np.stack(frames[:1] if unique else frames))
            for j, i in enumerate(missing):
                self._features[i] = encoded[0 if unique else j]
        features = torch.stack(list(self._features))
        actions = torch.as_tensor(np.array(self.actions, np.float32).reshape(self.length - 1, self.agent.action_dim),
                                  device=self.agent.device)
        self._last_action = self.agent.act_on_features(features, actions, deterministic, self.real_frames)
        return self._last_action
