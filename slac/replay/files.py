"""The replay buffer on disk: one memory-mapped `.npy` file per array in a run's `replay/` folder.

Frames are written into the mapping as they arrive and flushed at each checkpoint, which records
only the write position: a checkpoint stays a few MB at any replay size, and nothing is copied
to save it. Each slot carries the absolute index of its frame and the frame's CRC-32, so
`verify` can tell whether a checkpoint's frames are all still there and intact (a slot
overwritten after it, a flipped byte, a truncated or missing file) and say which.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from slac.errors import CheckpointError

ARRAYS = ("frames", "actions", "rewards", "terminals", "episode_start", "index", "crc")


def layout(slots: int, frame_shape: tuple[int, ...], action_dim: int,
           frame_dtype: type = np.uint8) -> dict[str, tuple[type, tuple[int, ...]]]:
    """Every array of the ring (slot = one frame, or state vector, and the transition into it): (dtype, shape)."""
    return {
        "frames": (frame_dtype, (slots, *frame_shape)), "actions": (np.float32, (slots, action_dim)),
        "rewards": (np.float32, (slots,)), "terminals": (np.bool_, (slots,)),
        "episode_start": (np.int64, (slots,)),  # absolute index of the episode's first frame
        "index": (np.int64, (slots,)),  # absolute index of the frame in the slot (-1: never written)
        "crc": (np.uint32, (slots,)),  # CRC-32 of the frame (kept once the ring is on disk)
    }


def create(directory: Path, arrays: dict[str, np.ndarray], held: np.ndarray) -> dict[str, np.memmap]:
    """New files shaped like `arrays` (sparse: disk fills as frames arrive), with the slots
    `held` copied in. Files from an earlier run in `directory` are replaced."""
    directory.mkdir(parents=True, exist_ok=True)
    mapped = {}
    for name, array in arrays.items():
        mapped[name] = np.lib.format.open_memmap(directory / f"{name}.npy", mode="w+", dtype=array.dtype,
                                                 shape=array.shape)
        if name == "index":
            mapped[name][:] = -1
        if len(held):
            mapped[name][held] = array[held]
    return mapped


def flush(arrays: dict[str, np.ndarray]) -> None:
    for array in arrays.values():
        if isinstance(array, np.memmap):
            array.flush()


def open_arrays(directory: Path, frame_shape: tuple[int, ...], action_dim: int, slots: int,
                mode: str = "r+", frame_dtype: type = np.uint8) -> dict[str, np.memmap]:
    """Map the files of `directory`; a missing, truncated or misshapen one raises CheckpointError."""
    arrays = {}
    for name, (dtype, shape) in layout(slots, frame_shape, action_dim, frame_dtype).items():
        path = directory / f"{name}.npy"
        if not path.is_file():
            raise CheckpointError(f"{path}: replay file missing (the run's replay/ folder was moved or deleted?)")
        try:
            array = np.load(path, mmap_mode=mode)
        except (ValueError, OSError, EOFError) as error:
            raise CheckpointError(f"{path}: damaged replay file (truncated or corrupt?): {error}") from None
        if array.dtype != dtype or array.shape != shape:
            raise CheckpointError(f"{path}: holds {array.dtype} {array.shape}, the checkpoint expects "
                                  f"{np.dtype(dtype)} {shape}")
        arrays[name] = array
    return arrays


def verify(directory: Path, position: dict[str, int], frame_shape: tuple[int, ...], action_dim: int,
           frame_dtype: type = np.uint8) -> None:
    """Check that every frame a checkpoint at `position` resumes from is in the files, unchanged."""
    arrays = open_arrays(directory, frame_shape, action_dim, int(position["slots"]), mode="r", frame_dtype=frame_dtype)
    total, slots = int(position["total"]), int(position["slots"])
    absolute = np.arange(total - min(total, int(position["capacity"])), total)
    held = absolute % slots
    moved = np.flatnonzero(arrays["index"][held] != absolute)
    if len(moved):
        raise CheckpointError(
            f"{directory}: {len(moved)} of the {len(absolute)} frames this checkpoint resumes from were overwritten "
            f"after it (first: frame {absolute[moved[0]]}), or the index file is damaged")
    frames, crc = arrays["frames"], arrays["crc"]
    for frame, slot in zip(absolute, held):
        if zlib.crc32(frames[slot]) != crc[slot]:
            raise CheckpointError(f"{directory / 'frames.npy'}: frame {frame} (slot {slot}) fails its checksum: "
                                  "the file is damaged")
