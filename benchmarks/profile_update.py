"""Profile one SLAC update at the paper's sizes with torch.profiler: the ops that take the time.

    python benchmarks/profile_update.py [--precision bf16] [--model-only] [--steps 3] [--rows 25]
                                        [--threads 2] [--trace trace.json] [key=value ...]

Builds the agent as `slac bench` does, warms up, then profiles `--steps` updates and prints the
top ops by self CPU time (forward and backward ops are separate rows: backward ops are named
`...Backward`), with the share of the total. `--trace` writes a Chrome trace for a closer look.

Self times are the profiler's attribution, not wall-clock: on this project's CPU it charged an
elementwise backward op that follows a oneDNN call with up to 20x its real time (checked with
timestamps from tensor hooks). Time a candidate with `slac bench` before and after changing it.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from slac.agents.slac import SLACAgent
from slac.config import Config, parse_overrides
from slac.replay import SequenceReplay
from slac.tools.bench import fill_random


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    parser.add_argument("--model-only", action="store_true", help="the pretraining update (eq. 7 only)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--action-dim", type=int, default=6)
    parser.add_argument("--trace", help="write a Chrome trace here")
    parser.add_argument("overrides", nargs="*", help="key=value config overrides, as `slac train`")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    overrides = parse_overrides(args.overrides)
    overrides["precision"] = args.precision
    config = Config.build(overrides=overrides)
    agent = SLACAgent(args.action_dim, config, "cpu")
    replay = SequenceReplay(5_000, (3, 64, 64), args.action_dim, config.seq_len, seed=0)
    fill_random(replay, 4_000, np.random.default_rng(0))
    batch_size = config.model_batch if args.model_only else config.ac_batch
    batches = [replay.sample(batch_size) for _ in range(args.steps + 2)]
    for batch in batches[:2]:
        agent.update(batch, model_only=args.model_only)
    with profile(activities=[ProfilerActivity.CPU], record_shapes=bool(args.trace)) as prof:
        for batch in batches[2:]:
            agent.update(batch, model_only=args.model_only)
    averages = prof.key_averages()
    total = sum(event.self_cpu_time_total for event in averages)
    print(f"{config.precision} {'model-only' if args.model_only else 'full'} update, {args.threads} threads: "
          f"{total / args.steps / 1e6:.3f} s of op time per update")
    print(f"{'op':58s} {'self ms/update':>15s} {'share':>7s} {'calls/update':>13s}")
    for event in sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[: args.rows]:
        print(f"{event.key[:58]:58s} {event.self_cpu_time_total / args.steps / 1e3:15.1f} "
              f"{event.self_cpu_time_total / total:7.1%} {event.count / args.steps:13.0f}")
    if args.trace:
        prof.export_chrome_trace(args.trace)


if __name__ == "__main__":
    main()
