"""Aggregate statistics over seeds and tasks, as `rliable` (Agarwal et al., NeurIPS 2021) defines them.

rliable itself does not import beside this project's pins (its `arch` dependency fails with
pandas 3), so the two estimators slac reports are written here: the interquartile mean and
percentile bootstrap intervals, stratified by task.
"""

from __future__ import annotations

import numpy as np


def iqm(scores: np.ndarray) -> float:
    """Interquartile mean: the mean of the middle 50% of all scores (runs x tasks, flattened),
    trimming 25% at each end as scipy.stats.trim_mean(scores, 0.25) does."""
    flat = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    cut = int(0.25 * flat.size)
    return float(flat[cut: flat.size - cut].mean())


def bootstrap_ci(values: np.ndarray, statistic=np.mean, reps: int = 2000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of `statistic` over the rows of `values` (e.g. seeds)."""
    values = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(values), (reps, len(values)))
    stats = np.array([statistic(values[p]) for p in picks])
    return _percentiles(stats, level)


def stratified_bootstrap_ci(scores_per_task: list[np.ndarray], statistic=iqm, reps: int = 2000,
                            level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """rliable's stratified bootstrap: each replicate resamples the runs within every task (with
    replacement), then applies `statistic` to all resampled scores together."""
    rng = np.random.default_rng(seed)
    tasks = [np.asarray(s, dtype=np.float64) for s in scores_per_task]
    stats = np.empty(reps)
    for r in range(reps):
        stats[r] = statistic(np.concatenate([s[rng.integers(0, len(s), len(s))] for s in tasks]))
    return _percentiles(stats, level)


def _percentiles(stats: np.ndarray, level: float) -> tuple[float, float]:
    low, high = np.percentile(stats, [50 * (1 - level), 50 * (1 + level)])
    return float(low), float(high)
