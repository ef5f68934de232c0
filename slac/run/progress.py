"""A run's progress: the counters of Algorithm 1's loop, typed, saved in every checkpoint."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass
class Progress:
    """Where a run stands. Env steps count after action repeat and include the random collection
    (the x axis of every curve); `updates` counts RL updates, `pretrain_updates` the model's
    pretraining ones."""

    env_steps: int = 0
    agent_steps: int = 0
    updates: int = 0
    pretrain_updates: int = 0
    episodes: int = 0  # training episodes finished
    episode_return: float = 0.0  # of the training episode under way
    in_episode: bool = False  # a training episode is under way (a resumed run continues it)
    next_eval: int = 0  # env step of the next evaluation
    next_checkpoint: int = 0  # env step from which the next regular checkpoint is taken (at an episode's end)
    last_train_return: float | None = None  # of the last training episode that finished
    last_eval_step: int = -1  # env step of the last evaluation (-1: none yet)

    def state(self) -> dict[str, Any]:
        """A checkpoint's `counters`: a plain dict (JSON)."""
        return dataclasses.asdict(self)

    def load_state(self, state: dict[str, Any]) -> None:
        """From a checkpoint's `counters` (keys this version does not know are refused by name)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(state) - known)
        if unknown:
            raise ValueError(f"unknown progress counters {unknown}")
        for name, value in state.items():
            setattr(self, name, value)
