"""Run the paper's grid (tasks x seeds) and write report.md: returns at 100K and 500K env steps
beside the authors' numbers, and a plot per task. Sequential here; each run resumes if present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slac.tools.plot import aggregate_table, plot_tasks, read_config, returns_table, variant_of


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,3,7' -> [0, 3, 7]."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def open_or_resume(run_dir: Path, config):
    """The run in `run_dir` from its latest checkpoint (trained on to `config.steps`), or a new one (a
    run stopped before its first checkpoint is moved aside, never deleted, and started again)."""
    from slac.common.checkpoint import list_checkpoints
    from slac.run.trainer import SLAC

    if list_checkpoints(run_dir):
        return SLAC.load(run_dir, steps=config.steps)
    return SLAC(config=config, run_dir=run_dir, on_existing="move")


def reproduce(tasks: list[str], seeds: list[int], steps: int, out: str | Path, preset: str | None = None,
              overrides: dict[str, Any] | None = None, progress: bool = True) -> Path:
    from slac.config import Config

    out = Path(out)
    groups: dict[str, list[Path]] = {}
    for task in tasks:
        for seed in seeds:
            run_dir = out / "runs" / f"{task.replace('/', '_')}-s{seed}"
            config = Config.build(task=task, preset=preset, overrides={**(overrides or {}), "seed": seed, "steps": steps})
            run = open_or_resume(run_dir, config)
            run.learn(progress=progress)
            run.close()
            groups.setdefault(task, []).append(run_dir)
    return write_report(groups, out)


def write_report(groups: dict[str, list[Path]], out: Path) -> Path:
    """report.md (returns at 100K and 500K beside the paper's, and the aggregate) and curves.png."""
    by_variant = {task: {variant_of(read_config(run_dirs[0])): run_dirs} for task, run_dirs in groups.items()}
    figure = plot_tasks(by_variant, out / "curves.png")
    lines = ["# Reproduction report", "",
             "Evaluation return of the stochastic policy, mean +- std over seeds, at the last evaluation at or",
             "before each milestone (its env step in brackets when earlier). Paper: the authors' runs (10 seeds).",
             "", returns_table(by_variant), "", "## Aggregate over tasks", "", aggregate_table(by_variant),
             "", f"![curves]({figure.name})", "", "Runs: " + ", ".join(str(d) for ds in groups.values() for d in ds)]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
