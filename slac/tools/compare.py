"""`slac compare`: runs set beside the authors' ten runs, one row per independent run.

For each task and variant (slac.tools.plot.variant_of): each run's return at every evaluation, the
authors' mean +- std and [min, max] over their runs at the same env step, how many of the run's
evaluations fall inside that range, and at one env step (100K by default) each run's rank among the
authors' runs and a Mann-Whitney U test of our runs against theirs. One run per seed is counted (the
one that went furthest; the first given on a tie): a second trajectory of a seed (a restart that
parted from the first, or a fork) is shown apart and never counted, since it shares the seed's
random collection and pretraining. No "final" step is reported: a run that did not reach a step is
listed as stopped where it stopped.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slac.errors import SlacError, TaskError
from slac.run.logging import read_csv
from slac.tools.plot import METRIC_ALIASES, read_config, variant_of

EXACT_LIMIT = 200_000  # splits enumerated for an exact p-value; beyond, a seeded Monte Carlo estimate


@dataclass
class RunCurve:
    """One run's evaluations: `returns[env_step]`, the furthest env step it logged (`last_step`),
    whether its last logged row was a pretraining one (`last_phase`), and then that row's update
    (`pretrain_update`) of the run's `pretrain_steps`."""

    path: Path
    task: str
    variant: str
    seed: int | None
    decoder_var: float | None
    returns: dict[int, float]
    last_step: int
    last_phase: str = ""
    pretrain_update: int | None = None
    pretrain_steps: int | None = None


@dataclass
class Comparison:
    """The runs of one task and variant: `counted` (one per seed) and `apart` (further trajectories
    of a counted seed), and the authors' curve at the run's decoder variance (empty when none)."""

    task: str
    variant: str
    counted: list[RunCurve]
    apart: list[RunCurve]
    reference: dict[int, dict]


def read_run(run_dir: str | Path, metric: str = "return_stochastic") -> RunCurve:
    """A run directory's config.json and eval.csv (metrics.csv, when present, for how far it went)."""
    run_dir = Path(run_dir)
    if not (run_dir / "eval.csv").is_file():
        raise SlacError(f"not a run directory (no eval.csv): {run_dir}")
    config = read_config(run_dir)
    metric = METRIC_ALIASES.get(metric, metric)
    rows = read_csv(run_dir / "eval.csv")
    if rows and metric not in rows[0]:
        raise SlacError(f"eval.csv of {run_dir} has no column {metric!r}")
    returns = {int(r["env_step"]): float(r[metric]) for r in rows if isinstance(r[metric], float)}
    steps, phase, update = list(returns), "", None
    if (run_dir / "metrics.csv").is_file():
        metrics = read_csv(run_dir / "metrics.csv")
        steps += [int(r["env_step"]) for r in metrics]
        phase = str(metrics[-1]["phase"]) if metrics else ""
        if phase == "pretrain" and isinstance(metrics[-1].get("update"), float):
            update = int(metrics[-1]["update"])
    total = config.get("pretrain_steps")
    return RunCurve(run_dir, config.get("task", "?"), variant_of(config), config.get("seed"),
                    config.get("decoder_var"), returns, max(steps, default=0), phase, update,
                    int(total) if isinstance(total, (int, float)) else None)


def independent_runs(runs: list[RunCurve]) -> tuple[list[RunCurve], list[RunCurve]]:
    """(counted, apart): per seed, the run that reached the furthest env step (the first given on a
    tie) is counted, the others are apart; a run without a seed is counted."""
    best: dict[int, RunCurve] = {}
    for run in runs:
        if run.seed is not None and (run.seed not in best or run.last_step > best[run.seed].last_step):
            best[run.seed] = run
    counted = [r for r in runs if r.seed is None or best[r.seed] is r]
    return counted, [r for r in runs if r not in counted]


