"""Learning-curve plots from run directories (eval.csv)."""

from __future__ import annotations

import json
from pathlib import Path

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
