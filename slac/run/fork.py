"""A run directory copied as it stood at one of its checkpoints, to continue from there apart.

`slac fork RUN --at STEP --out NEW`, then `slac train --resume NEW key=value`: the new run starts
from the checkpoint at env step STEP (an evaluation checkpoint kept with `keep_eval_checkpoints`, or a
regular one) with the original's replay, logs and config, and changes only what the overrides change.
Without overrides it repeats the original run from STEP (the evaluation at STEP included) row for row.
The original directory is only read.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from slac.common.checkpoint import NAME, list_checkpoints, load_checkpoint
from slac.errors import SlacError
from slac.run.checks import replay_check

COPIED_FILES = ("config.json", "metrics.csv", "eval.csv")


def checkpoint_at(run_dir: Path, env_step: int) -> Path:
    """The run's checkpoint written at `env_step`: its evaluation checkpoint if kept, else a regular one."""
    name = f"step_{env_step:09d}.pt"
    for path in (run_dir / "checkpoints" / "evaluations" / name, run_dir / "checkpoints" / name):
        if path.is_file():
            return path
    steps = sorted({int(NAME.match(p.name).group(1)) for p in available_checkpoints(run_dir)})
    listed = ", ".join(str(s) for s in steps) if steps else "none"
    raise SlacError(f"{run_dir}: no checkpoint at env step {env_step}; checkpoints at env steps: {listed}")


def available_checkpoints(run_dir: Path) -> list[Path]:
    """Regular and kept evaluation checkpoints of a run."""
    evaluations = run_dir / "checkpoints" / "evaluations"
    kept = [p for p in evaluations.iterdir() if NAME.match(p.name)] if evaluations.is_dir() else []
    return [*list_checkpoints(run_dir), *kept]


def copy_sparse(source: Path, target: Path, chunk: int = 1 << 20) -> None:
    """Copy a file, leaving holes where the source reads as zeros (a replay's frames file is mostly
    holes until the ring fills: 1.3 GB long, tens of MB on disk)."""
    with open(source, "rb") as reader, open(target, "wb") as writer:
        while block := reader.read(chunk):
            if block.count(0) == len(block):
                writer.seek(len(block), 1)
            else:
                writer.write(block)
        writer.truncate()


def fork_run(run_dir: str | Path, out_dir: str | Path, env_step: int) -> Path:
    """Copy `run_dir` as it stood at its checkpoint at `env_step` into `out_dir`; returns that checkpoint's copy."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if not (run_dir / "config.json").is_file():
        raise SlacError(f"{run_dir}: not a run directory (no config.json)")
    if out_dir.exists() and any(out_dir.iterdir()):
        raise SlacError(f"{out_dir}: exists and is not empty; a fork goes into a new directory")
    checkpoint = checkpoint_at(run_dir, env_step)
    _, meta = load_checkpoint(checkpoint)  # a damaged or foreign file is refused here, before anything is copied
    replay_check(run_dir)(meta)  # and so is a replay that no longer holds the checkpoint's frames
    (out_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    for name in COPIED_FILES:
        if (run_dir / name).is_file():
            shutil.copy2(run_dir / name, out_dir / name)
    if (run_dir / "replay").is_dir():
        (out_dir / "replay").mkdir()
        for path in sorted((run_dir / "replay").iterdir()):
            copy_sparse(path, out_dir / "replay" / path.name)
    replay_check(out_dir)(meta)  # the copy holds them too (the original may be a live run, still writing)
    target = out_dir / "checkpoints" / f"step_{env_step:09d}.pt"
    shutil.copy2(checkpoint, target)  # last: a fork cut short holds no checkpoint, so --resume refuses it
    history = (run_dir / "commands.txt").read_text() if (run_dir / "commands.txt").is_file() else ""
    (out_dir / "commands.txt").write_text(f"{history}# forked from {run_dir.resolve()} at env step {env_step} "
                                          f"({checkpoint.relative_to(run_dir)})\n")
    return target
