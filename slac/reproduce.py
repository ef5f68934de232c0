"""Run the paper's grid (tasks x seeds) and write report.md: returns at 100K and 500K env steps
beside the authors' numbers, and a plot per task. Sequential here; each run resumes if present."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from slac.errors import TaskError
from slac.plot import plot_tasks, seed_curves
from slac.reference import paper_curve

MILESTONES = (100_000, 500_000)


def parse_seeds(text: str) -> list[int]:
    """'0-4' -> [0, 1, 2, 3, 4]; '0,3,7' -> [0, 3, 7]."""
    seeds: list[int] = []
    for part in text.split(","):
        low, _, high = part.partition("-")
        seeds.extend(range(int(low), int(high or low) + 1))
    return seeds


def reproduce(tasks: list[str], seeds: list[int], steps: int, out: str | Path, preset: str | None = None,
              overrides: dict[str, Any] | None = None, progress: bool = True) -> Path:
    from slac.checkpoint import list_checkpoints
    from slac.config import Config
    from slac.trainer import SLAC

    out = Path(out)
    groups: dict[str, list[Path]] = {}
    for task in tasks:
        for seed in seeds:
            run_dir = out / "runs" / f"{task.replace('/', '_')}-s{seed}"
            if list_checkpoints(run_dir):
                run = SLAC.load(run_dir, steps=steps)
            else:
                config = Config.build(task=task, preset=preset, overrides={**(overrides or {}), "seed": seed,
                                                                           "steps": steps})
                run = SLAC(config=config, run_dir=run_dir)
            run.learn(progress=progress)
            run.close()
            groups.setdefault(task, []).append(run_dir)
    return write_report(groups, out)


def _at(steps, values, target: int) -> tuple[float, int] | None:
    """The value at the last evaluation at or before `target`."""
    chosen = [(v, s) for s, v in zip(steps, values) if s <= target]
    return chosen[-1] if chosen else None


def write_report(groups: dict[str, list[Path]], out: Path) -> Path:
    lines = ["# SLAC reproduction report", "",
             "Evaluation return of the stochastic policy, mean +- std over seeds, at the last evaluation at or",
             "before each milestone (its env step in brackets when earlier). Paper: the authors' runs (10 seeds).",
             "", "| task | seeds | " + " | ".join(f"ours @{m // 1000}K | paper @{m // 1000}K" for m in MILESTONES) + " |",
             "|" + " --- |" * (2 + 2 * len(MILESTONES))]
    for task, run_dirs in groups.items():
        steps, mean, std = seed_curves(run_dirs)
        cells = []
        for milestone in MILESTONES:
            ours = _at(list(steps), list(zip(mean, std)), milestone)
            cells.append("-" if ours is None else
                         f"{ours[0][0]:.1f} +- {ours[0][1]:.1f}" + ("" if ours[1] == milestone else f" [{ours[1]}]"))
            try:
                paper = next((r for r in paper_curve(task) if r["env_step"] == milestone), None)
            except TaskError:
                paper = None
            cells.append("-" if paper is None else f"{paper['return_mean']:.1f} +- {paper['return_std']:.1f}")
        lines.append(f"| {task} | {len(run_dirs)} | " + " | ".join(cells) + " |")
    figure = plot_tasks(groups, out / "curves.png")
    lines += ["", f"![curves]({figure.name})", "", "Runs: " + ", ".join(str(d) for ds in groups.values() for d in ds)]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report