def reference_curve(task: str, decoder_var: float | None) -> dict[int, dict]:
    """The authors' curve by env step (slac.tools.reference.paper_curve), or {} where they published none."""
    from slac.tools.reference import paper_curve

    try:
        return {r["env_step"]: r for r in paper_curve(task, decoder_var)}
    except TaskError:
        return {}


def compare(run_dirs: list[str | Path], metric: str = "return_stochastic", reference: bool = True) -> list[Comparison]:
    """The runs grouped by task and variant, in the order given, each group split by seed."""
    groups: dict[tuple[str, str], list[RunCurve]] = {}
    for run_dir in run_dirs:
        run = read_run(run_dir, metric)
        groups.setdefault((run.task, run.variant), []).append(run)
    comparisons = []
    for (task, variant), runs in groups.items():
        counted, apart = independent_runs(runs)
        curve = reference_curve(task, runs[0].decoder_var) if reference else {}
        comparisons.append(Comparison(task, variant, counted, apart, curve))
    return comparisons


# ---------------------------------------------------------------------------------------- statistics
def inside_range(run: RunCurve, reference: dict[int, dict]) -> tuple[int, int]:
    """(evaluations inside the authors' [min, max] at the same env step, evaluations they have a point for)."""
    shared = [step for step in run.returns if step in reference]
    inside = sum(reference[s]["return_min"] <= run.returns[s] <= reference[s]["return_max"] for s in shared)
    return inside, len(shared)


def rank_among(value: float, theirs: tuple[float, ...]) -> int:
    """1 + how many of the authors' returns are above `value` (1: at or above all of them)."""
    return 1 + sum(t > value for t in theirs)


