"""Frames per second for env step + 64x64 render, per task and rendering mode.

Counts agent steps (one rendered frame each) and env steps (after action repeat). Prints one
JSON line per task and a last line with all results.
    python benchmarks/bench_env.py [--tasks dmc/cheetah-run,gym/HalfCheetah-v5] [--steps 300]
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402

from slac.envs import make_env  # noqa: E402


def measure(task: str, steps: int, fast_render: bool, action_repeat: int | None) -> dict:
    env = make_env(task, seed=0, fast_render=fast_render, action_repeat=action_repeat)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(10):  # warm-up: first render creates the GL context
        env.step(rng.uniform(-1, 1, env.action_space.shape))
    env_steps = 0
    start = time.perf_counter()
    for _ in range(steps):
        _, _, terminated, truncated, info = env.step(rng.uniform(-1, 1, env.action_space.shape))
        env_steps += info["env_steps"]
        if terminated or truncated:
            env.reset()
    elapsed = time.perf_counter() - start
    env.close()
    return {
        "task": task,
        "fast_render": fast_render,
        "action_repeat": env.get_wrapper_attr("repeat"),
        "frames_per_s": round(steps / elapsed, 1),
        "env_steps_per_s": round(env_steps / elapsed, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tasks", default="dmc/cheetah-run,gym/HalfCheetah-v5,toy/reach")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    results = []
    for task in args.tasks.split(","):
        for fast in (False, True):
            if task.startswith("toy/") and fast:
                continue
            for repeat in (1, None):
                result = measure(task, args.steps, fast, repeat)
                print(json.dumps(result), flush=True)
                results.append(result)
    print(json.dumps({"benchmark": "env_step_render_64px", "results": results}))


if __name__ == "__main__":
    main()
