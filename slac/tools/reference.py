"""The authors' published learning curves, shipped as a compact table (slac/tools/data/)."""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from slac.config import TASK_PRESETS
from slac.errors import TaskError


@lru_cache(maxsize=1)
def load_reference() -> list[dict]:
    """Rows of task, action_repeat, decoder_var, env_step, return_mean, return_std, seeds, return_min,
    return_max and `returns` (each of the authors' runs' return there, by their trial id)."""
    text = resources.files("slac.tools").joinpath("data/paper_slac_official.csv").read_text()
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    rows = []
    for row in csv.DictReader(lines):
        rows.append({"task": row["task"], "action_repeat": int(row["action_repeat"]),
                     "decoder_var": float(row["decoder_var"]), "env_step": int(row["env_step"]),
                     "return_mean": float(row["return_mean"]), "return_std": float(row["return_std"]),
                     "seeds": int(row["seeds"]), "return_min": float(row["return_min"]),
                     "return_max": float(row["return_max"]),
                     "returns": tuple(float(v) for v in row["returns"].split(";"))})
    return rows


def paper_curve(task: str, decoder_var: float | None = None) -> list[dict]:
    """The authors' curve for `task` (default: the decoder variance its preset names), by env step."""
    rows = [r for r in load_reference() if r["task"] == task]
    if not rows:
        tasks = sorted({r["task"] for r in load_reference()})
        raise TaskError(f"the paper has no published curve for {task!r}; it has {tasks}")
    if decoder_var is None:
        decoder_var = TASK_PRESETS[task]["decoder_var"]  # every task with a published curve has a preset
    chosen = [r for r in rows if abs(r["decoder_var"] - decoder_var) < 1e-9]
    if not chosen:
        raise TaskError(f"no published curve for {task!r} with decoder_var={decoder_var}; "
                        f"it has {sorted({r['decoder_var'] for r in rows})}")
    return sorted(chosen, key=lambda r: r["env_step"])
