"""A trained policy on its own, in either format of `slac export`: `torch` writes the encoder, latent
model and actor weights with the config (no critics, optimisers or replay), and
`slac.load_policy("policy.pt")` gives a policy that acts from 64x64 pixels:

    policy = slac.load_policy("policy.pt")
    action = policy.reset(obs)          # at an episode's start
    action = policy.step(obs)           # after each env step

`onnx` writes one ONNX graph (slac.policy.onnx) with `policy_metadata` in it, checked against
PyTorch by `check_onnx_export`. slac.run.deploy exports a run (its facts, a model card).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from slac.agents import build_agent
from slac.agents.base import ActorCriticAgent
from slac.common.checkpoint import load_checkpoint, save_checkpoint
from slac.common.host import apply_host_settings, resolve_device
from slac.config import Config
from slac.errors import CheckpointError, SlacError
from slac.policy.history import History, HistoryPolicy
from slac.policy.predict import predict

KIND = "slac-policy"
FORMATS = ("torch", "onnx")
ONNX_TOLERANCE = 1e-4  # largest difference allowed between ONNX Runtime and PyTorch (float32 both)


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


def action_bounds(action_space: gym.spaces.Box) -> tuple[list[float], list[float]]:
    """The bounds of the env's own action space; the policy acts in [-1, 1] and slac.wrap_env
    rescales to these (low + (a + 1) (high - low) / 2)."""
    low, high = (np.broadcast_to(bound, action_space.shape).astype(float).tolist()
                 for bound in (action_space.low, action_space.high))
    return low, high


def policy_metadata(agent: ActorCriticAgent, action_space: gym.Space | None, **trained: Any) -> dict[str, Any]:
    """What an acting loop needs to know about the policy (observation, history lengths, actions and
    their bounds in the env's own `action_space`, action repeat), and `trained`: where it came from."""
    config = agent.config
    low, high = (None, None) if agent.discrete or action_space is None else action_bounds(action_space)
    pixels = config.agent != "sac-state"
    return {
        "discrete": agent.discrete,
        "slac_version": _version(), "task": config.task, "agent": config.agent, "seed": config.seed,
        "observation": "pixels" if pixels else "state", "image_size": config.image_size if pixels else None,
        "history_frames": agent.seq_len, "history_actions": agent.seq_len - 1 if config.agent == "slac" else 0,
        "action_dim": agent.action_dim, "action_low": low, "action_high": high,
        "action_repeat": config.resolved_action_repeat(), **trained,
    }


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("slac")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def write_policy(agent: ActorCriticAgent, out: str | Path, fmt: str, metadata: dict[str, Any],
                 opset: int | None = None) -> Path:
    """Write `agent`'s policy as `fmt` ("torch": `metadata` kept as the policy's `info`; "onnx": as the
    graph's metadata properties)."""
    if fmt not in FORMATS:
        raise SlacError(f"unknown export format {fmt!r}: expected one of {list(FORMATS)}")
    if fmt == "torch":
        return export_policy(agent, out, metadata)
    from slac.policy.onnx import DEFAULT_OPSET, write_onnx

    return write_onnx(agent, out, metadata, opset=opset or DEFAULT_OPSET)


def check_onnx_export(agent: ActorCriticAgent, path: str | Path) -> float:
    """Run an exported ONNX graph in ONNX Runtime against the agent's PyTorch modules: the largest
    difference between their outputs; SlacError beyond ONNX_TOLERANCE."""
    from slac.policy.onnx import check_onnx

    difference = check_onnx(agent, path)
    if difference > ONNX_TOLERANCE:
        raise SlacError(f"{path}: ONNX Runtime's actions differ from PyTorch's by {difference:.2g} "
                        f"(more than {ONNX_TOLERANCE:g})")
    return difference
