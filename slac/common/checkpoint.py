"""Atomic checkpoint writing and safe loading: tensors and plain data only, never pickled code.

A checkpoint (format version 2) is one `torch.save` file holding {"format", "version", "sha256",
"payload"}: the payload is the bytes of an inner `torch.save` of {"meta" (a JSON string), "state"
(nested dicts of tensors and numbers)}, and "sha256" its checksum, so any flipped or missing
byte is detected. It is written to a temporary file, flushed to disk, then renamed over the
target: a crash or a full disk while saving leaves the previous checkpoint intact. Loading uses
`torch.load(weights_only=True)` for both layers, whose unpickler refuses any object that is not
a tensor or plain container: a crafted file cannot run code.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import os
import re
from pathlib import Path
from typing import Any

import torch

from slac.common import faults
from slac.errors import CheckpointError

FORMAT = "slac-checkpoint"
VERSION = 2
NAME = re.compile(r"^step_(\d+)\.pt$")
DAMAGED = "damaged"  # the folder, beside the checkpoints, that damaged ones are moved to


def save_checkpoint(path: str | Path, state: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Write atomically: temp file in the same folder, fsync, rename, fsync the folder. A failed
    write (e.g. a full disk) removes the temp file and raises CheckpointError; older checkpoints
    are untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    inner = io.BytesIO()
    torch.save({"meta": json.dumps(meta), "state": state}, inner)
    payload = inner.getbuffer()
    outer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, "sha256": hashlib.sha256(payload).hexdigest(),
                "payload": torch.frombuffer(payload, dtype=torch.uint8)}, outer)
    data = outer.getbuffer()
    try:
        with open(tmp, "wb") as handle:
            half = len(data) // 2
            handle.write(data[:half])
            faults.inject("checkpoint_write")
            handle.write(data[half:])
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as error:
        tmp.unlink(missing_ok=True)
        what = "no space left on the device" if error.errno == errno.ENOSPC else error.strerror or str(error)
        previous = [p for p in list_checkpoints(path.parent.parent) if p != path]
        kept = f"the last good checkpoint {previous[-1]} is intact" if previous else "no earlier checkpoint exists"
        raise CheckpointError(f"{path}: could not write the checkpoint ({what}, {len(data) / 2**20:.0f} MB); {kept}") from None
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
    outer = _safe_load(path, path, map_location="cpu")
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a slac checkpoint (no '{FORMAT}' header)")
    if outer.get("version") == 1:  # the first format: no checksum, meta and state at the top
        payload = outer
    elif outer.get("version") == VERSION:
        data = outer.get("payload")
        if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8:
            raise CheckpointError(f"{path}: checkpoint payload is missing or damaged")
        raw = data.numpy().tobytes()
        if hashlib.sha256(raw).hexdigest() != outer.get("sha256"):
            raise CheckpointError(f"{path}: checksum mismatch: the file is corrupt (sha256 differs from the one written)")
        payload = _safe_load(io.BytesIO(raw), path, map_location=map_location)
    else:
        raise CheckpointError(
            f"{path}: checkpoint format version {outer.get('version')}, this slac reads versions 1 and {VERSION}"
        )
    try:
        meta = json.loads(payload["meta"])
        state = payload["state"]
    except (KeyError, TypeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"{path}: checkpoint metadata is damaged ({error})") from None
    return state, meta


def _safe_load(source, path: Path, map_location) -> Any:
    """torch.load with weights_only=True; every failure becomes a one-line CheckpointError."""
    try:
        return torch.load(source, map_location=map_location, weights_only=True)
    except Exception as error:  # zip, unpickling and storage errors all mean the same to a user
        if "Unsupported global" in str(error) or "weights_only" in str(error):
            raise CheckpointError(f"{path}: not a readable slac checkpoint: it contains pickled Python objects (code), "
                                  "which slac never loads") from None
        raise CheckpointError(f"{path}: not a readable slac checkpoint (truncated or corrupt)") from None


def set_aside(path: Path) -> Path:
    """Move a damaged checkpoint into `damaged/` beside it (kept for inspection, never counted or
    pruned again); returns its new path."""
    folder = path.parent / DAMAGED
    folder.mkdir(exist_ok=True)
    target, count = folder / path.name, 1
    while target.exists():
        count += 1
        target = folder / f"{path.stem}.{count}{path.suffix}"
    os.replace(path, target)
    return target


def latest_good_checkpoint(run_dir: str | Path, map_location: str | torch.device = "cpu",
                           warn=None, check=None) -> tuple[Path, dict[str, Any], dict[str, Any]]:
    """The newest checkpoint of a run that loads and passes `check(meta)` (e.g. its replay frames
    are intact), with its (state, meta). A newer file that does not load is set aside in
    `checkpoints/damaged/`; one that fails `check` is skipped; each is reported in one line through
    `warn(message)`. If none serves, CheckpointError says why."""
    problems, used = [], []
    for path in reversed(list_checkpoints(run_dir)):
        try:
            state, meta = load_checkpoint(path, map_location)
        except CheckpointError as error:
            problems.append(str(error))
            used.append(f"{path.name} does not load; set aside in {set_aside(path).parent}")
            continue
        try:
            if check is not None:
                check(meta)
        except CheckpointError as error:
            problems.append(str(error))
            used.append(f"{path.name} skipped ({error})")
            continue
        if used and warn is not None:
            warn(f"{'; '.join(used)}; using {path.name}")
        return path, state, meta
    if not problems:
        if not Path(run_dir).is_dir():
            raise CheckpointError(f"{run_dir}: no such run directory")
        raise CheckpointError(f"{run_dir}: no checkpoints in {Path(run_dir) / 'checkpoints'}")
    raise CheckpointError(f"{run_dir}: no checkpoint loads: {'; '.join(problems)}")


def verify_checkpoint(path: Path) -> bool:
    """Whether a checkpoint file is whole: its header reads and its payload matches the checksum
    written with it (a version-1 file, which has none, counts as whole if it reads)."""
    try:
        outer = _safe_load(path, path, map_location="cpu")
    except CheckpointError:
        return False
    if not isinstance(outer, dict) or outer.get("format") != FORMAT:
        return False
    if outer.get("version") == 1:
        return True
    data = outer.get("payload")
    return (isinstance(data, torch.Tensor) and data.dtype == torch.uint8
            and hashlib.sha256(data.numpy().tobytes()).hexdigest() == outer.get("sha256"))


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


def remove_partial_checkpoints(run_dir: str | Path) -> list[Path]:
    """Delete temp files a killed process left half-written; returns what was removed."""
    folder = Path(run_dir) / "checkpoints"
    partial = list(folder.glob(".step_*.pt.tmp")) if folder.is_dir() else []
    for path in partial:
        path.unlink(missing_ok=True)
    return partial


def prune_checkpoints(run_dir: str | Path, keep: int, warn=None) -> None:
    """Keep the newest `keep` checkpoints that are whole (`verify_checkpoint`) and delete the older
    ones; a damaged file is set aside in `checkpoints/damaged/` (reported through `warn`), never
    counted among those kept."""
    kept = 0
    for path in reversed(list_checkpoints(run_dir)):
        if kept >= keep:
            path.unlink(missing_ok=True)
        elif verify_checkpoint(path):
            kept += 1
        else:
            moved = set_aside(path)
            if warn is not None:
                warn(f"{path.name} is damaged (truncated or corrupt); set aside in {moved.parent}")
