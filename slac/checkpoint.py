"""Atomic checkpoint writing and safe loading: tensors and plain data only, never pickled code.

A checkpoint is one `torch.save` file holding {"format", "version", "meta" (a JSON string),
"state" (nested dicts of tensors and numbers)}. It is written to a temporary file, flushed to
disk, then renamed over the target, so a crash while saving leaves the previous checkpoint
intact. Loading uses `torch.load(weights_only=True)`, whose unpickler refuses any object that
is not a tensor or plain container: a crafted file cannot run code.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from slac.errors import CheckpointError

FORMAT = "slac-checkpoint"
VERSION = 1
NAME = re.compile(r"^step_(\d+)\.pt$")


def save_checkpoint(path: str | Path, state: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write atomically: temp file in the same folder, fsync, rename, fsync the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    payload = {"format": FORMAT, "version": VERSION, "meta": json.dumps(meta), "state": state}
    with open(tmp, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path


def load_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> tuple[dict[str, Any], dict[str, Any]]:
    """Return (state, meta); a missing, truncated, corrupt, foreign or other-version file raises
    CheckpointError with one line naming the file and what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as error:  # zip, unpickling and storage errors all mean the same to a user
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        if "Unsupported global" in str(error) or "weights_only" in str(error):
            reason = "it contains pickled Python objects (code), which slac never loads"
        raise CheckpointError(f"{path}: not a readable slac checkpoint (truncated or corrupt?): {reason}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a slac checkpoint (no '{FORMAT}' header)")
    if payload.get("version") != VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {payload.get('version')}, this slac reads version {VERSION}"
        )
    try:
        meta = json.loads(payload["meta"])
        state = payload["state"]
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: checkpoint metadata is damaged ({error})") from None
    return state, meta


def checkpoint_path(run_dir: str | Path, env_step: int) -> Path:
    return Path(run_dir) / "checkpoints" / f"step_{env_step:09d}.pt"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoints of a run, oldest first."""
    folder = Path(run_dir) / "checkpoints"
    if not folder.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def latest_checkpoint(run_dir: str | Path) -> Path:
    checkpoints = list_checkpoints(run_dir)
    if not checkpoints:
        raise CheckpointError(f"{run_dir}: no checkpoints in {Path(run_dir) / 'checkpoints'}")
    return checkpoints[-1]


def prune_checkpoints(run_dir: str | Path, keep: int) -> None:
    """Delete all but the newest `keep` checkpoints."""
    for path in list_checkpoints(run_dir)[:-keep]:
        path.unlink(missing_ok=True)
