"""Seed streams: every random draw of a run comes from (seed, stream, index), so training, evaluation,
the replay's sampling and the drift probe never share a generator and each is reproducible alone."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch

TRAIN_EPISODES, EVAL_EPISODES, REPLAY, TRAINER, RANDOM_POLICY, EVALUATION, ROLLOUTS, PROBE = range(8)  # the streams


def episode_seed(seed: int, stream: int, *index: int) -> int:
    """Independent, reproducible seeds: stream 0 training episodes, 1 evaluation episodes, ...;
    `index` names the draw within the stream (evaluation episodes: the evaluation's env step, episode)."""
    return int(np.random.SeedSequence([seed, stream, *index]).generate_state(1)[0])


@contextlib.contextmanager
def own_random_stream(device: torch.device, seed: int) -> Iterator[None]:
    """Torch's global generator(s) seeded with `seed` inside the block, restored after it."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield
