"""Checks a run makes before it works or resumes: the disk holds it, memory holds its replay, and
a checkpoint's replay frames are all still on disk and intact."""

from __future__ import annotations

import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from slac.common.checkpoint import list_checkpoints
from slac.common.host import cpu_has_native_bf16, cpu_name
from slac.errors import SlacError
from slac.replay import files as replay_files


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
                      "is free; lower replay_capacity", stacklevel=4)


def warn_emulated_bf16(precision: str, device_type: str) -> None:
    """Warn when `precision=bf16` would run on a CPU that only emulates bfloat16 (no AVX512-BF16, no
    AMX): there it is about 10x slower than fp32, where with either it is 1.6-4x faster."""
    if precision == "bf16" and device_type == "cpu" and cpu_has_native_bf16() is False:
        warnings.warn(f"precision=bf16 on a CPU without bfloat16 instructions ({cpu_name()}: no AVX512-BF16, no AMX): "
                      "PyTorch emulates them, about 10x slower than fp32 here; use precision=fp32", stacklevel=4)


def replay_check(run_dir: Path):
    """`check(meta)` for `latest_good_checkpoint`: the checkpoint's replay frames are on disk, intact."""
    def check(meta: dict[str, Any]) -> None:
        if "replay" in meta:  # checkpoints that carry their replay (the earlier format) have nothing to check
            size = int(meta["config"]["image_size"])
            shape = tuple(meta.get("observation_shape") or (3, size, size))
            dtype = np.float32 if meta["config"].get("agent") == "sac-state" else np.uint8
            replay_files.verify(run_dir / "replay", meta["replay"], shape, int(meta["action_dim"]), dtype)
    return check
