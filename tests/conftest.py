import os
from pathlib import Path

# `make test` runs two pytest workers (pytest-xdist) on the machine's 2 cores: one torch thread each.
THREADS = str(max(1, 2 // int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))))
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("OMP_NUM_THREADS", THREADS)

import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(int(THREADS))

# So the two workers finish together: the longest files first, dealt alternately to the two halves of
# the collection. pytest-xdist's worksteal hands each worker one contiguous half to start with, so
# the two learning tests (about 225 s and 170 s here) start at once on different workers instead of
# one after the other on the same worker (which made the suite about 90 s longer).
LONGEST_FIRST = ("test_learning.py", "test_sweep.py", "test_reliability.py", "test_discrete.py", "test_onnx.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
    items[:] = items[0::2] + items[1::2]


@pytest.fixture
def tmp_run(tmp_path):
    return tmp_path / "run"


TINY_RUNS = [("s0", ["--seed", "0"]), ("s1", ["--seed", "1"]), ("latent-s0", ["--actor-input", "latent"])]


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """Three real 100-step toy/reach runs with tiny networks: seeds 0 and 1 of slac (with an
    evaluation video each), and seed 0 of the latent-actor variant. Evaluations at 0, 50, 100, each
    with its checkpoint kept (checkpoints/evaluations/, for the studies in scripts/).
    Shared by the workers: tests read them and write elsewhere."""
    from helpers import TINY, built_once

    from slac.cli import main

    args = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]

    def build(root: Path) -> None:
        for name, extra in TINY_RUNS:
            code = main(["train", "--task", "toy/reach", "--steps", "100", "--device", "cpu", "--run-dir",
                         str(root / name), "--no-progress", "--eval-video", "keep_eval_checkpoints=true", *args, *extra])
            assert code == 0

    root = built_once(tmp_path_factory, "tiny_runs", build)
    return [root / name for name, _ in TINY_RUNS]
