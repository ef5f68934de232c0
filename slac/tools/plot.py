"""Learning curves and result tables from run directories (config.json + eval.csv).

Runs are grouped by task and variant (the model and any ablation switch that is not the
paper's); a panel per task shows each variant's mean over seeds with a std band or a 95%
bootstrap interval over the steps every seed has (each longer seed goes on as a line of its own),
beside the authors' SLAC curve where the paper has one (also beside the SAC baselines: it is the
curve they are compared with).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from slac.config import TASK_PRESETS
from slac.run.logging import EVAL_FIELDS, TRAIN_FIELDS, read_csv
from slac.tools.stats import bootstrap_ci, iqm, stratified_bootstrap_ci

MILESTONES = (100_000, 500_000)
# Switches that make a run a different variant when they differ from the paper's value.
VARIANT_DEFAULTS = {"actor_input": "history", "critic_input": "latent", "augment": "none", "updates_per_step": 1,
                    "precision": "fp32", "reward_std_min": 0.0}
METRIC_ALIASES = {"eval_return": "return_stochastic", "eval_return_deterministic": "return_deterministic"}
COUNTERS = ("env_step", "agent_step", "update", "phase")  # the CSVs' x values and labels, not metrics

Groups = dict[str, dict[str, list[Path]]]  # task -> variant -> run directories


def read_config(run_dir: Path) -> dict:
    path = Path(run_dir) / "config.json"
    return json.loads(path.read_text()) if path.exists() else {}


def variant_of(config: dict) -> str:
    """'slac', or e.g. 'slac, actor_input=latent' / 'vae' / 'sac-state': the agent (SLAC's model)
    and every non-paper switch that applies to it; sac-pixels with augment=crop is 'sac-pixels+crop
    (DrQ-style)'."""
    agent = config.get("agent", "slac")
    if agent == "slac":
        name, ignored = config.get("model", "slac"), ()
    else:  # the baselines have no model, no actor/critic input choice; augmentation is in the name
        crop = agent == "sac-pixels" and config.get("augment") == "crop"
        name, ignored = (f"{agent}+crop (DrQ-style)" if crop else agent), ("actor_input", "critic_input", "augment")
    switches = [f"{k}={config[k]}" for k, default in VARIANT_DEFAULTS.items()
                if k in config and config[k] != default and k not in ignored]
    # Pretraining (one of the paper's ablations) and the decoder variance, against the paper task's
    # values (toy tasks have none).
    for key in ("pretrain_steps", "decoder_var"):
        paper_value = TASK_PRESETS.get(config.get("task"), {}).get(key)
        if agent == "slac" and paper_value is not None and config.get(key, paper_value) != paper_value:
            switches.append(f"{key}={config[key]}")
    return ", ".join([name, *switches])


def group_runs(run_dirs: list[Path]) -> Groups:
    """Runs grouped by task, then by variant, in the order given."""
    groups: Groups = {}
    for run_dir in run_dirs:
        config = read_config(run_dir)
        groups.setdefault(config.get("task", "?"), {}).setdefault(variant_of(config), []).append(Path(run_dir))
    return groups


def runs_of_seeds(run_dirs: list[Path]) -> str:
    """'3', or '3 runs of 2 seeds' when runs share a seed (a seed restarted that parted from its
    first run: the same pretraining, another RL trajectory); a run without a seed counts as one."""
    seeds = [read_config(run_dir).get("seed") for run_dir in run_dirs]
    distinct = len({s for s in seeds if s is not None}) + sum(s is None for s in seeds)
    return str(len(seeds)) if distinct == len(seeds) else f"{len(seeds)} runs of {distinct} seeds"


def metric_source(metric: str) -> tuple[str, str]:
    """The CSV file that holds `metric` and the column its curve is drawn against: an evaluation
    column against env steps (eval.csv), a training column (metrics.csv: losses, log-likelihoods,
    entropy, drift) against all updates so far, pretraining's and then training's (`_updates_so_far`):
    the env step stands still while the model pretrains."""
    metric = METRIC_ALIASES.get(metric, metric)
    if metric in COUNTERS:
        raise KeyError(metric)
    if metric in EVAL_FIELDS:
        return "eval.csv", "env_step"
    if metric in TRAIN_FIELDS:
        return "metrics.csv", "update"
    raise KeyError(metric)


def seed_curves(run_dirs: list[Path], metric: str = "return_stochastic") -> list[dict[int, float]]:
    """Each run's `metric` by x value (env step, or all updates so far for a metrics.csv column:
    `metric_source`). Blank cells (a term not computed in that phase) are skipped."""
    filename, x = metric_source(metric)
    metric = METRIC_ALIASES.get(metric, metric)
    curves = []
    for run_dir in run_dirs:
        rows = read_csv(Path(run_dir) / filename)
        xs = _updates_so_far(rows) if x == "update" else [int(r[x]) for r in rows]
        curves.append({at: float(r[metric]) for at, r in zip(xs, rows) if isinstance(r[metric], (int, float))})
    return curves


def common_values(curves: list[dict[int, float]]) -> tuple[np.ndarray, np.ndarray]:
    """The x values every curve has, and the curves there: (steps,), (runs, steps)."""
    steps = sorted(set.intersection(*(set(c) for c in curves))) if curves else []
    return np.array(steps, dtype=np.int64), np.array([[c[s] for s in steps] for c in curves]).reshape(len(curves), len(steps))


def seed_values(run_dirs: list[Path], metric: str) -> tuple[np.ndarray, np.ndarray]:
    """The x values at which every run has `metric`, and `metric` there: (steps,), (runs, steps)."""
    return common_values(seed_curves(run_dirs, metric))


def seed_tails(curves: list[dict[int, float]], steps: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each curve's points past the last of the common `steps` (from that step on, so the line joins
    the group's), for the runs that have any: a group's longer seeds keep their later evaluations
    when another seed has not reached them (a run still going, or one whose machine was lost)."""
    start = int(steps[-1]) if len(steps) else None
    tails = []
    for curve in curves:
        xs = sorted(x for x in curve if start is None or x >= start)
        if xs and xs[-1] != start:
            tails.append((np.array(xs, dtype=np.int64), np.array([curve[x] for x in xs])))
    return tails


def _updates_so_far(rows: list[dict]) -> list[int]:
    """Each metrics.csv row's count of all updates so far: its `update` column counts pretraining
    updates in pretraining rows and training updates after, so a training row adds the pretraining's
    total (its last row, which is always logged)."""
    pretraining = max((int(r["update"]) for r in rows if r["phase"] == "pretrain"), default=0)
    return [int(r["update"]) + (pretraining if r["phase"] != "pretrain" else 0) for r in rows]


def band(values: np.ndarray, interval: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean over runs (axis 0) and a band: mean +- std, or a 95% percentile bootstrap interval of the mean."""
    mean = values.mean(0)
    if interval == "std":
        return mean, mean - values.std(0), mean + values.std(0)
    bounds = np.array([bootstrap_ci(values[:, j]) for j in range(values.shape[1])]).reshape(-1, 2)
    return mean, bounds[:, 0], bounds[:, 1]


def _paper(task: str, run_dirs: list[Path]) -> list[dict]:
    from slac.errors import TaskError
    from slac.tools.reference import paper_curve

    try:
        return paper_curve(task, read_config(run_dirs[0]).get("decoder_var"))
    except TaskError:
        return []


def plot_run(run_dir: str | Path, out: str | Path, random_return: float | None = None) -> Path:
    """Evaluation return (stochastic and deterministic policy) against env steps for one run."""
    plt = _pyplot()
    run_dir, out = Path(run_dir), Path(out)
    rows = read_csv(run_dir / "eval.csv")
    steps = [r["env_step"] for r in rows]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for key, label in [("return_stochastic", "stochastic policy"), ("return_deterministic", "deterministic policy")]:
        mean = np.array([r[key] for r in rows])
        std = np.array([r[f"{key}_std"] for r in rows])
        ax.plot(steps, mean, marker="o", label=label)
        ax.fill_between(steps, mean - std, mean + std, alpha=0.2)
    if random_return is not None:
        ax.axhline(random_return, color="grey", linestyle="--", label="random policy")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("evaluation return")
    ax.set_title(f"{read_config(run_dir).get('task', '')}  ({run_dir.name})", fontsize=9)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_tasks(groups: Groups, out: str | Path, reference: bool = True, metric: str = "return_stochastic",
               interval: str = "std") -> Path:
    """One panel per task: each variant's mean over seeds with a band (`std` or `bootstrap`, 95%)
    over the steps every seed has, each longer seed past them as a dashed line (`seed_tails`),
    and, for an evaluation metric, the authors' curve (mean +- std over their 10 seeds) where there
    is one. A metrics.csv column (e.g. `reward_ll`) is drawn against updates (`metric_source`)."""
    plt = _pyplot()
    out = Path(out)
    against = metric_source(metric)[1]
    fig, axes = plt.subplots(1, len(groups), figsize=(5 * len(groups), 3.8), dpi=100, squeeze=False)
    for ax, (task, variants) in zip(axes[0], groups.items()):
        last = 1
        for variant, run_dirs in variants.items():
            curves = seed_curves(run_dirs, metric)
            steps, values = common_values(curves)
            mean, low, high = band(values, interval)
            count = runs_of_seeds(run_dirs)
            seeds = f"{count} seed{'s' if count != '1' else ''}" if count.isdigit() else count
            (line,) = ax.plot(steps, mean, label=f"{variant} ({seeds})")
            ax.fill_between(steps, low, high, alpha=0.25)
            for i, (xs, ys) in enumerate(seed_tails(curves, steps) if len(curves) > 1 else []):
                ax.plot(xs, ys, color=line.get_color(), linewidth=1, linestyle="--",
                        label="  each seed past the steps all have" if i == 0 else None)
                last = max(last, int(xs[-1]))
            last = max(last, int(steps.max()) if len(steps) else 1)
        curve = _paper(task, next(iter(variants.values()))) if reference and against == "env_step" else []
        if curve:
            x = np.array([r["env_step"] for r in curve])
            m, s = np.array([r["return_mean"] for r in curve]), np.array([r["return_std"] for r in curve])
            ax.plot(x, m, color="black", linestyle="--", label="SLAC, paper (authors' runs)")
            ax.fill_between(x, m - s, m + s, color="grey", alpha=0.2)
            ax.set_xlim(0, last * 1.05)
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("environment steps" if against == "env_step" else "updates (pretraining, then training)")
        ax.set_ylabel(METRIC_ALIASES.get(metric, metric).replace("_", " ") + (" (band: 95% CI)" if interval != "std" else ""))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def _at(steps: np.ndarray, target: int) -> int | None:
    """Index of the last evaluation at or before `target`."""
    before = np.nonzero(steps <= target)[0]
    return int(before[-1]) if len(before) else None


def _cell(values: np.ndarray, index: int | None) -> str:
    """Mean +- std over the runs at evaluation `index` ('-' for none)."""
    return "-" if index is None else f"{values[:, index].mean():.1f} +- {values[:, index].std():.1f}"


def _milestone_cell(values: np.ndarray, steps: np.ndarray, milestone: int) -> str:
    """The return at `milestone`: the last evaluation at or before it, its env step in brackets when
    earlier; '-' while the runs have not reached it."""
    index = _at(steps, milestone) if len(steps) and steps.max() >= milestone else None
    text = _cell(values, index)
    return text if index is None or steps[index] == milestone else f"{text} [{steps[index]}]"


def returns_table(groups: Groups, metric: str = "return_stochastic") -> str:
    """Markdown: per task and variant, the final return and those at 100K and 500K env steps (mean +- std
    over seeds; the last evaluation at or before the milestone, its step in brackets when earlier),
    beside the paper's. Those are taken where every seed has an evaluation; the last column gives each
    seed's own last evaluation, so a seed that went further than the others is not hidden."""
    head = ["task", "variant", "seeds", "final (env step)"]
    for m in MILESTONES:
        head += [f"ours @{m // 1000}K", f"paper @{m // 1000}K"]
    head.append("each seed's last (env step)")
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for task, variants in groups.items():
        for variant, run_dirs in variants.items():
            curves = seed_curves(run_dirs, metric)
            steps, values = common_values(curves)
            final = len(steps) - 1 if len(steps) else None
            final_cell = "-" if final is None else f"{_cell(values, final)} ({steps[final]})"
            cells = [task, variant, runs_of_seeds(run_dirs), final_cell]
            paper = {r["env_step"]: r for r in _paper(task, run_dirs)}
            for m in MILESTONES:
                cells.append(_milestone_cell(values, steps, m))
                cells.append(f"{paper[m]['return_mean']:.1f} +- {paper[m]['return_std']:.1f}" if m in paper else "-")
            cells.append("; ".join(f"{curve[max(curve)]:.1f} ({max(curve)})" if curve else "-" for curve in curves))
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


DMC_MAX_RETURN = 1000.0  # DeepMind Control: rewards in [0, 1] over 1,000 steps
FEW_RUNS = 5  # below this many runs per task a bootstrap interval says little beyond the runs' range


def aggregate_table(groups: Groups, metric: str = "return_stochastic") -> str:
    """Markdown: per variant, the interquartile mean of the final returns over all its runs and tasks,
    with a 95% stratified bootstrap interval (rliable's definitions). Across tasks only normalised
    scores are pooled: divided by the paper's mean at the same env step when every task has one,
    else, for DeepMind Control tasks, by the maximum return 1,000. Raw returns of different tasks
    are not one population: such a variant gets one line saying so instead of an IQM, and so does one
    whose runs have only the evaluation before learning (env step 0)."""
    variants = sorted({v for vs in groups.values() for v in vs})
    lines = ["| variant | tasks | runs | env step | scores | IQM | 95% CI |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    notes = []
    for variant in variants:
        per_task, final_steps = [], []
        for task, vs in groups.items():
            if variant not in vs:
                continue
            steps, values = seed_values(vs[variant], metric)
            if not len(steps):
                continue
            paper = {r["env_step"]: r["return_mean"] for r in _paper(task, vs[variant])}
            per_task.append((task, values[:, -1], paper.get(int(steps[-1]))))
            final_steps.append(int(steps[-1]))
        if not per_task:
            continue
        runs = sum(len(s) for _, s, _ in per_task)
        at = ", ".join(str(step) for step in sorted(set(final_steps)))
        if not any(final_steps):
            lines.append(f"| {variant} | {len(per_task)} | {runs} | {at} | - | "
                         "not computed: only the evaluation before learning | - |")
            continue
        if all(p for _, _, p in per_task):
            scores, kind = [s / p for _, s, p in per_task], "/ paper"
        elif len(per_task) == 1:
            scores, kind = [per_task[0][1]], "raw return"
        elif all(task.startswith("dmc/") for task, _, _ in per_task):
            scores, kind = [s / DMC_MAX_RETURN for _, s, _ in per_task], "/ 1000 (DMC max)"
        else:
            tasks = ", ".join(task for task, _, _ in per_task)
            lines.append(f"| {variant} | {len(per_task)} | {runs} | {at} | - | "
                         f"not computed: raw returns of different tasks ({tasks}) are not one population | - |")
            continue
        low, high = stratified_bootstrap_ci(scores)
        few = min(len(s) for s in scores) < FEW_RUNS
        lines.append(f"| {variant} | {len(scores)} | {runs} | {at} | {kind} | "
                     f"{iqm(np.concatenate(scores)):.3f} | [{low:.3f}, {high:.3f}]{' *' if few else ''} |")
        if few and not notes:
            notes.append(f"\n\\* fewer than {FEW_RUNS} runs of a task: the interval shows little more than the "
                         "range of these runs.")
    return "\n".join(lines + notes)


def write_tables(groups: Groups, out: str | Path, metric: str = "return_stochastic") -> Path:
    """`returns_table` and `aggregate_table` in one markdown file."""
    out = Path(out)
    out.write_text(f"# Results ({METRIC_ALIASES.get(metric, metric)})\n\n" + returns_table(groups, metric)
                   + "\n\n## Aggregate over tasks\n\n" + aggregate_table(groups, metric) + "\n")
    return out


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
