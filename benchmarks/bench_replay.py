"""Replay buffer memory per transition and time to sample 256 windows of 8 transitions (9 frames).

Prints one JSON line.  python benchmarks/bench_replay.py [--capacity 100000] [--repeats 50]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from slac.replay import SequenceReplay


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--capacity", type=int, default=100_000)
    parser.add_argument("--fill", type=int, default=100_000, help="transitions written before sampling")
    parser.add_argument("--action-dim", type=int, default=6)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()

    buffer = SequenceReplay(args.capacity, (3, 64, 64), args.action_dim, seq_len=8, seed=0)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (64, 3, 64, 64), dtype=np.uint8)
    episode = 250  # a DMC episode at action repeat 4
    start = time.perf_counter()
    for i in range(args.fill):
        if i % episode == 0:
            buffer.start_episode(frames[i % 64])
        buffer.add(rng.uniform(-1, 1, args.action_dim).astype(np.float32), 1.0, frames[(i + 1) % 64], False)
    fill_s = time.perf_counter() - start

    for _ in range(3):
        buffer.sample(args.batch)
    times = []
    for _ in range(args.repeats):
        t = time.perf_counter()
        batch = buffer.sample(args.batch)
        times.append(time.perf_counter() - t)
    pinned = None
    if torch.cuda.is_available():
        t = time.perf_counter()
        for _ in range(args.repeats):
            buffer.sample(args.batch).to("cuda", non_blocking=True)
        torch.cuda.synchronize()
        pinned = (time.perf_counter() - t) / args.repeats

    essential = 3 * 64 * 64 + 4 * args.action_dim + 4 + 1
    print(json.dumps({
        "benchmark": "replay",
        "capacity": args.capacity,
        "bytes_per_transition": round(buffer.nbytes / buffer.capacity, 1),
        "essential_bytes_per_transition": essential,
        "overhead_percent": round(100 * (buffer.nbytes / buffer.capacity / essential - 1), 3),
        "total_gib": round(buffer.nbytes / 2**30, 3),
        "sample_batch": args.batch,
        "sample_frames": int(np.prod(batch.images.shape[:2])),
        "sample_ms_median": round(1000 * float(np.median(times)), 2),
        "sample_to_cuda_ms": None if pinned is None else round(1000 * pinned, 2),
        "add_us_per_transition": round(1e6 * fill_s / args.fill, 2),
    }))


if __name__ == "__main__":
    main()
