"""Soak test (slow, not part of `make test`): train toy/reach for a long time and check that memory
stays flat and throughput does not decay.

    SLAC_SOAK_MINUTES=30 .venv/bin/python -m pytest -m slow tests/run/test_soak.py -s

Small networks; the replay holds 4,000 transitions so it is full after the first minutes, and
from then on the process should neither grow nor slow down. Each learn() call of 1,000 env steps
also evaluates and writes a checkpoint, so those paths are soaked too.
"""

import os
import time
from pathlib import Path

import numpy as np
import pytest

from slac.run.trainer import SLAC


def rss_mb() -> float:
    """Current resident set size of this process (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.slow
def test_memory_stays_flat_and_throughput_does_not_decay(tmp_path):
    minutes = float(os.environ.get("SLAC_SOAK_MINUTES", "30"))
    run = SLAC("toy/reach", preset="small", run_dir=tmp_path / "soak", device="cpu", replay_capacity=4_000,
               init_steps=500, pretrain_steps=200, eval_interval=1_000, eval_episodes=2, checkpoint_interval=1_000,
               log_interval=500, steps=10**9)
    chunk, total = 1_000, 0
    samples = []  # (env steps, RSS MB, env steps per second)
    deadline = time.monotonic() + minutes * 60
    while time.monotonic() < deadline:
        start = time.perf_counter()
        total += chunk
        run.learn(total, progress=False, reset_num_timesteps=False)
        samples.append((total, rss_mb(), chunk / (time.perf_counter() - start)))
        print(f"soak: {samples[-1][0]} env steps, {samples[-1][1]:.0f} MB, {samples[-1][2]:.0f} steps/s", flush=True)
    run.close()
    steady = [s for s in samples if s[0] > 2 * run.config.replay_capacity]  # replay full, warm-up over
    assert len(steady) >= 4, f"soak too short to judge: {len(samples)} samples; raise SLAC_SOAK_MINUTES"
    steps, rss, rate = (np.array(column, dtype=float) for column in zip(*steady))
    growth_per_1k = np.polyfit(steps / 1000, rss, 1)[0]  # MB per 1,000 env steps after warm-up
    assert growth_per_1k * (steps[-1] - steps[0]) / 1000 < 0.05 * rss[0] + 20, f"memory grew: {rss.round()} MB"
    quarter = max(len(rate) // 4, 1)
    assert rate[-quarter:].mean() > 0.8 * rate[:quarter].mean(), f"throughput decayed: {rate.round()} steps/s"
