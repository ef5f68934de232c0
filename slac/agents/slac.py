"""SLAC's agent (Algorithm 1): the latent model, the actor on histories of features and actions, the
twin critics on latent samples, the temperature, and their optimisers; one batch serves every loss."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from slac.agents.base import ActorCriticAgent, actor_input, batch_history_resets, random_shift
from slac.config import Config
from slac.models import LatentModel, build_model
from slac.replay import SequenceBatch


class SLACAgent(ActorCriticAgent):
    """Latent model, actor, twin critics with targets, learned temperature, and their optimisers."""

    has_model = True

    def __init__(self, action_dim: int, config: Config, device: torch.device | str = "cpu", discrete: bool = False) -> None:
        """`action_dim`: the action vector's size (for discrete actions, the number of choices, as one-hot)."""
        super().__init__()
        self.config = config
        self.action_dim = action_dim
        self.discrete = discrete
        self.seq_len = config.seq_len
        self.model: LatentModel = build_model(config.model, action_dim, config)
        history_dim = config.seq_len * config.feature_dim + (config.seq_len - 1) * action_dim
        input_dims = {"history": history_dim, "latent": self.model.latent_dim}
        self._add_actor_critic(input_dims[config.actor_input], input_dims[config.critic_input])
        self._finish_init(device, {"model": (list(self.model.parameters()), config.model_lr),
                                   "critic": (list(self.critic.parameters()), config.critic_lr),
                                   "actor": (list(self.actor.parameters()), config.actor_lr),
                                   "alpha": ([self.log_alpha], config.alpha_lr)})
        if config.channels_last:
            self.model.encoder.to(memory_format=torch.channels_last)
            self.model.decoder.to(memory_format=torch.channels_last)
        if config.compile:  # in place, so parameter names (and checkpoints) are unchanged
            self.model.encoder.compile()
            self.model.decoder.compile()

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
        """What slac.run.drift follows on fixed windows: encoder features (B, T+1, F), the critic's latent
        samples (B, T+1, D) (torch's global noise: the caller fixes it), predicted rewards (B, T), and
        min-Q of the last transition (B,) on the critic's input."""
        batch = batch.to(self.device)
        features = self.model.encode_pixels(batch.images)
        z = self.model.latent_samples(features, batch.actions, batch.resets)
        reward_mean, _ = self.model.reward(z[:, :-1], batch.actions, z[:, 1:])
        critic_now = z[:, -2] if self.config.critic_input == "latent" else actor_input(features[:, :-1], batch.actions[:, :-1])
        q = self.q_value(critic_now, batch.actions[:, -1])
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
    def act(self, features: torch.Tensor, actions: torch.Tensor, real_frames: torch.Tensor,
            deterministic: bool = False) -> np.ndarray:
        """features (N, 8, F), actions (N, 7, A), real_frames (N,) -> actions (N, A) (`ActorCriticAgent.act`)."""
        if self.config.actor_input == "latent":
            resets = batch_history_resets(features.shape[1], real_frames.to(self.device))
            x = self.model.latent_samples(features, actions, resets)[:, -1]
        else:
            x = actor_input(features, actions)
        action, _ = self.actor(x, deterministic=deterministic)
        return action.cpu().numpy()
