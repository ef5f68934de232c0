"""`slac bench`: time an agent's update and a whole training iteration at the paper's sizes.

After warm-up it times (median of `repeats`): a model-only update (eq. 7 on `model_batch`
windows; SLAC only), a full update (all losses on `ac_batch` windows, the model on the first `model_batch`:
the authors' way), a whole iteration of the trainer's loop on the toy task (act, env step, replay
add, sample, full update), replay sampling and action selection. It counts the floating-point
operations of one full update with `torch.utils.flop_counter` and reports peak memory.
`agent=sac-state` times updates on 17-dimensional states (cheetah-run's), `agent=sac-pixels` on
stacks of 4 frames.
"""

from __future__ import annotations

import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from slac.agents import build_agent, observation_kind
from slac.agents.base import ActorCriticAgent
from slac.common.host import apply_host_settings, cpu_has_native_bf16, cpu_name
from slac.config import Config
from slac.replay import SequenceReplay


def timed(fn: Callable[[], object], repeats: int, device: torch.device, warmup: int = 2) -> float:
    """Median wall time of `fn` over `repeats` calls after `warmup` calls (CUDA synchronised)."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _synchronize(device)
        start = time.perf_counter()
        fn()
        _synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def fill_random(replay: SequenceReplay, transitions: int, rng: np.random.Generator, episode_length: int = 250) -> None:
    """Random frames (or states) and actions in episodes of `episode_length` (what is in the frames
    does not change timings)."""
    if replay.frame_dtype == np.uint8:
        frames = rng.integers(0, 256, (32, *replay.frame_shape), dtype=np.uint8)
    else:
        frames = rng.standard_normal((32, *replay.frame_shape)).astype(replay.frame_dtype)
    for i in range(transitions):
        if i % episode_length == 0:
            replay.start_episode(frames[i % 32])
        action = rng.uniform(-1, 1, replay.action_dim).astype(np.float32)
        replay.add(action, 0.5, frames[(i + 1) % 32], False)


def update_gflop(agent: ActorCriticAgent, batch) -> float:
    """Floating-point operations of one full update (forward and backward), in GFLOP."""
    with FlopCounterMode(display=False) as counter:
        agent.update(batch)
    return counter.get_total_flops() / 1e9


def peak_memory_mb(device: torch.device) -> float:
    """Peak CUDA memory allocated, or on a CPU the process's peak resident set (MB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _iteration_run(config: Config, rng: np.random.Generator):
    """A trainer on toy/reach with `config`'s networks and a replay of random episodes."""
    from slac.run.trainer import SLAC

    run_config = config.replace(task="toy/reach", replay_capacity=5_000, init_steps=0, pretrain_steps=0,
                                eval_episodes=0, checkpoint_interval=10**9, action_repeat=0)
    run = SLAC(config=run_config, run_dir=tempfile.mkdtemp(prefix="slac-bench-"))
    fill_random(run.replay, 400, rng)
    return run


STATE_DIM = 17  # cheetah-run's observation vector, for sac-state's timings


def _update_timings(config: Config, device: torch.device, repeats: int, action_dim: int,
                    rng: np.random.Generator) -> tuple[float | None, float, float, float]:
    """Model-only update (None without a model), full update and replay sampling times, and GFLOP of one full update."""
    state = observation_kind(config) == "state"
    shape = (STATE_DIM,) if state else (3, 64, 64)
    agent = build_agent(config, action_dim, device, shape)
    replay = SequenceReplay(5_000, shape, action_dim, agent.seq_len, seed=0, pin_memory=device.type == "cuda",
                            frame_dtype=np.float32 if state else np.uint8)
    fill_random(replay, 4_000, rng)
    model_s = None
    if agent.has_model:
        model_s = timed(lambda: agent.update(replay.sample(config.model_batch), model_only=True), repeats, device)
    full_s = timed(lambda: agent.update(replay.sample(config.ac_batch)), repeats, device)
    sample_s = timed(lambda: replay.sample(config.ac_batch), repeats, device)
    return model_s, full_s, sample_s, update_gflop(agent, replay.sample(config.ac_batch))


def run_benchmark(config: Config, device: torch.device, repeats: int = 5, action_dim: int = 6) -> dict[str, Any]:
    """All timings for `config` on `device`, as one flat dict (seconds unless named otherwise)."""
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    apply_host_settings(device, config.threads, config.keep_freed_memory, config.tf32)  # as a run does
    model_s, full_s, sample_s, gflop = _update_timings(config, device, repeats, action_dim, rng)
    run = _iteration_run(config, rng)
    progress = run.progress

    def iteration() -> None:  # the trainer's loop body at one update per agent step
        if not progress.in_episode:
            run.start_episode()
        run.env_step(run.policy_state.act())
        run.agent.update(run.replay.sample(config.ac_batch))

    iteration_s = timed(iteration, repeats, device)
    if not progress.in_episode:
        run.start_episode()

    def act_after_update() -> None:  # training: the encoder changed, the 8-frame history is re-encoded
        run.agent.model_version += 1
        run.policy_state.act()

    frame, no_action = run.policy_state.frames[-1], np.zeros(run.action_dim, np.float32)

    def act_cached() -> None:  # encoder unchanged (evaluation): only the newest frame is encoded
        run.policy_state.observe(no_action, frame)
        run.policy_state.act()

    act_update_s = timed(act_after_update, 20, device)
    act_s = timed(act_cached, 20, device)
    run.close()
    shutil.rmtree(run.run_dir, ignore_errors=True)
    return {
        "benchmark": "update", "agent": config.agent, "device": str(device),
        "dtype": "bfloat16" if config.precision == "bf16" else "float32",
        "precision": config.precision, "threads": torch.get_num_threads(), "torch": torch.__version__,
        "cpu": cpu_name(), "cpu_bf16": cpu_has_native_bf16(),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "model_batch": config.model_batch, "ac_batch": config.ac_batch, "seq_len": run.agent.seq_len,
        "channels_last": config.channels_last, "compile": config.compile,
        "model_update_s": None if model_s is None else round(model_s, 4), "full_update_s": round(full_s, 4),
        "actor_critic_update_s": round(full_s - (model_s or 0.0), 4),
        "iteration_s": round(iteration_s, 4), "iterations_per_s": round(1 / iteration_s, 3),
        "gflop_per_iteration": round(gflop, 2), "gflop_per_s": round(gflop / iteration_s, 1),
        "replay_sample_s": round(sample_s, 5),
        "act_s": round(act_s, 5), "act_after_update_s": round(act_update_s, 5),
        "peak_memory_mb": round(peak_memory_mb(device), 1),
    }
