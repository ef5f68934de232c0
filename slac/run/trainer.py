"""`SLAC`: a run and everything it owns (env, replay, agent, logs, checkpoints), in the Gymnasium /
Stable-Baselines3 way: `SLAC(env).learn(total_env_steps)`, `act`, `predict`, `policy`, `evaluate`,
`rollouts`, `export`, `save`, `load`. `learn` runs the loop of Algorithm 1 (slac.run.loop): collect
`init_steps` env steps with uniform random actions, pretrain the model for `pretrain_steps` updates,
then per iteration one env step with the policy and `updates_per_step` updates, evaluating every
`eval_interval` env steps. Env steps count after action repeat and include the random collection,
as on the authors' x axis.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import warnings
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from slac.agents import build_agent, observation_kind
from slac.common import faults
from slac.common.checkpoint import (
    checkpoint_path,
    prune_checkpoints,
    remove_partial_checkpoints,
    save_checkpoint,
)
from slac.common.files import write_text_atomic
from slac.common.host import apply_host_settings, resolve_device
from slac.common.seeds import EVALUATION, REPLAY, ROLLOUTS, TRAIN_EPISODES, TRAINER, episode_seed, own_random_stream
from slac.config import Config
from slac.envs import describe_env, discrete_actions, make_env, wrap_env
from slac.envs.wrappers import OneHotActions
from slac.errors import SlacError, SlacWarning, TaskError
from slac.policy.history import History, HistoryPolicy, act_on_history
from slac.policy.predict import predict
from slac.replay import SequenceReplay
from slac.run import state as run_state
from slac.run.callbacks import as_callback
from slac.run.checks import check_disk, claim_run_dir, existing_run, warn_emulated_bf16, warn_memory
from slac.run.drift import DriftProbe
from slac.run.evaluation import random_policy_returns, record_sequence, run_episodes
from slac.run.logging import IntervalExtremes, RunLogger
from slac.run.loop import TrainingLoop
from slac.run.plan import Plan, make_plan, time_updates
from slac.run.progress import Progress
from slac.run.tracking import start_wandb
from slac.run.visualize import model_rollouts

__all__ = ["SLAC", "episode_seed", "random_policy_returns", "resolve_device"]  # defined in slac.common, slac.run.evaluation

def _parameter_bytes(module: torch.nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


class SLAC:
    """A SLAC run. `SLAC("toy/reach", seed=0).learn(20_000)`, or `SLAC(env, config)`.

    `env` is a task name, a Gymnasium env (wrapped to 64x64 pixels if needed) or None (the
    config's task). `run_dir=None` makes `runs/<task>-<model>-s<seed>-<time>/`.
    """

    def __init__(
        self,
        env: str | gym.Env | None = None,
        config: Config | None = None,
        *,
        seed: int | None = None,
        run_dir: str | Path | None = None,
        eval_env: gym.Env | None = None,
        preset: str | None = None,
        on_existing: str = "refuse",
        **overrides: Any,
    ) -> None:
        """`on_existing`: what to do when `run_dir` already holds a run: "refuse" (the default: an
        error naming `--resume`), "move" (move the old run aside to `<run_dir>.replaced-<time>`, never
        delete it), or "continue" (what `SLAC.load` does before restoring the run's state)."""
        if seed is not None:
            overrides["seed"] = seed
        # An env object is the run's task: recorded by its Gymnasium id or `env/<module>:<Class>`
        # (slac.envs.describe_env), so the run directory, config.json and `slac eval` name it.
        task = env if isinstance(env, str) else (describe_env(env) if isinstance(env, gym.Env) else None)
        if config is None:
            config = Config.build(task=task, preset=preset, overrides=overrides)
        elif overrides or task:
            config = config.replace(**overrides, **({"task": task} if task else {}))
        self.config = config
        self._run_dir = Path(run_dir) if run_dir else (Path(config.run_dir) if config.run_dir else None)
        if on_existing not in ("refuse", "move", "continue"):
            raise ValueError(f"on_existing must be 'refuse', 'move' or 'continue', got {on_existing!r}")
        if self._run_dir is not None and on_existing != "continue":
            claim_run_dir(self._run_dir, overwrite=on_existing == "move")
        self.device = resolve_device(config.device)
        apply_host_settings(self.device, config.threads, config.keep_freed_memory, config.tf32)  # once, for the run
        self.env = self._make_env(env)
        self.eval_env = eval_env if eval_env is not None else (self._make_env(None) if not isinstance(env, gym.Env) else None)
        space = self.env.observation_space
        if observation_kind(config) == "pixels" and space.shape != (3, 64, 64):
            raise TaskError(f"the env's observations are {space.shape}; slac's networks need (3, 64, 64) frames")
        self.action_dim = int(self.env.action_space.shape[0])
        self.discrete = discrete_actions(self.env) is not None  # one-hot vectors of `action_dim` choices
        torch.manual_seed(config.seed)
        self.agent = build_agent(config, self.action_dim, self.device, space.shape, discrete=self.discrete)
        self.replay = SequenceReplay(config.replay_capacity, space.shape, self.action_dim, self.agent.seq_len,
                                     seed=episode_seed(config.seed, REPLAY, 0), pin_memory=self.device.type == "cuda",
                                     slack=config.keep_checkpoints * self.frames_per_checkpoint,
                                     frame_dtype=space.dtype)
        self.rng = np.random.default_rng(episode_seed(config.seed, TRAINER, 0))
        self.policy_state = HistoryPolicy(self.agent)
        self.drift = DriftProbe(config.seed)
        self.interval_stats = IntervalExtremes()  # the reward model's extremes over each log interval
        self.progress = Progress(next_checkpoint=config.checkpoint_interval)
        self.last_eval: dict[str, float] = {}
        self.logger: RunLogger | None = None  # the run directory's logs, once opened (`open_logs`)
        self._without_replay = False
        self.stopped_by_callback = False
        self.interrupted = False
        self.checkpoint: Path | None = None  # the checkpoint `SLAC.load` restored, if any
        self.last_plan: Plan | None = None  # what the last `learn` call set out to do

    @property
    def counters(self) -> MappingProxyType:
        """The run's progress as a read-only mapping (`run.counters["env_steps"]`); `run.progress` is the typed one."""
        return MappingProxyType(self.progress.state())

    # ------------------------------------------------------------------ set-up
    @property
    def frames_per_checkpoint(self) -> int:
        """Frames the replay may take between two checkpoints: an interval's agent steps plus an
        eighth for episodes' first frames. More than that forces a checkpoint, so the on-disk
        ring's slack (`keep_checkpoints` times this) keeps every kept checkpoint's frames."""
        config = self.config
        steps = -(-config.checkpoint_interval // config.resolved_action_repeat())
        return min(steps + steps // 8 + 1, config.replay_capacity)

    def _make_env(self, env: str | gym.Env | None) -> gym.Env:
        config = self.config
        kind = observation_kind(config)
        if isinstance(env, gym.Env):
            space = env.observation_space
            ready = (space.shape == (3, 64, 64) and space.dtype == np.uint8) if kind == "pixels" else (
                len(space.shape) == 1 and space.dtype == np.float32)
            if ready and not isinstance(env.action_space, gym.spaces.Discrete):
                return env
            if ready and config.action_repeat in (None, 1):  # only the actions need wrapping: one-hot vectors
                return OneHotActions(env)
            return wrap_env(env, image_size=config.image_size, action_repeat=config.action_repeat or 1, observation=kind)
        return make_env(config.task, image_size=config.image_size, action_repeat=config.resolved_action_repeat(),
                        fast_render=config.fast_render, observation=kind, sticky_actions=config.atari_sticky_actions)

    @property
    def run_dir(self) -> Path:
        if self._run_dir is None:
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            agent = self.config.model if self.config.agent == "slac" else self.config.agent
            name = f"{re.sub(r'[^A-Za-z0-9_.-]+', '_', self.config.task)}-{agent}-s{self.config.seed}-{stamp}"
            path, count = Path("runs") / name, 1
            while existing_run(path) is not None:  # two runs started in the same second
                count += 1
                path = Path("runs") / f"{name}-{count}"
            self._run_dir = path
        return self._run_dir

    def open_logs(self, resumed: dict[str, int] | None = None) -> None:
        """Open the run directory's logs (config.json, the replay files, metrics.csv, eval.csv, TensorBoard);
        `resumed`: the progress of the checkpoint a resumed run starts from (rows logged after it are dropped)."""
        if self._without_replay:
            raise SlacError(f"{self.run_dir} was loaded without its replay (replay=False); load it with replay=True "
                            "to train it")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.run_dir / "config.json", json.dumps(self.config.to_dict(), indent=2) + "\n")
        self.replay.persist(self.run_dir / "replay")
        tracker = start_wandb(self.config, self.run_dir) if self.config.wandb_project else None
        self.logger = RunLogger(self.run_dir, resumed=resumed, tracker=tracker)

    # ------------------------------------------------------------------ acting
    def policy(self) -> HistoryPolicy:
        """A fresh history policy: `a = p.reset(obs)`, then `a = p.step(obs)` after each env step."""
        return HistoryPolicy(self.agent)

    def act(self, frames: np.ndarray, actions: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Action for an explicit history: 8 frames (3, 64, 64) uint8 and the 7 actions between them."""
        return act_on_history(self.agent, frames, actions, deterministic)

    def predict(self, obs: np.ndarray, state: History | None = None, episode_start: np.ndarray | None = None,
                deterministic: bool = False) -> tuple[np.ndarray, History]:
        """Stable-Baselines3's predict: actions for obs (3, 64, 64) or (N, 3, 64, 64) and the history
        state to pass back; `episode_start[i]` restarts row i's history (slac.policy.predict)."""
        return predict(self.agent, obs, state, episode_start, deterministic)

    def evaluate(self, episodes: int | None = None, deterministic: bool = False, env: gym.Env | None = None,
                 record: list | None = None, record_episodes: int | None = None,
                 view_size: int | None = None) -> np.ndarray:
        """Returns of `episodes` evaluation episodes, their starts drawn from the seed and the run's
        env step (slac.run.evaluation.run_episodes; `record`, `record_episodes` and `view_size` as there)."""
        env = env or self.eval_env or self.env
        episodes = self.config.eval_episodes if episodes is None else episodes
        step = self.progress.env_steps
        with own_random_stream(self.device, episode_seed(self.config.seed, EVALUATION, step)):
            return run_episodes(self.agent, env, self.config.seed, episodes, deterministic, record, record_episodes,
                                view_size, evaluation=step)

    def rollouts(self, episodes: int = 1, steps: int | None = None) -> list[list[np.ndarray]]:
        """The model's view of `episodes` evaluation episodes (`slac.run.visualize.model_rollouts` rows: ground
        truth, posterior, prior given frame 1, prior only) over their first `steps` + 1 frames
        (default 2 x seq_len: the model's training window and as far again open loop)."""
        if not self.agent.has_model:
            raise SlacError(f"agent {self.config.agent} has no latent model to roll out (only slac has one)")
        env = self.eval_env or self.env
        steps = steps or 2 * self.config.seq_len
        with own_random_stream(self.device, episode_seed(self.config.seed, ROLLOUTS, self.progress.env_steps)):
            sequences = [record_sequence(self.agent, env, self.config.seed, k, steps) for k in range(episodes)]
            length = min(len(frames) for frames, _ in sequences)
            return [model_rollouts(self.agent, frames[:length], actions[: length - 1]) for frames, actions in sequences]

    # ------------------------------------------------------------------ training
    def plan(self, total_env_steps: int, timed: bool = True) -> Plan:
        """What training to `total_env_steps` (the run's count) will do from here (slac.run.plan):
        random env steps, pretraining and RL updates, evaluations; with `timed`, the update times
        measured on a copy of the agent (the run itself is untouched)."""
        plan = make_plan(self.config, self.progress, total_env_steps, self.agent.has_model)
        if timed:
            shape = tuple(self.replay.frame_shape)
            for kind, count, model_only in (("pretrain_update_s", plan.pretrain_updates, True),
                                            ("rl_update_s", plan.rl_updates, False)):
                if count:
                    setattr(plan, kind, time_updates(self.agent, self.config, shape, model_only))
        return plan

    def learn(self, total_env_steps: int | None = None, progress: bool = True, callback: Any = None,
              reset_num_timesteps: bool = True, announce: bool | None = None) -> SLAC:
        """Train `total_env_steps` more env steps (with `reset_num_timesteps=False`: until the run has
        `total_env_steps`; with None: until config.steps), then checkpoint: the loop of Algorithm 1
        (slac.run.loop). The env-step count is never reset: it is the x axis of every curve.
        `callback`: see slac.run.callbacks; a hook that returns False stops training cleanly, with a
        checkpoint. `announce` (default: as `progress`) prints the plan (`SLAC.plan`, its updates
        timed) first; a plan that makes no update warns either way, one that spends most of its
        time pretraining when it was timed."""
        config, p = self.config, self.progress
        if total_env_steps is None:
            total = config.steps
        else:
            total = int(total_env_steps) + (p.env_steps if reset_num_timesteps else 0)
        shown = progress if announce is None else announce
        self.last_plan = self.plan(total, timed=shown)  # the updates are timed for what is shown
        if shown:
            print(self.last_plan.describe(), file=sys.stderr)
        for message in self.last_plan.warnings():
            warnings.warn(message, SlacWarning, stacklevel=2)
        warn_memory(self.replay.nbytes)
        warn_emulated_bf16(config.precision, self.device.type)
        check_disk(self.run_dir, self.replay.nbytes, _parameter_bytes(self.agent) * 3, config.keep_checkpoints)
        remove_partial_checkpoints(self.run_dir)
        if self.logger is None:
            self.open_logs()
        loop = TrainingLoop(self, total, progress, as_callback(callback))
        self.stopped_by_callback = False
        try:
            loop.train()
        finally:
            self.stopped_by_callback = loop.stopped_by_callback
            self.interrupted = loop.stop and not loop.stopped_by_callback
        return self

    def random_action(self) -> np.ndarray:
        """Uniform random actions for the collection before learning: in [-1, 1], or a one-hot choice."""
        if self.discrete:
            return np.eye(self.action_dim, dtype=np.float32)[self.rng.integers(self.action_dim)]
        return self.rng.uniform(-1, 1, self.action_dim).astype(np.float32)

    def start_episode(self) -> None:
        """Reset the training env for the next training episode (its start drawn from the seed and the episode's number)."""
        p = self.progress
        obs, _ = self.env.reset(seed=episode_seed(self.config.seed, TRAIN_EPISODES, p.episodes))
        self.replay.start_episode(obs)
        self.policy_state.start(obs)
        p.in_episode, p.episode_return = True, 0.0

    def env_step(self, action: np.ndarray) -> tuple[bool, int]:
        """One agent step of the training env, into the replay and the policy's history: (episode ended, env steps taken)."""
        p = self.progress
        faults.inject("env_step")
        obs, reward, terminated, truncated, info = self.env.step(action)
        inner = int(info.get("env_steps", 1))
        p.env_steps += inner
        p.agent_steps += 1
        p.episode_return += float(reward)
        self.replay.add(action, reward, obs, bool(terminated))
        self.policy_state.observe(action, obs)
        done = bool(terminated or truncated)
        if done:
            p.episodes += 1
            p.in_episode = False
            p.last_train_return = p.episode_return
        return done, inner

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """Everything a run needs to continue exactly: tensors, and JSON metadata (slac.run.state)."""
        return run_state.capture(self)

    def save(self, path: str | Path | None = None) -> Path:
        """Flush the replay files, then write a checkpoint atomically (default: the run's
        checkpoints/ folder, old ones pruned). The checkpoint holds no frames: it records where
        the run's `replay/` files stood, and resumes from them."""
        if self._without_replay:
            raise SlacError("a run loaded with replay=False cannot write a checkpoint (it would lack the replay)")
        self.replay.persist(self.run_dir / "replay")
        self.replay.flush()
        tensors, meta = self.state()
        target = Path(path) if path else checkpoint_path(self.run_dir, self.progress.env_steps)
        save_checkpoint(target, tensors, meta)
        if path is None:
            prune_checkpoints(self.run_dir, self.config.keep_checkpoints,
                              warn=lambda message: warnings.warn(message, SlacWarning, stacklevel=3))
        return target

    def load_state(self, tensors: dict[str, Any], meta: dict[str, Any], replay: bool = True) -> None:
        """Continue from a checkpoint's (tensors, meta) (slac.run.state.restore)."""
        run_state.restore(self, tensors, meta, replay)

    @classmethod
    def load(cls, run_dir: str | Path, *, checkpoint: str | Path | None = None, device: str | None = None,
             replay: bool = True, env: gym.Env | None = None, **overrides: Any) -> SLAC:
        """Rebuild a run from its latest (or a given) checkpoint; `overrides` change its config (e.g.
        steps). With `replay=False` only the checkpoint file is read: the run acts, evaluates and
        exports, but cannot train or save. `env`: the env object a run trained on when it cannot be
        made by name (a run recorded as `env/<module>:<Class>`, or an unregistered Gymnasium id)."""
        make = cls if env is None else functools.partial(cls, env)
        run = run_state.load(make, run_dir, checkpoint=checkpoint, device=device, replay=replay, **overrides)
        run._without_replay = not replay
        if replay:
            run.open_logs(resumed=run.progress.state())
        return run

    def export(self, path: str | Path) -> Path:
        """Write the policy alone (`slac.load_policy(path)` acts with it): no critics, optimisers or replay."""
        from slac.policy.export import export_policy

        p = self.progress
        info = {"task": self.config.task, "run_dir": str(self.run_dir), "env_steps": p.env_steps,
                "updates": p.updates, "pretrain_updates": p.pretrain_updates}
        return export_policy(self.agent, path, info)

    def close(self) -> None:
        for env in {id(e): e for e in (self.env, self.eval_env) if e is not None}.values():
            env.close()
        if self.logger is not None:
            self.logger.close()
