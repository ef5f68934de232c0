"""Every shock to the reward model in runs' training logs, and what the policy did next.

    python scripts/reward_shocks.py RUN [RUN ...] [--drop 8] [--dive 1.5]

A shock is a row of a run's RL phase in `metrics.csv` whose reward log-likelihood fell by more than
`--drop` nats from the row before (new rewards the model did not expect). For each one: the reward
log-likelihood before and after, the drift of the encoder's features in that row (how far the
representation moved; empty for runs logged before the column existed), alpha, the critic loss, Q
before and after, the policy's entropy before and its lowest in that row and the next, and whether
the policy dived (its entropy fell by more than `--dive` nats within those two rows). Prints a
markdown table and a line per run. Reads committed run files (docs/results/...) or run directories.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def rl_rows(run: Path) -> list[dict[str, str]]:
    """The RL phase's rows of a run's metrics.csv (pretraining rows have no policy)."""
    with (run / "metrics.csv").open(newline="") as f:
        return [row for row in csv.DictReader(f) if row["phase"] != "pretrain" and row["reward_ll"] and row["entropy"]]


def number(row: dict[str, str], column: str) -> float | None:
    value = row.get(column, "")
    return float(value) if value else None


def shocks(rows: list[dict[str, str]], drop: float, dive: float) -> list[dict[str, object]]:
    """One record per row whose reward log-likelihood fell by more than `drop` nats."""
    found = []
    for index in range(1, len(rows)):
        before, row = rows[index - 1], rows[index]
        fall = float(before["reward_ll"]) - float(row["reward_ll"])
        if fall <= drop:
            continue
        lowest = min(float(r["entropy"]) for r in rows[index : index + 2])
        found.append(
            {
                "env_step": int(row["env_step"]),
                "reward_ll": (float(before["reward_ll"]), float(row["reward_ll"])),
                "drift_features": number(row, "drift_features"),
                "alpha": float(row["alpha"]),
                "critic_loss": float(row["critic_loss"]),
                "q1": (float(before["q1"]), float(row["q1"])),
                "entropy": (float(before["entropy"]), lowest),
                "dived": float(before["entropy"]) - lowest > dive,
            }
        )
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--drop", type=float, default=8.0, help="nats the reward log-likelihood falls in one row")
    parser.add_argument("--dive", type=float, default=1.5, help="nats the entropy falls within the row and the next")
    args = parser.parse_args(argv)
    print("| run | env step | reward ll | feature drift | alpha | critic loss | Q | entropy (lowest next) | dived |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    summary = []
    for run in args.runs:
        if not (run / "metrics.csv").is_file():
            parser.error(f"{run}: no metrics.csv")
        found = shocks(rl_rows(run), args.drop, args.dive)
        for s in found:
            drift = "" if s["drift_features"] is None else f"{s['drift_features']:.2f}"
            print(
                f"| {run.name} | {s['env_step']:,} | {s['reward_ll'][0]:.1f} -> {s['reward_ll'][1]:.1f} | {drift} | "
                f"{s['alpha']:.3f} | {s['critic_loss']:.1f} | {s['q1'][0]:.1f} -> {s['q1'][1]:.1f} | "
                f"{s['entropy'][0]:.2f} -> {s['entropy'][1]:.2f} | {'yes' if s['dived'] else 'no'} |"
            )
        summary.append(f"- {run.name}: {len(found)} shocks, {sum(bool(s['dived']) for s in found)} followed by a dive")
    print()
    print("\n".join(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
