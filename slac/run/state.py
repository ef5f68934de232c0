"""A run's state in a checkpoint, and back: what `SLAC.save` writes and `SLAC.load` rebuilds.

The checkpoint holds the networks, optimisers, RNG states, counters, the replay's write position
(its frames stay in the run's `replay/` files) and, where the env can give it, the env's state
mid-episode (`slac.envs.state`); restoring all of it makes a resumed run continue exactly where it stopped.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from slac.agents.base import ActorCriticAgent
from slac.common.checkpoint import latest_good_checkpoint, load_checkpoint
from slac.common.host import resolve_device
from slac.common.seeds import TRAIN_EPISODES, episode_seed
from slac.config import Config
from slac.envs.state import can_restore, episode_state, restore_episode
from slac.errors import CheckpointError, SlacWarning
from slac.policy.history import HistoryPolicy
from slac.replay import SequenceReplay
from slac.run.checks import replay_check
from slac.run.drift import DriftProbe
from slac.run.logging import IntervalExtremes
from slac.run.progress import Progress


class Run(Protocol):
    """What a run's state is made of (slac.run.trainer.SLAC has all of it)."""

    config: Config
    device: torch.device
    env: Any  # a gymnasium.Env
    agent: ActorCriticAgent
    replay: SequenceReplay
    rng: np.random.Generator
    drift: DriftProbe
    interval_stats: IntervalExtremes
    policy_state: HistoryPolicy
    progress: Progress
    last_eval: dict[str, float]
    action_dim: int
    run_dir: Path


def capture(run: Run) -> tuple[dict[str, Any], dict[str, Any]]:
    """Everything a run needs to continue exactly: tensors, and JSON metadata."""
    tensors = {
        "agent": run.agent.state_dict(),
        "optimizers": {name: opt.state_dict() for name, opt in run.agent.optimizers.items()},
        "torch_rng": torch.get_rng_state(),
    }
    probe_outputs, probe_ends = run.drift.state()
    if probe_ends is not None:
        tensors["drift_probe"] = probe_outputs
    if run.device.type == "cuda":
        tensors["cuda_rng"] = torch.cuda.get_rng_state(run.device)
    in_episode_state = episode_state(run.env) if run.progress.in_episode else None
    meta = {
        "config": run.config.to_dict(), "counters": run.progress.state(), "last_eval": run.last_eval,
        "model_version": run.agent.model_version, "action_dim": run.action_dim, "discrete": run.agent.discrete,
        "observation_shape": list(run.replay.frame_shape),
        "numpy_rng": run.rng.bit_generator.state, "replay_rng": run.replay.rng.bit_generator.state,
        "env_state": in_episode_state, "replay": run.replay.position,
        "drift_probe_ends": probe_ends, "interval_stats": run.interval_stats.state(),
    }
    return tensors, meta


