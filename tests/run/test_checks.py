"""The checks a run makes before it works: the disk, with the credit a resumed run's own files give,
and the memory warning."""

import shutil
from collections import namedtuple

import numpy as np
import pytest

from slac.errors import SlacError, SlacWarning
from slac.run import checks
from slac.run.checks import check_disk, warn_memory

GiB = 2**30
Usage = namedtuple("Usage", "total used free")


def test_the_disk_check_counts_what_a_resumed_run_already_holds(tmp_path, monkeypatch):
    run_dir = tmp_path / "run"
    (run_dir / "replay").mkdir(parents=True)
    (run_dir / "checkpoints").mkdir()
    monkeypatch.setattr(shutil, "disk_usage", lambda path: Usage(100 * GiB, 99 * GiB, 1 * GiB))
    # a new run: 0.5 GiB of replay and 2 + 1 checkpoints of 0.25 GiB need 1.25 GiB; 1 GiB is free
    with pytest.raises(SlacError, match=r"needs about 1\.25 GiB more .* has 1\.00 GiB free"):
        check_disk(run_dir, replay_bytes=GiB // 2, checkpoint_bytes=GiB // 4, keep_checkpoints=2)
    # a resumed run's replay already on disk is not needed again ...
    with open(run_dir / "replay" / "frames.npy", "wb") as f:
        f.write(np.ones(GiB // 64, np.uint8).tobytes())  # 16 MiB written (blocks on disk, not holes)
    with pytest.raises(SlacError, match=r"needs about 1\.23 GiB more"):
        check_disk(run_dir, replay_bytes=GiB // 2, checkpoint_bytes=GiB // 4, keep_checkpoints=2)
    # ... and its checkpoints will be replaced, so their size counts as free: 1 + 0.25 >= 1.234
    with open(run_dir / "checkpoints" / "step_000000010.pt", "wb") as f:
        f.truncate(GiB // 4)
    check_disk(run_dir, replay_bytes=GiB // 2, checkpoint_bytes=GiB // 4, keep_checkpoints=2)


def test_the_memory_warning_compares_the_full_replay_with_free_memory(monkeypatch):
    pages = {"SC_AVPHYS_PAGES": GiB // 4096, "SC_PAGE_SIZE": 4096}  # 1 GiB free
    monkeypatch.setattr(checks.os, "sysconf", lambda name: pages[name])
    with pytest.warns(SlacWarning, match=r"needs 2\.0 GiB when full but 1\.0 GiB is free; lower replay_capacity"):
        warn_memory(2 * GiB)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_memory(GiB // 2)  # fits: no warning
