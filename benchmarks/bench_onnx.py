"""ONNX export at the paper's sizes: file size, the largest action difference between ONNX Runtime and
PyTorch, and the acting time per env step of each (median of `--steps` steps after a warm-up).

PyTorch is timed as slac acts (`HistoryPolicy`: one new frame encoded per step, the other seven
cached) and re-encoding the whole history, which is what the single ONNX graph does every step.
One JSON line per agent on stdout.
    python benchmarks/bench_onnx.py [--agents slac,sac-pixels,sac-state] [--steps 200] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from slac.agents import build_agent
from slac.config import Config
from slac.policy.history import HistoryPolicy
from slac.policy.onnx import DEFAULT_OPSET, check_onnx, example_inputs, write_onnx

ACTIONS = 6  # cheetah-run's
STATE = 17  # cheetah-run's state vector


def median_ms(step, steps: int) -> float:
    for _ in range(10):
        step()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(agent_name: str, steps: int, threads: int) -> dict:
    config = Config.build(task="dmc/cheetah-run", overrides={"agent": agent_name, "device": "cpu"})
    agent = build_agent(config, ACTIONS, "cpu", (STATE,) if agent_name == "sac-state" else (3, 64, 64)).eval()
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        path = write_onnx(agent, Path(folder) / "policy.onnx", {"task": config.task}, DEFAULT_OPSET)
        size = path.stat().st_size
        difference = check_onnx(agent, path, batch=16)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        feed = {name: (rng.integers(0, 256, like.shape, dtype=np.uint8) if like.dtype == torch.uint8
                       else rng.standard_normal(like.shape).astype(np.float32))
                for name, like in example_inputs(agent, batch=1).items()}
        onnx_ms = median_ms(lambda: session.run(["action_stochastic"], feed), steps)
    policy = HistoryPolicy(agent)
    pool = [rng.integers(0, 256, (3, 64, 64), dtype=np.uint8) if agent_name != "sac-state"
            else rng.standard_normal(STATE).astype(np.float32) for _ in range(16)]  # distinct frames
    policy.start(pool[0])
    action = np.zeros(ACTIONS, np.float32)
    count = [0]

    def torch_step() -> None:  # slac's acting: the new frame encoded, the rest cached
        count[0] += 1
        policy.observe(action, pool[count[0] % len(pool)])
        policy.act()

    def torch_whole_history() -> None:
        policy.forget_features()
        policy.act()

    return {"agent": agent_name, "onnx_mb": round(size / 2**20, 2), "largest_difference": difference,
            "onnx_ms": round(onnx_ms, 2), "torch_ms": round(median_ms(torch_step, steps), 2),
            "torch_whole_history_ms": round(median_ms(torch_whole_history, steps), 2), "threads": threads}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="slac,sac-pixels,sac-state")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for name in args.agents.split(","):
        print(json.dumps(measure(name, args.steps, args.threads)), flush=True)


if __name__ == "__main__":
    main()
