"""Learning-curve plots from run directories (eval.csv)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from slac.logging import read_csv


def plot_run(run_dir: str | Path, out: str | Path, random_return: float | None = None) -> Path:
    """Evaluation return (stochastic and deterministic policy) against env steps for one run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run_dir, out = Path(run_dir), Path(out)
    rows = read_csv(run_dir / "eval.csv")
    steps = [r["env_step"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for key, label in [("return_stochastic", "stochastic policy"), ("return_deterministic", "deterministic policy")]:
        mean = [r[key] for r in rows]
        std = [r[f"{key}_std"] for r in rows]
        ax.plot(steps, mean, marker="o", label=label)
        ax.fill_between(steps, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)], alpha=0.2)
    if random_return is not None:
        ax.axhline(random_return, color="grey", linestyle="--", label="random policy")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return")
    task = json.loads((run_dir / "config.json").read_text()).get("task", "") if (run_dir / "config.json").exists() else ""
    ax.set_title(f"{task}  ({run_dir.name})", fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def seed_curves(run_dirs: list[Path], metric: str = "return_stochastic") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and std over runs of `metric` at the env steps every run evaluated."""
    curves = [{int(r["env_step"]): float(r[metric]) for r in read_csv(Path(d) / "eval.csv")} for d in run_dirs]
    steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    values = np.array([[c[s] for s in steps] for c in curves]).reshape(len(curves), len(steps))
    return np.array(steps), values.mean(0), values.std(0)


def plot_tasks(groups: dict[str, list[Path]], out: str | Path, reference: bool = True,
               metric: str = "return_stochastic") -> Path:
    """One panel per task: mean +- std over seeds, the authors' curve beside it where there is one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from slac.errors import TaskError
    from slac.reference import paper_curve

    out = Path(out)
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.8), dpi=100, squeeze=False)
    for ax, (task, run_dirs) in zip(axes[0], groups.items()):
        steps, mean, std = seed_curves(run_dirs, metric)
        ax.plot(steps, mean, label=f"slac (this code, {len(run_dirs)} seeds)")
        ax.fill_between(steps, mean - std, mean + std, alpha=0.25)
        if reference:
            decoder_var = json.loads((Path(run_dirs[0]) / "config.json").read_text()).get("decoder_var")
            try:
                curve = paper_curve(task, decoder_var)
            except TaskError:
                curve = []
            if curve:
                x = np.array([r["env_step"] for r in curve])
                m = np.array([r["return_mean"] for r in curve])
                s = np.array([r["return_std"] for r in curve])
                ax.plot(x, m, color="black", linestyle="--", label="paper (authors' runs)")
                ax.fill_between(x, m - s, m + s, color="grey", alpha=0.2)
                if len(steps):
                    ax.set_xlim(0, max(steps.max(), 1) * 1.05)
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("environment steps")
        ax.set_ylabel(metric.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def group_runs(run_dirs: list[Path]) -> dict[str, list[Path]]:
    """Runs grouped by task (and model when it is not the default), from their config.json."""
    groups: dict[str, list[Path]] = {}
    for run_dir in run_dirs:
        config = json.loads((Path(run_dir) / "config.json").read_text())
        key = config["task"] if config.get("model", "slac") == "slac" else f"{config['task']} [{config['model']}]"
        groups.setdefault(key, []).append(Path(run_dir))
    return groups
