"""slac compare: one row per seed beside the authors' ten runs, checked against the published numbers."""

import csv
import itertools
import json
import statistics

import imageio.v2 as imageio
import numpy as np
import pytest
from scipy.stats import mannwhitneyu

from slac.cli import main
from slac.tools.compare import compare, mann_whitney_u, rank_among, report

# The authors' ten ball_in_cup-catch runs at decoder variance 0.04 (their published CSV,
# AverageReturnEvalPolicy at OriginalEnvironmentSteps 100000 and 50000, trial ids 0-9).
AUTHORS_100K = [932.8, 885.7, 920.4, 930.5, 922.3, 902.6, 903.8, 905.0, 905.9, 966.6]
STEPS = list(range(0, 100_001, 10_000))


def make_run(path, seed, returns, task="dmc/ball_in_cup-catch", last_step=None, last_phase="train", **config):
    """A run directory as slac writes it: config.json, eval.csv and metrics.csv (its last row at `last_step`)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"task": task, "seed": seed, "model": "slac", "agent": "slac",
                                                  "decoder_var": 0.04, "pretrain_steps": 50_000, **config}))
    with open(path / "eval.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["env_step", "return_stochastic", "return_deterministic"])
        for step, value in zip(STEPS, returns):
            writer.writerow([step, value, value])
    with open(path / "metrics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["env_step", "update", "phase"])
        writer.writerow([last_step if last_step is not None else STEPS[len(returns) - 1], 10, last_phase])
    return path


@pytest.fixture
def runs(tmp_path):
    """Seed 1 to 100K; a second trajectory of seed 1 that stopped at 72,812 (a pooled seed); seed 2 to
    100K; seed 3 stopped at 60,000 (one run that did not reach the step of the test); seed 4 stopped
    while pretraining; an fp32 and a bf16 variant."""
    bf16 = {"precision": "bf16"}
    return [
        make_run(tmp_path / "s1-first", 1, [0, 96.5, 198.6, 500.0, 620.4, 575.5, 753.9, 928.6], last_step=72_812, **bf16),
        make_run(tmp_path / "s1-again", 1, [0, 96.5, 198.6, 489.9, 289.7, 292.2, 828.0, 748.9, 820.9, 942.0, 836.4], **bf16),
        make_run(tmp_path / "s2", 2, [17.1, 30.3, 125.0, 5.9, 99.6, 94.7, 71.1, 254.7, 0.8, 273.3, 407.2], **bf16),
        make_run(tmp_path / "s3", 3, [5, 20, 80, 420, 600, 890, 900], last_step=60_000),
        make_run(tmp_path / "s4", 4, [3.0], last_step=10_000, last_phase="pretrain"),
        make_run(tmp_path / "s5", 5, [10, 15, 70, 400, 500, 800, 810, 880, 890, 930, 950]),
    ]


def table(text, header_start):
    """The markdown table whose header starts with `header_start`, as lists of cells."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {header_start}"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[0], rows[2:]


def test_one_row_per_seed_the_second_trajectory_apart_and_nothing_pooled(runs):
    groups = compare(runs)
    assert [(c.variant, [r.path.name for r in c.counted], [r.path.name for r in c.apart]) for c in groups] == [
        ("slac, precision=bf16", ["s1-again", "s2"], ["s1-first"]),  # seed 1's furthest run is counted
        ("slac", ["s3", "s4", "s5"], []),
    ]
    head, rows = table(report(groups), "task")
    bf16, fp32 = rows
    assert bf16[head.index("runs (seeds)")] == "2" and bf16[head.index("reached 100K")] == "2 of 2"
    assert bf16[head.index("ours @100K")] == "836.4, 407.2"  # never the pooled mean of seed 1's two runs
    assert fp32[head.index("reached 100K")] == "1 of 3"
    assert fp32[head.index("ours @100K")] == "950.0 (s3 stopped at 60,000; s4 stopped at 10,000 (pretraining the model))"


def test_the_authors_columns_equal_their_published_runs(runs):
    text = report(compare(runs))
    head, rows = table(text, "task")
    authors = rows[0][head.index("authors @100K")]
    mean, std = statistics.fmean(AUTHORS_100K), statistics.pstdev(AUTHORS_100K)
    assert authors == f"{mean:.1f} +- {std:.1f} [{min(AUTHORS_100K):.1f}, {max(AUTHORS_100K):.1f}]"
    assert authors == "917.6 +- 21.3 [885.7, 966.6]"
    # both bf16 runs are below all ten of the authors' runs: rank 11 of 11, the smallest U and its exact p
    assert rows[0][head.index("rank among authors' runs")] == "11 of 11, 11 of 11"
    assert rows[0][head.index("inside authors' range")] == "0 of 2"
    assert rows[0][head.index("Mann-Whitney U, p")] == f"U = 0, p = {2 / 66:.3f}"  # 2 of the C(12, 2) splits
    # the one fp32 run that reached 100K: 950.0 is above 9 of the 10 (966.6 is higher): rank 2 of 11
    assert rows[1][head.index("rank among authors' runs")] == "2 of 11"
    assert rows[1][head.index("inside authors' range")] == "1 of 1"


