"""The loop of Algorithm 1 on a run (slac.run.trainer.SLAC), top to bottom as the paper has it.

    until `total` env steps (or a stop):
        once random collection is done: pretrain the model (`pretrain_steps` model-only updates)
        when an evaluation is due: evaluate the stochastic and the deterministic policy
        one env step: uniform random actions while collecting, then the policy's
        after collection: `updates_per_step` updates on one sampled batch each
        when a checkpoint is due: write one
    then the last evaluation and a checkpoint

Its schedule is stated once (`Schedule`). A stop (Ctrl-C, SIGTERM, a callback returning False)
ends the loop at the next step boundary with a checkpoint; a second Ctrl-C stops at once.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch

from slac.common.checkpoint import list_checkpoints
from slac.config import Config
from slac.errors import NumericalError
from slac.run.callbacks import Callback
from slac.run.logging import RunLogger
from slac.run.plan import Plan, format_duration, make_plan
from slac.run.progress import Progress
from slac.run.state import Run
from slac.run.visualize import rollout_grid, write_video


class LoopRun(Run, Protocol):
    """What the loop needs of a run beyond its state (slac.run.trainer.SLAC has all of it)."""

    eval_env: Any
    logger: RunLogger
    last_plan: Plan | None
    frames_per_checkpoint: int

    def start_episode(self) -> None: ...

    def env_step(self, action: np.ndarray) -> tuple[bool, int]: ...

    def random_action(self) -> np.ndarray: ...

    def evaluate(self, episodes: int | None = None, deterministic: bool = False, env: Any = None,
                 record: list | None = None, record_episodes: int | None = None,
                 view_size: int | None = None) -> np.ndarray: ...

    def rollouts(self, episodes: int = 1, steps: int | None = None) -> list: ...

    def save(self, path: str | Path | None = None) -> Path: ...

TRAIN_METRICS = ("model_loss", "image_ll", "reward_ll", "kl", "critic_loss", "actor_loss", "alpha_loss",
                 "alpha", "entropy", "entropy_gaussian", "entropy_tanh", "log_std", "saturation", "q1", "q2", "target_q")


def next_multiple(step: int, interval: int) -> int:
    """The first multiple of `interval` after `step`."""
    return (step // interval + 1) * interval


class Schedule:
    """When each part of Algorithm 1 happens, in env steps (after action repeat) and updates."""

    def __init__(self, config: Config, has_model: bool, own_eval_env: bool) -> None:
        self.config, self.has_model, self.own_eval_env = config, has_model, own_eval_env

    def collecting(self, p: Progress) -> bool:
        """Uniform random actions, no updates: the first `init_steps` env steps."""
        return p.env_steps < self.config.init_steps

    def pretraining(self, p: Progress) -> bool:
        """The model pretrains after random collection (or on resuming it), before any policy step."""
        return (self.has_model and p.agent_steps > 0 and not self.collecting(p)
                and p.pretrain_updates < self.config.pretrain_steps)

    def evaluating(self, p: Progress) -> bool:
        """Every `eval_interval` env steps; without an env of its own, once the training episode ends."""
        return p.env_steps >= p.next_eval and (self.own_eval_env or not p.in_episode)

    def logging(self, updates: int) -> bool:
        return updates % self.config.log_interval == 0

    def checkpointing(self, p: Progress, unflushed_frames: int, frames_per_checkpoint: int) -> bool:
        """Every `checkpoint_interval` env steps, and before the replay's on-disk slack could be overrun."""
        return p.env_steps >= p.next_checkpoint or unflushed_frames >= frames_per_checkpoint

    def pretrain_checkpointing(self, pretrain_updates: int) -> bool:
        return pretrain_updates % self.config.pretrain_checkpoint_interval == 0


class StepRate:
    """Env steps per second of training since the last metrics row (the `steps_per_s` column): pretraining
    and evaluations restart the window, so their time is not counted (eval.csv times evaluations)."""

    def __init__(self, env_steps: int) -> None:
        self.restart(env_steps)

    def restart(self, env_steps: int) -> None:
        self.start, self.env_steps = time.perf_counter(), env_steps

    def take(self, env_steps: int) -> float:
        """The rate since the window began; a new window begins now."""
        steps, elapsed = env_steps - self.env_steps, time.perf_counter() - self.start
        self.restart(env_steps)
        return steps / max(elapsed, 1e-9)