def restore(run: Run, tensors: dict[str, Any], meta: dict[str, Any], replay: bool = True) -> None:
    """Put a checkpoint's state into `run` (built from the checkpoint's config); with `replay` the
    replay files are reopened at the recorded position and a mid-episode env continues."""
    saved_dim = meta.get("action_dim")
    if saved_dim is not None and saved_dim != run.action_dim:
        raise CheckpointError(f"the checkpoint's agent acts with {saved_dim}-dimensional actions; this run's env "
                              f"({run.config.task}) has {run.action_dim}")
    if bool(meta.get("discrete", False)) != run.agent.discrete:
        kinds = {True: "discrete", False: "continuous"}
        raise CheckpointError(f"the checkpoint's agent acts with {kinds[bool(meta.get('discrete', False))]} actions; "
                              f"this run's env ({run.config.task}) has {kinds[run.agent.discrete]} ones")
    try:
        run.agent.load_state_dict(tensors["agent"])
        for name, opt in run.agent.optimizers.items():
            opt.load_state_dict(tensors["optimizers"][name])
        if replay and "replay" in tensors:  # a checkpoint from before the replay moved to disk
            run.replay.load_state_dict(tensors["replay"])
            run.replay.persist(run.run_dir / "replay")
        elif replay:
            run.replay.restore(run.run_dir / "replay", meta["replay"])
        if replay:
            run.replay.rng.bit_generator.state = meta["replay_rng"]
        torch.set_rng_state(tensors["torch_rng"])
        if "cuda_rng" in tensors and run.device.type == "cuda":
            torch.cuda.set_rng_state(tensors["cuda_rng"], run.device)
        run.rng.bit_generator.state = meta["numpy_rng"]
    except (KeyError, RuntimeError, ValueError, TypeError) as error:
        detail = " ".join(line.strip() for line in str(error).splitlines()[:2])
        raise CheckpointError(f"checkpoint does not match this run's networks or buffer: {detail}") from None
    try:
        run.progress.load_state(meta["counters"])
    except (KeyError, ValueError) as error:
        raise CheckpointError(f"the checkpoint's progress does not fit this slac: {error}") from None
    run.last_eval = meta.get("last_eval", {})
    run.agent.model_version = int(meta.get("model_version", 0))
    run.drift.load_state(tensors.get("drift_probe", {}), meta.get("drift_probe_ends"))
    run.interval_stats.load_state(meta.get("interval_stats", {}))
    if run.progress.in_episode and replay:
        continue_episode(run, meta.get("env_state"))


def continue_episode(run: Run, env_state: dict | None) -> None:
    """Restore the env mid-episode where it can be, else start a new episode on the next step."""
    if env_state is None or not can_restore(run.env):
        run.progress.in_episode = False
        return
    run.env.reset(seed=episode_seed(run.config.seed, TRAIN_EPISODES, run.progress.episodes))
    try:
        restore_episode(run.env, env_state)
    except ValueError as error:  # e.g. a MuJoCo version whose state has another size
        warnings.warn(f"the checkpoint's episode cannot be continued ({error}); a new episode begins", SlacWarning,
                      stacklevel=4)
        run.progress.in_episode = False
        return
    window = run.replay.gather(np.array([run.replay.total - 1]))
    run.policy_state.load_history(window.images[0, 1:].numpy(), window.actions[0, 1:].numpy(),
                                  real_frames=int(window.frame_mask[0, 1:].sum()))


def load(cls: Callable[..., Run], run_dir: str | Path, *, checkpoint: str | Path | None = None, device: str | None = None,
         replay: bool = True, **overrides: Any) -> Run:
    """Rebuild a run from its latest (or a given) checkpoint; `overrides` change its config."""
    run_dir = Path(run_dir)
    map_location = resolve_device(device or "auto") if device else "cpu"
    check = replay_check(run_dir) if replay else None
    if checkpoint:
        tensors, meta = load_checkpoint(checkpoint, map_location=map_location)
        if check:
            check(meta)
    else:  # the newest checkpoint that loads (and whose replay frames are intact); damaged ones are named
        checkpoint, tensors, meta = latest_good_checkpoint(run_dir, map_location, check=check,
                                                  warn=lambda message: warnings.warn(message, SlacWarning, stacklevel=4))
    overrides.pop("run_dir", None)  # a run continues in its own directory
    values = {**meta["config"], **overrides, "run_dir": str(run_dir)}
    if device:
        values["device"] = device
    config = Config.from_dict(values)
    if replay:
        run = cls(config=config, run_dir=run_dir, on_existing="continue")
    else:  # a placeholder buffer (nothing is read into it); the run keeps its config as recorded
        run = cls(config=config.replace(replay_capacity=max(config.seq_len + 2, 16)), run_dir=run_dir,
                  on_existing="continue")
        run.config = config
    run.checkpoint = Path(checkpoint)
    restore(run, tensors, meta, replay=replay)
    return run
