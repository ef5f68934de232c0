"""What a call to `learn` is about to do, said before it starts: random env steps, model pretraining
updates, RL updates and evaluations, with a wall-time estimate from a few timed updates; and
warnings when the run would make no update or spend most of its time pretraining."""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import numpy as np
import torch

from slac.common import faults
from slac.config import Config
from slac.replay import SequenceReplay
from slac.run.progress import Progress


@dataclass
class Plan:
    """The work from the run's progress to `total` env steps."""

    total: int
    random_env_steps: int  # still to collect with uniform random actions
    pretrain_updates: int  # model-only updates still to make (SLAC only)
    rl_updates: int  # updates of the agent, one batch each
    evaluations: int
    eval_episodes: int
    init_steps: int = 0  # the config's env steps of random collection
    pretrain_update_s: float | None = None  # timed, seconds per update
    rl_update_s: float | None = None

    def update_seconds(self, pretrain_updates: int | None = None, rl_updates: int | None = None) -> float | None:
        """Seconds the updates take at the timed rates (the remaining ones by default; None if untimed)."""
        pretrain = self.pretrain_updates if pretrain_updates is None else pretrain_updates
        rl = self.rl_updates if rl_updates is None else rl_updates
        if (pretrain and self.pretrain_update_s is None) or (rl and self.rl_update_s is None):
            return None
        return pretrain * (self.pretrain_update_s or 0.0) + rl * (self.rl_update_s or 0.0)

    def describe(self) -> str:
        """One or two lines: the counts, and the estimate with what it covers."""
        text = (f"plan to {self.total:,} env steps: {self.random_env_steps:,} env steps of random actions, "
                f"{self.pretrain_updates:,} model pretraining updates, {self.rl_updates:,} RL updates, "
                f"{self.evaluations} evaluation(s) of {self.eval_episodes} episode(s)")
        seconds = self.update_seconds()
        if seconds is not None and (self.pretrain_updates or self.rl_updates):
            rates = ", ".join(f"{name} {rate:.3g} s" for name, rate, count in
                              (("pretraining", self.pretrain_update_s, self.pretrain_updates),
                               ("RL", self.rl_update_s, self.rl_updates)) if count and rate is not None)
            text += (f"\nestimated wall time of the updates: {format_duration(seconds)} (an update takes {rates} here; "
                     "env steps and evaluations add to it)")
        return text

    def warnings(self) -> list[str]:
        """One line each: a run that makes no update, and one that spends most of its update time pretraining."""
        found = []
        if self.pretrain_updates == 0 and self.rl_updates == 0 and self.total > 0:
            found.append(f"the run ends at {self.total:,} env steps, within the first {self.init_steps:,} of random "
                         "collection: it makes no update; raise --steps or lower init_steps")
        pretraining = self.update_seconds(rl_updates=0)
        whole = self.update_seconds()
        if pretraining and whole and self.rl_updates and pretraining > 0.5 * whole:
            found.append(f"pretraining the model takes most of this run ({format_duration(pretraining)} of "
                         f"{format_duration(whole)} of updates): lower pretrain_steps for a short run")
        return found


def make_plan(config: Config, progress: Progress, total: int, has_model: bool) -> Plan:
    """The remaining work of a run at `progress` (its env steps, pretraining updates, next evaluation)
    to `total` env steps, as the loop of Algorithm 1 will do it."""
    repeat = config.resolved_action_repeat()
    env_steps = progress.env_steps
    random_steps = max(0, min(config.init_steps, total) - env_steps)
    learning_from = max(config.init_steps, env_steps)
    rl_agent_steps = -(-max(0, total - learning_from) // repeat)  # ceil: the last step may pass `total`
    pretrain = 0
    if has_model and total > config.init_steps:
        pretrain = max(0, config.pretrain_steps - progress.pretrain_updates)
    interval = config.eval_interval
    evaluations = 0
    if config.eval_episodes:
        due = [step for step in range(progress.next_eval, total + 1, interval)] if progress.next_eval <= total else []
        evaluations = len(due) + (1 if total % interval and total > env_steps else 0)
    return Plan(total, random_steps, pretrain, rl_agent_steps * config.updates_per_step, evaluations,
                config.eval_episodes, config.init_steps)


def time_updates(agent, config: Config, frame_shape: tuple[int, ...], model_only: bool, repeats: int = 2) -> float:
    """Seconds per update (model-only for pretraining, else the full one), the median of `repeats`
    after one warm-up, on a copy of the agent and synthetic windows: the run's weights, random
    streams and fault points are untouched."""
    trial = copy.deepcopy(agent)
    replay = SequenceReplay(max(4 * config.seq_len, config.seq_len + 2), frame_shape, agent.action_dim, agent.seq_len,
                            seed=0, frame_dtype=np.uint8 if len(frame_shape) == 3 else np.float32)
    rng = np.random.default_rng(0)
    replay.start_episode(_frame(rng, frame_shape))
    for _ in range(replay.capacity - 1):
        replay.add(rng.uniform(-1, 1, agent.action_dim).astype(np.float32), 0.0, _frame(rng, frame_shape), False)
    batch_size = config.model_batch if model_only else config.ac_batch
    times = []
    with torch.random.fork_rng(devices=[agent.device] if agent.device.type == "cuda" else []), faults.suspended():
        for i in range(repeats + 1):
            batch = replay.sample(batch_size)
            if agent.device.type == "cuda":
                torch.cuda.synchronize(agent.device)
            start = time.perf_counter()
            trial.update(batch, model_only=model_only)
            if agent.device.type == "cuda":
                torch.cuda.synchronize(agent.device)
            if i:  # the first is a warm-up
                times.append(time.perf_counter() - start)
    return float(np.median(times))


def _frame(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    if len(shape) == 3:
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return rng.standard_normal(shape).astype(np.float32)


def format_duration(seconds: float) -> str:
    """'42 s', '7 min', '1 h 25 min'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 90 else f"{minutes // 60} h {minutes % 60:02d} min"
