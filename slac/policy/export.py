"""A trained policy on its own: `slac export RUN --out policy.pt` writes the encoder, latent model
and actor weights with the run's config (no critics, optimisers or replay), and
`slac.load_policy("policy.pt")` gives a policy that acts from 64x64 pixels:

    policy = slac.load_policy("policy.pt")
    action = policy.reset(obs)          # at an episode's start
    action = policy.step(obs)           # after each env step
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from slac.agents import build_agent
from slac.agents.base import ActorCriticAgent
from slac.common.checkpoint import load_checkpoint, save_checkpoint
from slac.common.host import apply_host_settings, resolve_device
from slac.config import Config
from slac.errors import CheckpointError
from slac.policy.history import HistoryPolicy
from slac.policy.predict import History, predict

KIND = "slac-policy"


class Policy(HistoryPolicy):
    """The actor on the rolling history of the current episode, with what it was trained on:
    `config` (a slac Config) and `info` (task, env steps and updates at export)."""

    def __init__(self, agent: ActorCriticAgent, info: dict[str, Any]) -> None:
        super().__init__(agent)
        self.config = agent.config
        self.info = info

    def predict(self, obs: np.ndarray, state: History | None = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, History]:
        """Stable-Baselines3's predict, batched (slac.policy.predict)."""
        return predict(self.agent, obs, state, episode_start, deterministic)


def export_policy(agent: ActorCriticAgent, path: str | Path, info: dict[str, Any]) -> Path:
    """Write what acting needs (SLAC: the model, for the encoder and a latent actor's filter, and the
    actor; a SAC baseline: its encoder if any, and the actor) atomically to `path`, as a checkpoint
    that loads without unpickling code."""
    tensors = {name: module.state_dict() for name, module in agent.acting_modules().items()}
    meta = {"kind": KIND, "config": agent.config.to_dict(), "action_dim": agent.action_dim, "discrete": agent.discrete,
            "info": info,
            "observation_shape": list(agent.observation_shape)}
    return save_checkpoint(Path(path), tensors, meta)


def load_policy(path: str | Path, device: str = "cpu") -> Policy:
    """A policy from `slac export`'s file; a run's checkpoint or any other file is refused with one line."""
    map_location = resolve_device(device)
    tensors, meta = load_checkpoint(path, map_location=map_location)
    if meta.get("kind") != KIND:
        raise CheckpointError(f"{path}: not an exported policy (a run's checkpoint? write one with "
                              "`slac export RUN --out policy.pt`, or load the run with slac.SLAC.load)")
    config = Config.from_dict({**meta["config"], "device": str(map_location), "compile": False})
    apply_host_settings(map_location, keep_freed=False, tf32=config.tf32)  # fp32 means fp32 on CUDA, as in training
    agent = build_agent(config, int(meta["action_dim"]), map_location, tuple(meta.get("observation_shape", (3, 64, 64))),
                        discrete=bool(meta.get("discrete", False)))
    try:
        for name, module in agent.acting_modules().items():
            module.load_state_dict(tensors[name])
    except (KeyError, RuntimeError) as error:
        detail = " ".join(str(error).splitlines()[:2])
        raise CheckpointError(f"{path}: the policy's weights do not match its config: {detail}") from None
    return Policy(agent.eval(), dict(meta.get("info", {})))
