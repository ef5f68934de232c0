"""Time SLAC's updates at the paper's sizes on the current device.

Measures, after warm-up: a model-only update (eq. 7 on `model_batch` windows, as in
pretraining), a full update (all four losses on one batch of `ac_batch` windows, the model loss
on its first `model_batch`), and a whole iteration (one toy env step with the policy, replay
sampling, one full update). Prints one JSON line last.
    python benchmarks/bench_update.py [--repeats 5] [--threads 2] [--preset paper|small]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from slac.agent import SLACAgent
from slac.config import Config
from slac.replay import SequenceReplay
from slac.trainer import SLAC, resolve_device


def fill(replay: SequenceReplay, action_dim: int, transitions: int, rng: np.random.Generator) -> None:
    frames = rng.integers(0, 256, (32, 3, 64, 64), dtype=np.uint8)
    for i in range(transitions):
        if i % 250 == 0:
            replay.start_episode(frames[i % 32])
        replay.add(rng.uniform(-1, 1, action_dim).astype(np.float32), 0.5, frames[(i + 1) % 32], False)


def timed(fn, repeats: int, device: torch.device) -> float:
    fn()  # warm-up
    fn()
    times = []
    for _ in range(repeats):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--preset", default="paper")
    parser.add_argument("--action-dim", type=int, default=6, help="6 = cheetah-run")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    config = Config.build(task="toy/reach", preset=args.preset, overrides={"device": str(device)})
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    agent = SLACAgent(args.action_dim, config, device)
    replay = SequenceReplay(5_000, (3, 64, 64), args.action_dim, config.seq_len, seed=0)
    fill(replay, args.action_dim, 4_000, rng)

    model_s = timed(lambda: agent.update(replay.sample(config.model_batch), model_only=True), args.repeats, device)
    update_s = timed(lambda: agent.update(replay.sample(config.ac_batch)), args.repeats, device)
    sample_s = timed(lambda: replay.sample(config.ac_batch), args.repeats, device)

    run = SLAC("toy/reach", config=config.replace(replay_capacity=5_000, init_steps=0, pretrain_steps=0,
                                                   eval_interval=10**9, checkpoint_interval=10**9),
               run_dir="/tmp/slac-bench-run")
    run.env = run.env  # toy env: stepping costs microseconds, the figure is the learner's
    fill(run.replay, 2, 300, rng)
    run.agent = SLACAgent(2, run.config, device)
    run.policy_state = run.policy()
    obs, _ = run.env.reset(seed=0)
    run.policy_state.start(obs)

    def iteration():
        action = run.policy_state.act()
        obs, reward, terminated, truncated, _ = run.env.step(action)
        run.policy_state.observe(action, obs)
        run.agent.update(run.replay.sample(config.ac_batch))
        if terminated or truncated:
            run.policy_state.start(run.env.reset()[0])

    iteration_s = timed(iteration, args.repeats, device)

    def act():
        run.policy_state.observe(np.zeros(2, np.float32), obs)
        run.policy_state.act()

    act_s = timed(act, 20, device)
    print(json.dumps({
        "benchmark": "update", "preset": args.preset, "device": str(device), "dtype": "float32",
        "threads": torch.get_num_threads(), "model_batch": config.model_batch, "ac_batch": config.ac_batch,
        "model_update_s": round(model_s, 4), "full_update_s": round(update_s, 4),
        "actor_critic_update_s": round(update_s - model_s, 4),
        "iteration_s": round(iteration_s, 4), "iterations_per_s": round(1 / iteration_s, 3),
        "replay_sample_s": round(sample_s, 4), "act_s": round(act_s, 5),
    }))


if __name__ == "__main__":
    main()
