"""Small configs, synthetic batches and shared fixtures' plumbing for fast tests."""

import os
import shutil
from pathlib import Path

import numpy as np

from slac.config import Config
from slac.replay import SequenceReplay

REPO = Path(__file__).resolve().parents[1]  # the repository: README.md, examples/, tests/fixtures/

TINY = {
    "task": "toy/reach", "encoder_depth": 4, "feature_dim": 16, "z1_dim": 4, "z2_dim": 8, "hidden_dim": 16,
    "ac_hidden_dim": 16, "model_batch": 4, "ac_batch": 8, "replay_capacity": 500, "init_steps": 30,
    "pretrain_steps": 5, "eval_interval": 50, "eval_episodes": 1, "log_interval": 10, "checkpoint_interval": 60,
    "device": "cpu",
}


def tiny_config(**changes) -> Config:
    return Config.from_dict({**TINY, **changes})


def filled_replay(action_dim=2, episodes=(20, 7, 30), capacity=200, seed=0, terminal_last=False) -> SequenceReplay:
    rng = np.random.default_rng(seed)
    buffer = SequenceReplay(capacity, (3, 64, 64), action_dim, seq_len=8, seed=seed)
    for length in episodes:
        buffer.start_episode(rng.integers(0, 256, (3, 64, 64), dtype=np.uint8))
        for t in range(length):
            buffer.add(rng.uniform(-1, 1, action_dim).astype(np.float32), float(rng.normal()),
                       rng.integers(0, 256, (3, 64, 64), dtype=np.uint8), terminal_last and t == length - 1)
    return buffer


# mutmut's names for the runs of the unmutated code (its stats and clean runs); any other value is a mutant
UNMUTATED = ("", "stats", "fail", "list_all_tests", "mutant_generation")


def built_once(tmp_path_factory, name: str, build) -> Path:
    """`build(directory)` run once per test session, its directory shared by the xdist workers (the
    first to ask builds it under a file lock, the others wait and read it). For read-only fixtures.
    Under mutmut (`make mutate`) the fixture is built once by the unmutated code and read by every
    mutant's run: a mutant is judged by the tests, not by the runs the tests read."""
    from filelock import FileLock

    mutant = os.environ.get("MUTANT_UNDER_TEST")
    if mutant is not None:
        directory = REPO / ".fixtures" / name  # inside mutmut's copy of the repository (mutants/)
        directory.parent.mkdir(exist_ok=True)
    elif os.environ.get("PYTEST_XDIST_WORKER") is None:
        directory = tmp_path_factory.mktemp(name)
        build(directory)
        return directory
    else:
        directory = tmp_path_factory.getbasetemp().parent / name  # the session's directory, above each worker's
    with FileLock(f"{directory}.lock"):
        if (directory / ".built").is_file():
            return directory
        if mutant not in (None, *UNMUTATED):  # never keep a fixture a mutant built
            directory = tmp_path_factory.mktemp(name)
            build(directory)
            return directory
        shutil.rmtree(directory, ignore_errors=True)  # a worker that failed half-way
        directory.mkdir()
        build(directory)
        (directory / ".built").touch()
    return directory


def fit_fixed_batch(model, batch, steps: int = 40, check=None) -> tuple[float, float]:
    """The model loss (eq. 7) on one fixed batch before and after `steps` Adam steps (lr 1e-3) on it;
    `check(latents)` is called on every posterior."""
    import torch

    images = batch.images.float() / 255
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss():
        latents = model.posterior(model.encode(images), batch.actions, batch.resets)
        if check is not None:
            check(latents)
        return model.loss(images, batch.actions, batch.rewards, batch.mask, batch.frame_mask, latents)["model_loss"]

    first = loss().item()
    for _ in range(steps):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    return first, loss().item()
