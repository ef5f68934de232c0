"""How often the authors' own runs dip, by decoder variance.

    python scripts/authors_dips.py ../shared/reference/slac-official/dm_control_ball_in_cup_catch_slac.csv [--drop 300]

Reads the authors' published per-run evaluations (a CSV with decoder_var, trial_id,
AverageReturnEvalPolicy and OriginalEnvironmentSteps columns: 10 runs per decoder variance,
an evaluation every 10,000 env steps to 2M) and counts, for each decoder variance, the evaluations
that fell by more than `--drop` from the one before; how many of those were back within 100 of the
value before the fall at the next evaluation; how many fell by 100K env steps; and, after a run's
first evaluation of 900 or more, how many evaluations read below 500. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import csv
from collections import defaultdict
from pathlib import Path


def runs_by_decoder_var(path: Path) -> dict[float, list[list[tuple[int, float]]]]:
    """Each decoder variance's runs, each a list of (env step, evaluation return) in step order."""
    runs: dict[tuple[float, str], list[tuple[int, float]]] = defaultdict(list)
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            key = (float(row["decoder_var"]), row["trial_id"])
            runs[key].append((int(float(row["OriginalEnvironmentSteps"])), float(row["AverageReturnEvalPolicy"])))
    grouped: dict[float, list[list[tuple[int, float]]]] = defaultdict(list)
    for (decoder_var, _), evaluations in sorted(runs.items()):
        grouped[decoder_var].append(sorted(evaluations))
    return dict(grouped)


def dips(evaluations: list[tuple[int, float]], drop: float) -> dict[str, int]:
    """Falls of more than `drop` between evaluations, their recoveries, and low evaluations after 900."""
    falls = [k for k in range(1, len(evaluations)) if evaluations[k - 1][1] - evaluations[k][1] > drop]
    back = [k for k in falls if k + 1 < len(evaluations) and evaluations[k + 1][1] >= evaluations[k - 1][1] - 100]
    first_900 = next((step for step, value in evaluations if value >= 900), None)
    after = [value for step, value in evaluations if first_900 is not None and step > first_900]
    return {
        "falls": len(falls),
        "back_next": len(back),
        "falls_by_100k": sum(1 for k in falls if evaluations[k][0] <= 100_000),
        "low_after_900": sum(1 for value in after if value < 500),
        "after_900": len(after),
        "evaluations": len(evaluations),
        "last_step": evaluations[-1][0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path)
    parser.add_argument("--drop", type=float, default=300.0, help="a fall between two evaluations larger than this")
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        parser.error(f"{args.csv}: no such file")
    print(
        f"| decoder variance | runs | evaluations (to env step) | falls > {args.drop:g} | back at the next evaluation "
        "| falls by 100K | below 500 after a run's first 900 |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for decoder_var, runs in sorted(runs_by_decoder_var(args.csv).items()):
        counts = [dips(evaluations, args.drop) for evaluations in runs]
        total = {key: sum(c[key] for c in counts) for key in counts[0]}
        last = max(c["last_step"] for c in counts)
        print(
            f"| {decoder_var:g} | {len(runs)} | {total['evaluations']} (to {last:,}) | {total['falls']} | "
            f"{total['back_next']} | {total['falls_by_100k']} | {total['low_after_900']} of {total['after_900']} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