def mann_whitney_u(ours: list[float], theirs: list[float], seed: int = 0) -> tuple[float, float, str]:
    """(U of `ours`, two-sided p-value, how p was computed). U counts the pairs (ours, theirs) where
    ours is higher, ties as one half. p is the share of all splits of the pooled returns into groups
    of these sizes whose U is at least as far from n1 n2 / 2 as ours: exact by enumeration up to
    EXACT_LIMIT splits (ties handled as they fall), else 100,000 seeded random splits."""
    x, y = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    n1, n2 = len(x), len(y)
    if not n1 or not n2:
        raise ValueError("both groups need at least one return")
    pooled = np.concatenate([x, y])

    def u_of(mask: np.ndarray) -> np.ndarray:  # (S, N) bool rows: True for the first group
        a = np.where(mask[:, :, None], pooled[None, :, None], np.nan)  # first group's values
        b = np.where(~mask[:, None, :], pooled[None, None, :], np.nan)  # second group's
        return np.nansum((a > b) + 0.5 * (a == b), axis=(1, 2))

    observed = float(np.sum((x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])))
    total = math.comb(n1 + n2, n1)
    if total <= EXACT_LIMIT:
        splits = np.zeros((total, n1 + n2), dtype=bool)
        for row, chosen in enumerate(itertools.combinations(range(n1 + n2), n1)):
            splits[row, list(chosen)] = True
        method = "exact"
    else:
        rng = np.random.default_rng(seed)
        splits = np.argsort(rng.random((100_000, n1 + n2)), axis=1) < n1
        method = "Monte Carlo, 100,000 splits"
    centre = n1 * n2 / 2
    distances = np.concatenate([np.abs(u_of(part) - centre) for part in np.array_split(splits, max(1, len(splits) // 4096))])
    p = float(np.mean(distances >= abs(observed - centre) - 1e-9))
    return observed, p, method


# ---------------------------------------------------------------------------------------- tables
def _k(step: int) -> str:
    return f"{step // 1000}K" if step % 1000 == 0 and step else str(step)


def _stopped(run: RunCurve) -> str:
    """Where a run stopped; while pretraining, with the update of its last metrics.csv row, e.g.
    "stopped at 10,000 (pretraining the model: 12,250 of 50,000 updates logged)"."""
    if run.last_phase != "pretrain":
        return f"stopped at {run.last_step:,}"
    if run.pretrain_update is None:
        return f"stopped at {run.last_step:,} (pretraining the model)"
    of = f" of {run.pretrain_steps:,}" if run.pretrain_steps is not None else ""
    return f"stopped at {run.last_step:,} (pretraining the model: {run.pretrain_update:,}{of} updates logged)"


def _status(run: RunCurve, at: int) -> str:
    return f"reached {_k(at)}" if at in run.returns else _stopped(run)


def run_table(comparison: Comparison, at: int) -> str:
    """Markdown: a row per counted run (then each run apart, marked), its return at every evaluation,
    the evaluations inside the authors' range; then the authors' mean +- std and [min, max] rows."""
    runs = comparison.counted + comparison.apart
    steps = sorted({s for run in runs for s in run.returns})
    ref = comparison.reference
    head = ["run", "seed", "status", *(_k(s) for s in steps)] + (["inside authors' range"] if ref else [])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for run in runs:
        name = run.path.name + ("" if run in comparison.counted else " (apart: not counted)")
        cells = [name, "-" if run.seed is None else str(run.seed), _status(run, at)]
        cells += [f"{run.returns[s]:.1f}" if s in run.returns else "" for s in steps]
        if ref:
            inside, shared = inside_range(run, ref)
            cells.append(f"{inside} of {shared}")
        lines.append("| " + " | ".join(cells) + " |")
    if ref:
        seeds = max((ref[s]["seeds"] for s in steps if s in ref), default=0)
        mean = [f"{ref[s]['return_mean']:.1f} +- {ref[s]['return_std']:.1f}" if s in ref else "" for s in steps]
        span = [f"[{ref[s]['return_min']:.1f}, {ref[s]['return_max']:.1f}]" if s in ref else "" for s in steps]
        lines.append("| " + " | ".join([f"authors, mean +- std ({seeds} runs)", "", "", *mean, ""]) + " |")
        lines.append("| " + " | ".join(["authors, [min, max]", "", "", *span, ""]) + " |")
    return "\n".join(lines)


def rank_summary(comparison: Comparison, at: int) -> dict:
    """At env step `at`: our counted runs that reached it, their returns and ranks among the
    authors' runs, how many are inside the authors' range, and the Mann-Whitney U test."""
    reached = [run for run in comparison.counted if at in run.returns]
    ref = comparison.reference.get(at)
    summary = {"reached": reached, "stopped": [r for r in comparison.counted if at not in r.returns], "reference": ref}
    if ref and reached:
        ours = [run.returns[at] for run in reached]
        summary["ranks"] = [rank_among(v, ref["returns"]) for v in ours]
        summary["inside"] = sum(ref["return_min"] <= v <= ref["return_max"] for v in ours)
        summary["u"], summary["p"], summary["method"] = mann_whitney_u(ours, list(ref["returns"]))
    return summary


def summary_table(comparisons: list[Comparison], at: int) -> str:
    """Markdown, a row per task and variant: counted runs, how many reached `at`, their returns and
    ranks there, the authors' mean +- std [min, max], how many of ours are inside it, and U with p."""
    head = ["task", "variant", "runs (seeds)", f"reached {_k(at)}", f"ours @{_k(at)}", f"authors @{_k(at)}",
            "inside authors' range", "rank among authors' runs", "Mann-Whitney U, p"]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for comparison in comparisons:
        s = rank_summary(comparison, at)
        runs = len(comparison.counted)
        reached = ", ".join(f"{r.returns[at]:.1f}" for r in s["reached"]) or "-"
        stopped = "; ".join(f"{run.path.name if run.seed is None else f's{run.seed}'} {_stopped(run)}"
                            for run in s["stopped"])
        ref = s["reference"]
        authors = (f"{ref['return_mean']:.1f} +- {ref['return_std']:.1f} [{ref['return_min']:.1f}, "
                   f"{ref['return_max']:.1f}]") if ref else "no published curve"
        cells = [comparison.task, comparison.variant, str(runs), f"{len(s['reached'])} of {runs}",
                 reached + (f" ({stopped})" if stopped else ""), authors]
        if "ranks" in s:
            n = len(ref["returns"]) + 1
            cells += [f"{s['inside']} of {len(s['reached'])}", ", ".join(f"{k} of {n}" for k in s["ranks"]),
                      f"U = {s['u']:g}, p = {s['p']:.3f}"]
        else:
            cells += ["-", "-", "-"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(comparisons: list[Comparison], at: int = 100_000, plot: str | None = None) -> str:
    """The whole comparison as markdown: the summary, how to read it, then each group's runs."""
    lines = ["# Runs beside the authors' runs", "",
             f"Evaluation return of the stochastic policy (what the authors' curves show). One run per seed is "
             f"counted; a further trajectory of a seed is shown apart. At {_k(at)}: each counted run's rank among "
             f"the authors' runs (1 = above all of them) and a two-sided Mann-Whitney U test of our runs against "
             f"theirs (U counts the pairs where ours is higher; with a few runs of ours, only a large gap can give "
             f"a small p, and a large p does not show the two agree).", "", summary_table(comparisons, at)]
    if plot:
        lines += ["", f"![runs beside the authors' runs]({plot})"]
    for comparison in comparisons:
        lines += ["", f"## {comparison.task}: {comparison.variant}", "", run_table(comparison, at)]
        stats = rank_summary(comparison, at)
        if "method" in stats:
            ours = len(stats["reached"])
            lines += ["", f"Mann-Whitney U at {_k(at)} ({ours} run{'s' if ours > 1 else ''} against "
                          f"{len(stats['reference']['returns'])}): U = {stats['u']:g}, p = {stats['p']:.3f} "
                          f"({stats['method']})."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------- plot
def plot_comparison(comparisons: list[Comparison], out: str | Path, at: int = 100_000) -> Path:
    """A panel per task: each counted run as its own line (a colour per variant, a line style per run;
    runs apart dotted, thinner), over the authors' mean (dashed black) with their [min, max] shaded;
    the legend beside the panels, clear of the curves. The x axis reaches `at` at least, so a run that
    stopped early is seen against the authors' whole curve to that step."""
    from slac.tools.plot import _pyplot

    plt = _pyplot()
    tasks = list(dict.fromkeys(c.task for c in comparisons))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks) + 2.5, 4), dpi=100, squeeze=False)
    for ax, task in zip(axes[0], tasks):
        last = at
        group = [c for c in comparisons if c.task == task]
        for colour, comparison in zip(itertools.cycle(plt.rcParams["axes.prop_cycle"].by_key()["color"]), group):
            styles = itertools.cycle([("-", "o"), ("--", "s"), ("-.", "^"), ((0, (5, 1, 1, 1)), "D")])
            for run in comparison.counted + comparison.apart:
                steps = sorted(run.returns)
                apart = run not in comparison.counted
                linestyle, marker = (":", "") if apart else next(styles)
                label = f"{comparison.variant}: {run.path.name}" + (" (apart)" if apart else "")
                ax.plot(steps, [run.returns[s] for s in steps], color=colour, marker=marker, markersize=3,
                        linestyle=linestyle, linewidth=1 if apart else 1.6, label=label)
                last = max(last, run.last_step, *steps)
        ref = next((c.reference for c in group if c.reference), {})
        if ref:
            xs = [s for s in sorted(ref) if s <= last * 1.05]
            ax.plot(xs, [ref[s]["return_mean"] for s in xs], color="black", linestyle="--",
                    label=f"authors: mean of {max(ref[s]['seeds'] for s in xs)} runs")
            ax.fill_between(xs, [ref[s]["return_min"] for s in xs], [ref[s]["return_max"] for s in xs],
                            color="grey", alpha=0.25, label="authors: [min, max]")
        ax.set_xlim(0, last * 1.05)
        ax.set_title(task, fontsize=10)
        ax.set_xlabel("environment steps")
        ax.set_ylabel("evaluation return (stochastic policy)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return Path(out)
