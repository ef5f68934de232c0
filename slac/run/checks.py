"""Checks a run makes before it works or resumes: its directory holds no other run, the disk holds
it, memory holds its replay, and a checkpoint's replay frames are all still on disk and intact."""

from __future__ import annotations

import os
import shutil
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from slac.common.checkpoint import list_checkpoints
from slac.common.host import cpu_has_native_bf16, cpu_name
from slac.errors import SlacError, SlacWarning
from slac.replay import files as replay_files

RUN_FILES = ("config.json", "eval.csv", "metrics.csv", "checkpoints", "replay")


def existing_run(run_dir: Path) -> str | None:
    """What shows that `run_dir` already holds a run (its newest checkpoint's env step, or its files),
    or None for a missing or empty directory, or one without any of a run's files."""
    found = [name for name in RUN_FILES if (run_dir / name).exists()]
    if not found:
        return None
    checkpoints = list_checkpoints(run_dir)
    if checkpoints:
        return f"a run with checkpoints up to env step {int(checkpoints[-1].stem.split('_')[1]):,}"
    return f"a run's files ({', '.join(found)})"


def claim_run_dir(run_dir: Path, overwrite: bool = False) -> Path | None:
    """Make sure a new run does not write into another run's directory: refuse with one line naming
    `--resume` and `--run-dir`, or, with `overwrite`, move the old run aside to `<dir>.replaced-<time>`
    (never deleted) and return where it went. Nothing of the old run changes when refused."""
    held = existing_run(run_dir)
    if held is None:
        return None
    if not overwrite:
        raise SlacError(f"{run_dir} already holds {held}: continue it with `slac train --resume {run_dir}`, or give "
                        "a new --run-dir (or --overwrite to move the old run aside)")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    aside, count = run_dir.with_name(f"{run_dir.name}.replaced-{stamp}"), 1
    while aside.exists():
        count += 1
        aside = run_dir.with_name(f"{run_dir.name}.replaced-{stamp}-{count}")
    run_dir.rename(aside)
    warnings.warn(f"{run_dir} held {held}; moved it aside to {aside}", SlacWarning, stacklevel=3)
    return aside


def check_disk(run_dir: Path, replay_bytes: int, checkpoint_bytes: int, keep_checkpoints: int) -> None:
    """Before any work: `run_dir` can be written and its disk holds the replay files (filled as
    frames arrive) and the checkpoints (`keep_checkpoints` plus one being written)."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write_test"
        probe.write_bytes(b"slac")
        probe.unlink()
    except OSError as error:
        raise SlacError(f"run directory {run_dir} is not writable: {error.strerror or error}") from None
    replay_on_disk = sum(p.stat().st_blocks * 512 for p in (run_dir / "replay").glob("*.npy"))
    need = (keep_checkpoints + 1) * checkpoint_bytes + replay_bytes - replay_on_disk
    existing = sum(p.stat().st_size for p in list_checkpoints(run_dir))
    free = shutil.disk_usage(run_dir).free
    if free + existing < need:
        raise SlacError(
            f"{run_dir}: the run needs about {need / 2**30:.2f} GiB more ({replay_bytes / 2**30:.2f} GiB of replay "
            f"files and {keep_checkpoints} + 1 checkpoints of {checkpoint_bytes / 2**20:.0f} MiB) but the disk has "
            f"{free / 2**30:.2f} GiB free; free space, or lower replay_capacity"
        )


def warn_memory(replay_bytes: int) -> None:
    """Warn when the full replay will not fit in free memory (sampling it would then read the disk)."""
    try:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return
    if replay_bytes > available:
        warnings.warn(f"the replay buffer needs {replay_bytes / 2**30:.1f} GiB when full but {available / 2**30:.1f} GiB "
                      "is free; lower replay_capacity", SlacWarning, stacklevel=4)


def warn_emulated_bf16(precision: str, device_type: str) -> None:
    """Warn when `precision=bf16` would run on a CPU that only emulates bfloat16 (no AVX512-BF16, no
    AMX): there it is about 10x slower than fp32, where with either it is 1.6-4x faster."""
    if precision == "bf16" and device_type == "cpu" and cpu_has_native_bf16() is False:
        warnings.warn(f"precision=bf16 on a CPU without bfloat16 instructions ({cpu_name()}: no AVX512-BF16, no AMX): "
                      "PyTorch emulates them, about 10x slower than fp32 here; use precision=fp32", SlacWarning,
                      stacklevel=4)


def replay_check(run_dir: Path):
    """`check(meta)` for `latest_good_checkpoint`: the checkpoint's replay frames are on disk, intact."""
    def check(meta: dict[str, Any]) -> None:
        if "replay" in meta:  # checkpoints that carry their replay (the earlier format) have nothing to check
            size = int(meta["config"]["image_size"])
            shape = tuple(meta.get("observation_shape") or (3, size, size))
            dtype = np.float32 if meta["config"].get("agent") == "sac-state" else np.uint8
            replay_files.verify(run_dir / "replay", meta["replay"], shape, int(meta["action_dim"]), dtype)
    return check