class TrainingLoop:
    """Algorithm 1 on `run` to `total` env steps; `callback` as slac.run.callbacks."""

    def __init__(self, run: LoopRun, total: int, progress_bar: bool, callback: Callback | None) -> None:
        self.run, self.total, self.progress_bar, self.callback = run, total, progress_bar, callback
        self.schedule = Schedule(run.config, run.agent.has_model, run.eval_env is not None)
        self.stop = self.stopped_by_callback = False
        self.bar = None

    # ------------------------------------------------------------------ the loop
    def train(self) -> None:
        from tqdm import tqdm

        run, config, p, schedule = self.run, self.run.config, self.run.progress, self.schedule
        self.bar = tqdm(total=self.total, initial=min(p.env_steps, self.total), unit="step", dynamic_ncols=True,
                        disable=not self.progress_bar, desc=config.task, mininterval=bar_interval())
        previous_handler = self._install_signal_handler()
        step_rate = StepRate(p.env_steps)
        try:
            while p.env_steps < self.total and not self.stop:
                if schedule.pretraining(p):
                    self.pretrain()
                    if self.stop:
                        break
                    step_rate.restart(p.env_steps)
                if schedule.evaluating(p):
                    self.evaluate()
                    if self.stop:  # a callback stopped training on this evaluation
                        break
                    step_rate.restart(p.env_steps)
                if not p.in_episode:
                    run.start_episode()
                learning = not schedule.collecting(p)  # the policy acts and updates follow
                action = run.policy_state.act() if learning else run.random_action()
                _, inner = run.env_step(action)
                self.bar.update(inner)
                if learning:
                    for _ in range(config.updates_per_step):
                        terms = run.agent.update(run.replay.sample(config.ac_batch))
                        run.interval_stats.add(terms)
                        p.updates += 1
                        if schedule.logging(p.updates):
                            steps_per_s = step_rate.take(p.env_steps)
                            self.log_train(terms, "train", steps_per_s)
                            self.bar.set_postfix(self.postfix(steps_per_s), refresh=False)
                if self.callback is not None and self.callback.on_step(run) is False:
                    self.stop = self.stopped_by_callback = True
                if schedule.checkpointing(p, run.replay.unflushed, run.frames_per_checkpoint):
                    self.checkpoint()
                    p.next_checkpoint = max(p.next_checkpoint + config.checkpoint_interval, p.env_steps + 1)
            finished = p.env_steps >= config.steps and p.last_eval_step != p.env_steps
            if not self.stop and (p.env_steps >= p.next_eval or finished):
                self.evaluate()
            self.checkpoint()
        except NumericalError as error:  # stop before the bad step is taken; nothing more is written
            saved = list_checkpoints(run.run_dir)
            raise NumericalError(f"{error} (env step {p.env_steps}); training stopped, the last good checkpoint is "
                                 f"{saved[-1] if saved else 'none (no checkpoint was written yet)'}") from None
        finally:
            self.bar.close()
            self._restore_signal_handler(previous_handler)

    def pretrain(self) -> None:
        """Model-only updates on random-collection data (the first `model_batch` windows of a batch)."""
        from tqdm import tqdm

        run, config, p = self.run, self.run.config, self.run.progress
        bar = tqdm(total=config.pretrain_steps, initial=p.pretrain_updates, unit="update", desc="pretrain model",
                   disable=not self.progress_bar, leave=False, dynamic_ncols=True, mininterval=bar_interval())
        while p.pretrain_updates < config.pretrain_steps and not self.stop:
            terms = run.agent.update(run.replay.sample(config.model_batch), model_only=True)
            run.interval_stats.add(terms)
            p.pretrain_updates += 1
            bar.update(1)
            if self.schedule.logging(p.pretrain_updates) or p.pretrain_updates == config.pretrain_steps:
                self.log_train(terms, "pretrain", None)
                bar.set_postfix(self.postfix(None), refresh=False)
            if self.schedule.pretrain_checkpointing(p.pretrain_updates):
                self.checkpoint()
        bar.close()
        if not self.stop and not self.schedule.pretrain_checkpointing(p.pretrain_updates):
            self.checkpoint()

    def evaluate(self) -> None:
        """The stochastic and the deterministic policy's returns (eval.csv), and what goes with them."""
        run, config, p = self.run, self.run.config, self.run.progress
        if config.eval_episodes == 0:  # evaluation switched off
            p.next_eval, p.last_eval_step = next_multiple(p.env_steps, config.eval_interval), p.env_steps
            return
        start = time.perf_counter()
        video: list | None = [] if config.eval_video else None
        stochastic = run.evaluate(deterministic=False, record=video, record_episodes=1)
        deterministic = run.evaluate(deterministic=True)
        if video:
            write_video(run.run_dir / "videos" / f"eval_{p.env_steps:09d}.mp4", video)
        if config.log_rollouts and run.agent.has_model:
            run.logger.image("model/rollouts", rollout_grid(run.rollouts(1)), p.env_steps)
        run.last_eval = {
            "return_stochastic": float(stochastic.mean()), "return_stochastic_std": float(stochastic.std()),
            "return_deterministic": float(deterministic.mean()), "return_deterministic_std": float(deterministic.std()),
        }
        row = {"env_step": p.env_steps, "agent_step": p.agent_steps, "update": p.updates, **run.last_eval,
               "episodes": len(stochastic), "wall_time_s": time.perf_counter() - start}
        run.logger.log("eval", row)
        if config.keep_eval_checkpoints:  # networks at every evaluation, kept for offline study
            self.checkpoint(run.run_dir / "checkpoints" / "evaluations" / f"step_{p.env_steps:09d}.pt")
        if self.callback is not None and self.callback.on_evaluation(run, row) is False:
            self.stop = self.stopped_by_callback = True
        if run.eval_env is None:
            p.in_episode = False  # the training env was used: its episode starts afresh
        p.next_eval, p.last_eval_step = next_multiple(p.env_steps, config.eval_interval), p.env_steps
        self.bar.set_postfix(self.postfix(None), refresh=False)

    def checkpoint(self, path: Path | None = None) -> Path:
        """`run.save(path)`, then the callback's `on_checkpoint`."""
        target = self.run.save(path)
        if self.callback is not None and self.callback.on_checkpoint(self.run, target) is False:
            self.stop = self.stopped_by_callback = True
        return target

    def log_train(self, terms: dict[str, torch.Tensor], phase: str, rate: float | None) -> None:
        """A metrics.csv row: the batch's terms, the interval's reward-model extremes, and (training) the drift."""
        run, p = self.run, self.run.progress
        row = {"env_step": p.env_steps, "agent_step": p.agent_steps, "phase": phase,
               "update": p.updates if phase == "train" else p.pretrain_updates,
               "steps_per_s": rate, "train_return": p.last_train_return}
        row.update({k: float(v) for k, v in terms.items() if k in TRAIN_METRICS})
        row.update(run.interval_stats.take())
        if phase == "train":
            row.update(run.drift.measure(run.agent, run.replay))
        run.logger.log("train", row)

    # ------------------------------------------------------------------ the progress bars
    def postfix(self, rate: float | None) -> dict[str, str]:
        postfix = {}
        if self.run.last_eval:
            postfix["eval"] = f"{self.run.last_eval['return_stochastic']:.1f}"
        if rate is not None:
            postfix["env_steps/s"] = f"{rate:.1f}"
        left = updates_left_s(self.run)
        if left is not None:
            postfix["updates left"] = format_duration(left)
        return postfix

    # ------------------------------------------------------------------ Ctrl-C / SIGTERM
    def _install_signal_handler(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def request_stop(signum, frame):
            if self.stop:  # a second Ctrl-C stops at once
                raise KeyboardInterrupt
            self.stop = True

        return {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    @staticmethod
    def _restore_signal_handler(previous) -> None:
        for sig, handler in (previous or {}).items():
            signal.signal(sig, handler)


def updates_left_s(run: LoopRun) -> float | None:
    """The remaining updates of the run's plan (pretraining included) at its timed rates: the ETA that
    the env-step bar cannot give while the model pretrains."""
    plan = run.last_plan
    if plan is None:
        return None
    left = make_plan(run.config, run.progress, plan.total, run.agent.has_model)
    return plan.update_seconds(left.pretrain_updates, left.rl_updates)


def bar_interval() -> float:
    """Progress bars redraw 10 times a second on a terminal, every 30 s into a log file."""
    import sys

    return 0.1 if sys.stderr.isatty() else 30.0

