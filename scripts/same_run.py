"""Whether two run directories hold the same run, row for row.

    python scripts/same_run.py RUN_A RUN_B

Compares `metrics.csv` and `eval.csv` of two runs (run directories or their committed copies under
docs/results/) on the rows both have, matched by (phase, env step, update) so runs logged at different
intervals compare where their rows meet, in every column but the wall-clock ones (`steps_per_s`,
`wall_time_s`) and, when the two logged at different intervals (`log_interval` in their config.json),
the drift columns, which measure the change since the previous row. A run restarted from scratch with the same command
and seed on another machine, or continued from a copied checkpoint, is the same run when every
shared row is equal; the first row that differs is printed otherwise. Exit status 0 when all shared
rows are equal, 1 when one differs.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

TIMING_COLUMNS = frozenset({"steps_per_s", "wall_time_s"})


def read_rows(path: Path) -> list[dict[str, str]]:
    """The rows of one CSV file, or none when the file is absent."""
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def log_interval(run: Path) -> int | None:
    """The run's `log_interval` from its config.json, or None when it cannot be read."""
    try:
        return int(json.loads((run / "config.json").read_text())["log_interval"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def row_key(row: dict[str, str]) -> tuple[str, str, str]:
    """Where a row stands in its run: phase (metrics only), env step, update."""
    return row.get("phase", ""), row.get("env_step", ""), row.get("update", "")


def shared_rows(rows_a: list[dict[str, str]], rows_b: list[dict[str, str]]) -> list[tuple[dict, dict]]:
    """Pairs of rows of A and B at the same (phase, env step, update), in A's order."""
    by_key = {row_key(row): row for row in rows_b}
    return [(row, by_key[row_key(row)]) for row in rows_a if row_key(row) in by_key]


def first_difference(pairs: list[tuple[dict, dict]], skip: frozenset[str]) -> tuple[int, list[str]] | None:
    """Index of the first pair that differs outside `skip` and the columns that differ there, or None."""
    for index, (a, b) in enumerate(pairs):
        columns = [k for k in a if k not in skip and a[k] != b.get(k)]
        if columns:
            return index, columns
    return None


def compare(file_name: str, run_a: Path, run_b: Path) -> bool:
    """Print the comparison of one file; True when every shared row is equal."""
    rows_a, rows_b = read_rows(run_a / file_name), read_rows(run_b / file_name)
    pairs = shared_rows(rows_a, rows_b)
    skip = TIMING_COLUMNS
    if log_interval(run_a) != log_interval(run_b):
        skip = skip | {k for k in (rows_a[0] if rows_a else {}) if k.startswith("drift_")}
    counts = f"{len(pairs)} shared rows of {len(rows_a)} / {len(rows_b)}"
    if skip != TIMING_COLUMNS:
        counts += " (log intervals differ: drift columns not compared)"
    found = first_difference(pairs, skip)
    if found is None:
        last = pairs[-1][0] if pairs else {}
        where = f" (to env step {last.get('env_step')}, update {last.get('update')})" if pairs else ""
        print(f"{file_name}: {counts}, all equal{where}")
        return True
    index, columns = found
    a, b = pairs[index]
    print(f"{file_name}: {counts}; the {index + 1}th differs (env step {a.get('env_step')}, update {a.get('update')})")
    for column in columns[:8]:
        print(f"  {column}: {a[column]} / {b.get(column)}")
    return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    args = parser.parse_args(argv)
    for run in (args.run_a, args.run_b):
        if not (run / "metrics.csv").is_file() and not (run / "eval.csv").is_file():
            parser.error(f"{run} holds neither metrics.csv nor eval.csv")
    same = [compare(name, args.run_a, args.run_b) for name in ("metrics.csv", "eval.csv")]
    return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
