"""How far the representation moves under the critic: a fixed probe batch of replay windows,
measured at every training log row and compared with the previous row.

SLAC's critic learns on latent samples and its actor on encoder features while the model that
makes both keeps training. If a policy falls after its first successes, these numbers say whether
the features, the latent samples or the predicted rewards moved first, or only the Q-values.
The probe's windows are drawn once with a generator of their own (training samples the same
batches with or without it) and its latent samples use fixed noise, so a row's drift is the
change of the networks alone. Features and latents drift as RMS(change) / RMS(previous); predicted
rewards and min-Q in their own units, as RMS(change).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from slac.common.seeds import PROBE, episode_seed, own_random_stream
from slac.replay import SequenceReplay

PROBE_WINDOWS = 32
RELATIVE = ("features", "latents")  # drift relative to the previous size; the rest in their own units


class DriftProbe:
    """The probe windows (absolute replay indices) and the agent's outputs on them at the last row."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.ends: np.ndarray | None = None
        self.previous: dict[str, torch.Tensor] | None = None

    def measure(self, agent: Any, replay: SequenceReplay) -> dict[str, float]:
        """`drift_<name>` for every output of `agent.probe` since the last call (none on the first,
        or after the ring overwrote a probe window and new windows were drawn)."""
        if self.ends is None or not replay.valid(self.ends).all():
            rng = np.random.default_rng(episode_seed(self.seed, PROBE, replay.total))
            self.ends, self.previous = replay.sample_ends(PROBE_WINDOWS, rng=rng), None
        with own_random_stream(agent.device, episode_seed(self.seed, PROBE, 0)):
            current = {name: value.float().cpu() for name, value in agent.probe(replay.gather(self.ends)).items()}
        drift = {}
        if self.previous is not None:
            for name, value in current.items():
                change = (value - self.previous[name]).pow(2).mean().sqrt()
                if name in RELATIVE:
                    change = change / self.previous[name].pow(2).mean().sqrt().clamp(min=1e-12)
                drift[f"drift_{name}"] = float(change)
        self.previous = current
        return drift

    def state(self) -> tuple[dict[str, torch.Tensor], list[int] | None]:
        """(tensors, window ends) for a checkpoint, so a resumed run's next row compares as this one's would."""
        return dict(self.previous or {}), None if self.ends is None else [int(e) for e in self.ends]

    def load_state(self, previous: dict[str, torch.Tensor], ends: list[int] | None) -> None:
        self.ends = None if ends is None else np.asarray(ends, dtype=np.int64)
        self.previous = dict(previous) if previous else None
