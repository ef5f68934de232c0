"""The paper's SAC baselines in SLAC's harness (Figures 3-4; the authors' `sac_state.gin`, `sac_pixels.gin`).

`sac-state`: actor and twin critics (MLPs 256-256) on the env's low-dimensional state, the upper
bound of the paper's figures. `sac-pixels`: the same, on the last `frame_stack` frames, each
through SLAC's convolutional encoder (shared weights; the features concatenated), the encoder
trained by the critic's loss only (the actor sees detached features); with `augment=crop` it is
the DrQ-style variant. No latent model, no pretraining; learning rates, gamma, tau, alpha and the
target entropy are SLAC's, and the losses are slac.agents.losses' eq. 8-10 functions on these inputs.

Replay windows hold `seq_len + 1` observations, exactly as SLAC's (an episode's start is padded
with its first observation, as a frame stack is): the history is the first `seq_len`, the next
history the last `seq_len`. The target critic evaluates next histories through the current
encoder without gradients, as SLAC's target uses the current model's latents.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch
from torch import nn

from slac.agents.base import ActorCriticAgent, random_shift
from slac.config import Config
from slac.models.nets import Encoder
from slac.replay import SequenceBatch


class SACAgent(ActorCriticAgent):
    """SAC on state vectors (`agent=sac-state`) or on stacked frames through a conv encoder (`sac-pixels`)."""

    def __init__(self, action_dim: int, config: Config, device: torch.device | str = "cpu",
                 observation_shape: tuple[int, ...] = (3, 64, 64), discrete: bool = False) -> None:
        super().__init__()
        self.config = config
        self.action_dim = action_dim
        self.discrete = discrete
        pixels = config.agent == "sac-pixels"
        self.observation_shape = (3, config.image_size, config.image_size) if pixels else tuple(observation_shape)
        if not pixels and len(self.observation_shape) != 1:
            raise ValueError(f"sac-state needs 1-D state observations, got shape {self.observation_shape}")
        self.seq_len = config.frame_stack if pixels else 1
        self.encoder = Encoder(config.encoder_depth, config.feature_dim) if pixels else None
        feature_dim = config.feature_dim if pixels else self.observation_shape[0]
        self._add_actor_critic(self.seq_len * feature_dim, self.seq_len * feature_dim)
        # The critic's loss trains the encoder too: one optimiser for both.
        self._critic_params = list(self.critic.parameters()) + (list(self.encoder.parameters()) if pixels else [])
        self._finish_init(device, {"critic": (self._critic_params, config.critic_lr),
                                   "actor": (list(self.actor.parameters()), config.actor_lr),
                                   "alpha": ([self.log_alpha], config.alpha_lr)})
        if pixels and config.channels_last:
            self.encoder.to(memory_format=torch.channels_last)

    def acting_modules(self) -> dict[str, nn.Module]:
        """What acting needs (what `slac export` writes): the encoder (sac-pixels) and the actor."""
        return {"actor": self.actor, **({"encoder": self.encoder} if self.encoder is not None else {})}

    def _precision(self) -> contextlib.AbstractContextManager:
        bf16 = self.config.precision == "bf16" and self.encoder is not None
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

    def features(self, observations: torch.Tensor) -> torch.Tensor:
        """(..., *observation_shape) -> (..., F): the state as floats, or encoded frames (pixels in [0, 255])."""
        if self.encoder is None:
            return observations.float()
        lead = observations.shape[:-3]
        images = observations.reshape(-1, *observations.shape[-3:]).float().div(255.0)
        with self._precision():
            return self.encoder(images).float().reshape(*lead, -1)

    # ------------------------------------------------------------------ losses
    def compute_losses(self, batch: SequenceBatch, model_only: bool = False) -> dict[str, torch.Tensor]:
        """Eq. 8-10 (critic, actor, temperature) on histories of `seq_len` observations, at the
        current parameters. The encoder runs once over each window's observations, with gradients
        where the critic loss trains it (o_1:tau); the actor and the targets see features detached."""
        if model_only:
            raise ValueError(f"agent {self.config.agent} has no model to update on its own")
        batch = batch.to(self.device, non_blocking=True)
        observations = batch.images  # (B, L+1, *observation_shape)
        if self.encoder is not None and self.config.augment == "crop":
            observations = random_shift(observations.float())
        history = self.features(observations[:, :-1])  # (B, L, F) of o_1:tau, with gradients
        with torch.no_grad():  # the newest observation only enters the target
            newest = self.features(observations[:, -1:])
        next_history = torch.cat([history[:, 1:].detach(), newest], dim=1).flatten(1)  # o_2:tau+1
        history = history.flatten(1)
        # The critic's loss reaches the encoder through `history`; the actor's sees it detached.
        return self.actor_critic_terms(batch, history, next_history, history.detach(), next_history)

    @torch.no_grad()
    def probe(self, batch: SequenceBatch) -> dict[str, torch.Tensor]:
        """What slac.run.drift follows on fixed windows: min-Q of the last transition (B,) and, for
        sac-pixels, the encoder's features of every frame (B, L+1, F)."""
        batch = batch.to(self.device)
        features = self.features(batch.images)
        q = self.q_value(features[:, :-1].flatten(1), batch.actions[:, -1])
        return {"q": q, **({"features": features} if self.encoder is not None else {})}

    def _loss_groups(self, model_only: bool) -> list[tuple[str, list[torch.Tensor], str]]:
        """(loss, the parameters it trains, optimiser): the critic's loss also trains the encoder."""
        return [("critic_loss", self._critic_params, "critic"),
                ("actor_loss", list(self.actor.parameters()), "actor"), ("alpha_loss", [self.log_alpha], "alpha")]

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def encode_frames(self, frames: np.ndarray) -> torch.Tensor:
        """(N, *observation_shape) -> (N, F)."""
        return self.features(torch.as_tensor(frames, device=self.device))

    @torch.no_grad()
    def act(self, features: torch.Tensor, actions: torch.Tensor, real_frames: torch.Tensor,
            deterministic: bool = False) -> np.ndarray:
        """features (N, L, F) of the last L observations -> actions (N, A) (past actions are not an input)."""
        action, _ = self.actor(features.flatten(1), deterministic=deterministic)
        return action.cpu().numpy()