def test_each_runs_evaluations_and_the_count_inside_the_authors_range(runs):
    text = report(compare(runs))
    head, rows = table(text, "run")  # the first group's per-run table
    by_name = {row[0]: row for row in rows}
    again = by_name["s1-again"]
    assert again[head.index("status")] == "reached 100K"
    assert again[head.index("30K")] == "489.9" and again[head.index("100K")] == "836.4"
    # by hand, against the authors' [min, max] at each step (their CSV): 30K, 40K, 60K, 80K and 90K inside
    assert again[head.index("inside authors' range")] == "5 of 11"
    first = by_name["s1-first (apart: not counted)"]
    assert first[head.index("status")] == "stopped at 72,812" and first[head.index("80K")] == ""
    span = by_name["authors, [min, max]"]
    assert span[head.index("100K")] == f"[{min(AUTHORS_100K):.1f}, {max(AUTHORS_100K):.1f}]"
    _, rows = table(text.split("## dmc/ball_in_cup-catch: slac\n")[1], "run")
    assert {row[0]: row[2] for row in rows}["s4"] == "stopped at 10,000 (pretraining the model)"


def test_rank_counts_the_authors_runs_above():
    assert rank_among(836.4, tuple(AUTHORS_100K)) == 11
    assert rank_among(970.0, tuple(AUTHORS_100K)) == 1
    assert rank_among(905.0, tuple(AUTHORS_100K)) == 1 + sum(a > 905.0 for a in AUTHORS_100K) == 7


@pytest.mark.parametrize("ours", [[836.4, 407.2], [950.0], [930.0, 910.1, 899.0, 960.0], [1.0, 2.0, 3.0, 4.0, 5.0, 6.0,
                                                                                           7.0, 8.0, 9.0, 10.0, 11.0]])
def test_mann_whitney_u_equals_scipys_exact_test(ours):
    u, p, method = mann_whitney_u(ours, AUTHORS_100K)
    expected = mannwhitneyu(ours, AUTHORS_100K, alternative="two-sided", method="exact")
    assert u == expected.statistic
    assert method == "exact" if len(ours) < 11 else method.startswith("Monte Carlo")
    assert p == pytest.approx(expected.pvalue, abs=1e-9 if method == "exact" else 0.01)


def test_mann_whitney_u_with_ties_is_the_share_of_splits_at_least_as_far():
    ours, theirs = [900.0, 905.0], [905.0, 905.0, 880.0, 910.0]
    u, p, _ = mann_whitney_u(ours, theirs)
    assert u == 3  # 900 > 880; 905 > 880 and ties with 905 twice (one half each)
    pooled = ours + theirs
    far = 0
    for chosen in itertools.combinations(range(6), 2):
        a = [pooled[i] for i in chosen]
        b = [pooled[i] for i in range(6) if i not in chosen]
        split_u = sum((x > y) + 0.5 * (x == y) for x in a for y in b)
        far += abs(split_u - 4) >= abs(u - 4)
    assert p == pytest.approx(far / 15)


def test_the_command_writes_the_report_and_a_plot_with_the_legend_beside_the_panel(runs, tmp_path, capsys):
    out, plot = tmp_path / "report.md", tmp_path / "compare.png"
    assert main(["compare", *map(str, runs), "--out", str(out), "--plot", str(plot)]) == 0
    text = out.read_text()
    assert "![runs beside the authors' runs](compare.png)" in text
    image = imageio.imread(plot)
    assert image.shape[:2] == (400, 800)  # one 5.5-inch panel and 2.5 inches of legend at 100 dpi
    legend_side = image[40:360, 560:790, :3].astype(int)
    assert (np.abs(legend_side - 255).sum(-1) > 0).mean() > 0.02  # the legend is drawn beside the panel
    assert main(["compare", str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err


def test_without_a_published_curve_the_runs_are_listed_and_nothing_is_ranked(tmp_path):
    run = make_run(tmp_path / "toy", 0, [1.0, 2.0], task="toy/reach")
    head, rows = table(report(compare([run])), "task")
    assert rows[0][head.index("authors @100K")] == "no published curve"
    assert rows[0][head.index("rank among authors' runs")] == "-"
