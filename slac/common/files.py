"""Small text files (config.json, CSV logs, sweep records) written atomically."""

from __future__ import annotations

import os
from pathlib import Path

from slac.common import faults


def write_text_atomic(path: str | Path, text: str, fault_point: str | None = None) -> None:
    """Write `text` to a temp file beside `path`, flush it to disk and rename it over `path`: a crash
    leaves the old file whole. `fault_point`: where the reliability tests may kill the write half-way."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", newline="") as handle:
        handle.write(text[: len(text) // 2])
        if fault_point:
            handle.flush()
            faults.inject(fault_point)
        handle.write(text[len(text) // 2:])
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
