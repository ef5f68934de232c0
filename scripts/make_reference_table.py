"""Build slac/tools/data/paper_slac_official.csv from the authors' published evaluation returns.

    python scripts/make_reference_table.py ../shared/reference/slac-official

Input: one CSV per DMC task (10 seeds per task and decoder variance, every 10,000 env steps;
the stochastic policy's average return). Output: mean, std, minimum, maximum, seed count and each
run's return (ordered by the authors' trial id) per task, action repeat, decoder variance and env
step (after action repeat, including random collection).
"""

from __future__ import annotations

import csv
import statistics
import sys
from collections import defaultdict
from pathlib import Path

HEADER = """# The authors' published SLAC learning curves (Lee et al., NeurIPS 2020), summarised per
# task, decoder variance and env step: mean, population std, minimum and maximum over seeds of
# the evaluation return of the stochastic policy, and each seed's return (`returns`, by the
# authors' trial id, ";"-separated, to 0.01). Source: the authors' released per-seed evaluation CSVs
# (dm_control_<domain>_<task>_slac.csv), column AverageReturnEvalPolicy against
# OriginalEnvironmentSteps (env steps after action repeat, including random collection).
# `seeds` counts the runs behind a point (10; 6-9 at a few late points). Rebuilt by
# scripts/make_reference_table.py.
"""


def main(source: Path, out: Path) -> None:
    groups: dict[tuple, list[tuple[int, float]]] = defaultdict(list)
    for path in sorted(source.glob("dm_control_*_slac.csv")):
        with open(path, newline="") as handle:
            for row in csv.DictReader(handle):
                task = f"dmc/{row['domain_name']}-{row['task_name']}"
                key = (task, int(float(row["action_repeat"])), float(row["decoder_var"]),
                       int(float(row["OriginalEnvironmentSteps"])))
                groups[key].append((int(float(row["trial_id"])), float(row["AverageReturnEvalPolicy"])))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        handle.write(HEADER)
        writer = csv.writer(handle)
        writer.writerow(["task", "action_repeat", "decoder_var", "env_step", "return_mean", "return_std", "seeds",
                         "return_min", "return_max", "returns"])
        for key in sorted(groups):
            values = [value for _, value in sorted(groups[key])]
            writer.writerow([*key, round(statistics.fmean(values), 3), round(statistics.pstdev(values), 3), len(values),
                             round(min(values), 2), round(max(values), 2), ";".join(f"{round(v, 2):g}" for v in values)])


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) > 2 else Path("slac/tools/data/paper_slac_official.csv"))
