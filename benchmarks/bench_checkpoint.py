"""Checkpoint cost at the paper's replay capacity: write time, bytes written per 10K env steps,
peak extra memory while saving, and the time `slac eval` takes to load a run.

The buffer is filled with random frames written straight into the replay (no env steps), one
update gives the optimisers their state, then one checkpoint is saved; then 10,000 env steps'
worth of frames (2,500 at action repeat 4) are added and a second checkpoint is saved, and the
bytes this process wrote to storage over that period are reported (`/proc/self/io` write_bytes,
which counts pages as they are dirtied, mapped or not). Prints one JSON line.

    python benchmarks/bench_checkpoint.py [--capacity 100000] [--run-dir /tmp/bench-ckpt]
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path

import numpy as np

from slac import SLAC


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


def write_bytes() -> int:
    with open("/proc/self/io") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("write_bytes"))


class PeakMemory:
    """Highest resident set size seen (sampled every millisecond) while the block runs."""

    def __enter__(self) -> PeakMemory:
        self.base = self.peak = rss_bytes()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def _watch(self) -> None:
        while not self._done.wait(0.001):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def extra(self) -> int:
        return self.peak - self.base


def fill(run: SLAC, frames: int, rng: np.random.Generator, episode: int = 250) -> None:
    """Write `frames` random frames into the run's replay as episodes of `episode` transitions."""
    pool = rng.integers(0, 256, (64, 3, 64, 64), dtype=np.uint8)
    replay, p = run.replay, run.progress
    for i in range(frames):
        if p.agent_steps % episode == 0:
            replay.start_episode(pool[i % 64])
            p.episodes += 1
        replay.add(rng.uniform(-1, 1, run.action_dim).astype(np.float32), 0.0, pool[(i + 1) % 64], False)
        p.agent_steps += 1
        p.env_steps += run.config.resolved_action_repeat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--capacity", type=int, default=100_000)
    parser.add_argument("--task", default="dmc/cheetah-run")
    parser.add_argument("--run-dir", default="/tmp/slac-bench-checkpoint")
    args = parser.parse_args()

    run_dir = Path(args.run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)
    run = SLAC(args.task, run_dir=run_dir, replay_capacity=args.capacity, device="cpu")
    run.open_logs()  # what learn() does first: the run directory exists
    rng = np.random.default_rng(0)
    fill(run, args.capacity, rng)
    run.agent.update(run.replay.sample(run.config.ac_batch))  # the optimisers hold their state, as in a run

    start = time.perf_counter()
    with PeakMemory() as memory:
        first = run.save()
    save_s = time.perf_counter() - start

    interval_frames = 10_000 // run.config.resolved_action_repeat()
    before = write_bytes()
    fill(run, interval_frames, rng)
    second = run.save()
    written = write_bytes() - before

    run.close()
    start = time.perf_counter()
    loaded = SLAC.load(run_dir, replay=False)  # what `slac eval` and `slac visualize` do
    load_s = time.perf_counter() - start
    loaded.close()
    files = sorted(p for p in run_dir.rglob("*") if p.is_file())
    print(json.dumps({
        "capacity": args.capacity,
        "replay_bytes": run.replay.nbytes,
        "checkpoint_write_s": round(save_s, 3),
        "checkpoint_file_bytes": second.stat().st_size,
        "bytes_written_per_10k_env_steps": written,
        "peak_extra_memory_while_saving_bytes": memory.extra,
        "eval_load_s": round(load_s, 3),
        "run_dir_bytes": sum(p.stat().st_size for p in files),
        "first_checkpoint": first.name,
    }))


if __name__ == "__main__":
    main()
