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
from slac.errors import SlacError
from slac.tools.compare import compare, mann_whitney_u, rank_among, report

# The authors' ten ball_in_cup-catch runs at decoder variance 0.04 (their published CSV,
# AverageReturnEvalPolicy at OriginalEnvironmentSteps 100000 and 50000, trial ids 0-9).
AUTHORS_100K = [932.8, 885.7, 920.4, 930.5, 922.3, 902.6, 903.8, 905.0, 905.9, 966.6]
STEPS = list(range(0, 100_001, 10_000))


def make_run(path, seed, returns, task="dmc/ball_in_cup-catch", last_step=None, last_phase="train", deterministic=None,
             update=10, **config):
    """A run directory as slac writes it: config.json, eval.csv (the deterministic column the
    stochastic one unless given) and metrics.csv (its last row at `last_step` and `update`; none when
    `last_phase` is None). `pretrain_steps=None` writes it as null (unknown)."""
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps({"task": task, "seed": seed, "model": "slac", "agent": "slac",
                                                  "decoder_var": 0.04, "pretrain_steps": 50_000, **config}))
    with open(path / "eval.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["env_step", "return_stochastic", "return_deterministic"])
        for step, value, other in zip(STEPS, returns, deterministic or returns):
            writer.writerow([step, value, other])
    if last_phase is None:
        return path
    with open(path / "metrics.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["env_step", "update", "phase"])
        writer.writerow([last_step if last_step is not None else STEPS[len(returns) - 1], update, last_phase])
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
        make_run(tmp_path / "s4", 4, [3.0], last_step=10_000, last_phase="pretrain", update=12_250),
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
    assert fp32[head.index("ours @100K")] == (
        "950.0 (s3 stopped at 60,000; s4 stopped at 10,000 (pretraining the model: 12,250 of 50,000 updates logged))")


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
    assert {row[0]: row[2] for row in rows}["s4"] == "stopped at 10,000 (pretraining the model: 12,250 of 50,000 updates logged)"


def test_a_run_stopped_while_pretraining_shows_its_last_logged_update(tmp_path):
    """The pretraining row's update, of the config's pretrain_steps when it has one; a training row's
    update (the RL updates) is never shown as a pretraining one."""
    from slac.tools.compare import _stopped, read_run

    run = read_run(make_run(tmp_path / "a", 1, [3.0], last_step=10_000, last_phase="pretrain", update=4_321,
                            pretrain_steps=100_000))
    assert (run.last_step, run.last_phase, run.pretrain_update, run.pretrain_steps) == (10_000, "pretrain", 4_321, 100_000)
    assert _stopped(run) == "stopped at 10,000 (pretraining the model: 4,321 of 100,000 updates logged)"
    unknown_total = read_run(make_run(tmp_path / "b", 1, [3.0], last_step=10_000, last_phase="pretrain",
                                      pretrain_steps=None))
    assert _stopped(unknown_total) == "stopped at 10,000 (pretraining the model: 10 updates logged)"
    training = read_run(make_run(tmp_path / "c", 1, [3.0, 8.0], last_step=12_000, update=500))
    assert training.pretrain_update is None and _stopped(training) == "stopped at 12,000"


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
    text = report(compare([run]))
    head, rows = table(text, "task")
    assert rows[0][head.index("authors @100K")] == "no published curve"
    assert rows[0][head.index("rank among authors' runs")] == "-"
    head, rows = table(text, "run")
    assert head == ["run", "seed", "status", "0", "10K"] and rows == [["toy", "0", "stopped at 10,000", "1.0", "2.0"]]


def test_a_run_without_a_config_or_evaluations_is_listed_as_what_it_is(tmp_path):
    from slac.tools.compare import read_run

    bare = make_run(tmp_path / "bare", 0, [])  # eval.csv without rows, metrics.csv at 0
    (bare / "config.json").unlink()
    (bare / "metrics.csv").unlink()
    run = read_run(bare)
    assert (run.task, run.variant, run.seed, run.returns, run.last_step, run.last_phase) == ("?", "slac", None, {}, 0, "")
    with pytest.raises(SlacError, match=r"^eval.csv of .*/r has no column 'return_typo'$"):
        read_run(make_run(tmp_path / "r", 1, [1.0]), metric="return_typo")


# A comparison built by hand (not from the shipped table): the authors' three runs at 0, 10K and 20K.
HAND_REFERENCE = {
    0: {"env_step": 0, "return_mean": 4.0, "return_std": 1.0, "return_min": 2.0, "return_max": 6.0, "seeds": 3,
        "returns": (2.0, 4.0, 6.0)},
    10_000: {"env_step": 10_000, "return_mean": 20.0, "return_std": 2.0, "return_min": 18.0, "return_max": 22.0,
             "seeds": 3, "returns": (18.0, 20.0, 22.0)},
    20_000: {"env_step": 20_000, "return_mean": 30.0, "return_std": 5.0, "return_min": 25.0, "return_max": 35.0,
             "seeds": 3, "returns": (25.0, 30.0, 35.0)},
}


def hand_comparison(tmp_path):
    from slac.tools.compare import Comparison, RunCurve

    # a: on the authors' min and max (inside, ends included); b: no seed, stopped while pretraining;
    # c: a second trajectory of seed 0 (apart). 2,500 is a step the authors have no point for.
    a = RunCurve(tmp_path / "a", "dmc/x", "slac", 0, 0.1, {0: 6.0, 2_500: 9.0, 10_000: 18.0, 20_000: 35.0}, 20_000, "train")
    b = RunCurve(tmp_path / "b", "dmc/x", "slac", None, 0.1, {0: 1.0, 2_500: 2.5}, 12_345, "pretrain")
    c = RunCurve(tmp_path / "c", "dmc/x", "slac", 0, 0.1, {0: 5.0}, 2_500, "train")
    return Comparison("dmc/x", "slac", [a, b], [c], HAND_REFERENCE)


def test_the_run_table_is_the_table_written_by_hand(tmp_path):
    from slac.tools.compare import run_table

    assert run_table(hand_comparison(tmp_path), 20_000).splitlines() == [
        "| run | seed | status | 0 | 2500 | 10K | 20K | inside authors' range |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
        "| a | 0 | reached 20K | 6.0 | 9.0 | 18.0 | 35.0 | 3 of 3 |",
        "| b | - | stopped at 12,345 (pretraining the model) | 1.0 | 2.5 |  |  | 0 of 1 |",
        "| c (apart: not counted) | 0 | stopped at 2,500 | 5.0 |  |  |  | 1 of 1 |",
        "| authors, mean +- std (3 runs) |  |  | 4.0 +- 1.0 |  | 20.0 +- 2.0 | 30.0 +- 5.0 |  |",
        "| authors, [min, max] |  |  | [2.0, 6.0] |  | [18.0, 22.0] | [25.0, 35.0] |  |",
    ]


def test_the_summary_and_the_report_are_the_ones_written_by_hand(tmp_path):
    from slac.tools.compare import report, run_table, summary_table

    comparison = hand_comparison(tmp_path)
    summary = summary_table([comparison], 20_000)
    # 35.0 among (25, 30, 35): none above, rank 1 of 4; U = 2 + 0.5 (a tie counts one half). Exact p
    # over the four splits of (35, 25, 30, 35) into one and three: U is 2.5, 0, 1 and 2.5, at 1, 1.5,
    # 0.5 and 1 from the centre 1.5; three of the four are as far as ours (1): p = 0.75.
    assert summary.splitlines() == [
        "| task | variant | runs (seeds) | reached 20K | ours @20K | authors @20K | inside authors' range "
        "| rank among authors' runs | Mann-Whitney U, p |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        "| dmc/x | slac | 2 | 1 of 2 | 35.0 (b stopped at 12,345 (pretraining the model)) | 30.0 +- 5.0 [25.0, 35.0] "
        "| 1 of 1 | 1 of 4 | U = 2.5, p = 0.750 |",
    ]
    text = report([comparison], 20_000, plot="c.png")
    intro = text.split("\n")[2]  # the paragraph on how to read the tables
    assert intro.startswith("Evaluation return of the stochastic policy") and "At 20K" in intro
    assert text == "\n".join(["# Runs beside the authors' runs", "", intro, "", summary, "",
                              "![runs beside the authors' runs](c.png)", "", "## dmc/x: slac", "",
                              run_table(comparison, 20_000), "",
                              "Mann-Whitney U at 20K (1 run against 3): U = 2.5, p = 0.750 (exact).", ""])
    two = [make_run(tmp_path / f"s{seed}", seed, [float(seed)] * 11) for seed in (1, 2)]
    assert "Mann-Whitney U at 100K (2 runs against 10): U = 0, p = 0.030 (exact)." in report(compare(two))


def test_the_summary_at_a_step_where_runs_stopped_or_sit_on_the_authors_lowest(tmp_path):
    from slac.tools.compare import Comparison, summary_table

    hand = hand_comparison(tmp_path)
    # at 10K run a reads 18.0, the authors' lowest (inside, the end included): rank 3 of 4, U = 0.5
    # (one tie); the four splits of (18, 18, 20, 22) give U = 0.5, 0.5, 2 and 3 about 1.5: p = 3 / 4
    assert summary_table([hand], 10_000).splitlines()[2] == (
        "| dmc/x | slac | 2 | 1 of 2 | 18.0 (b stopped at 12,345 (pretraining the model)) | 20.0 +- 2.0 [18.0, 22.0] "
        "| 1 of 1 | 3 of 4 | U = 0.5, p = 0.750 |")
    stopped = Comparison("dmc/x", "slac", [hand.counted[1], hand.apart[0]], [], HAND_REFERENCE)  # none reached 10K
    assert summary_table([stopped], 10_000).splitlines()[2] == (
        "| dmc/x | slac | 2 | 0 of 2 | - (b stopped at 12,345 (pretraining the model); s0 stopped at 2,500) "
        "| 20.0 +- 2.0 [18.0, 22.0] | - | - | - |")


def test_a_run_without_points_beside_the_authors_shows_their_rows_empty(tmp_path):
    from slac.tools.compare import Comparison, RunCurve, run_table

    lonely = RunCurve(tmp_path / "d", "dmc/x", "slac", 1, 0.1, {2_500: 3.0}, 2_500, "train")
    lines = run_table(Comparison("dmc/x", "slac", [lonely], [], HAND_REFERENCE), 20_000).splitlines()
    assert lines[2] == "| d | 1 | stopped at 2,500 | 3.0 | 0 of 0 |"
    assert lines[3:] == ["| authors, mean +- std (0 runs) |  |  |  |  |", "| authors, [min, max] |  |  |  |  |"]


def test_step_labels():
    from slac.tools.compare import _k

    assert [_k(0), _k(2_500), _k(1_500), _k(100_000), _k(50)] == ["0", "2500", "1500", "100K", "50"]


def test_a_tie_in_how_far_two_runs_of_a_seed_went_counts_the_first_given(tmp_path):
    first, second = (make_run(tmp_path / name, 7, [1.0, 2.0]) for name in ("first", "second"))
    for order in ([first, second], [second, first]):
        (group,) = compare(order)
        assert [r.path for r in group.counted] == order[:1] and [r.path for r in group.apart] == order[1:]


def test_the_metric_asked_for_is_the_column_read(tmp_path):
    run = make_run(tmp_path / "r", 1, [10.0, 20.0], deterministic=[11.0, 22.0])
    for metric, expected in [("return_stochastic", {0: 10.0, 10_000: 20.0}),
                             ("return_deterministic", {0: 11.0, 10_000: 22.0}),
                             ("eval_return_deterministic", {0: 11.0, 10_000: 22.0})]:  # the plot's alias
        (group,) = compare([run], metric=metric)
        assert group.counted[0].returns == expected


def test_the_authors_curve_is_the_one_at_the_runs_decoder_variance_or_none_when_not_asked(tmp_path):
    from slac.tools.reference import paper_curve

    run = make_run(tmp_path / "r", 1, [10.0, 20.0], decoder_var=0.1)  # not the preset's 0.04
    (group,) = compare([run])
    expected = {r["env_step"]: r["return_mean"] for r in paper_curve("dmc/ball_in_cup-catch", 0.1)}
    assert {s: r["return_mean"] for s, r in group.reference.items()} == expected
    assert expected[100_000] != paper_curve("dmc/ball_in_cup-catch")[10]["return_mean"]
    (alone,) = compare([run], reference=False)
    assert alone.reference == {} and "no published curve" in report([alone])


def test_how_far_a_run_went_is_its_furthest_row_of_either_log(tmp_path):
    from slac.tools.compare import read_run

    behind = read_run(make_run(tmp_path / "behind", 1, [1.0, 2.0, 3.0], last_step=15_000))  # eval.csv went further
    assert (behind.last_step, behind.last_phase) == (20_000, "train")
    no_log = read_run(make_run(tmp_path / "no-log", 1, [1.0, 2.0], last_phase=None))
    assert (no_log.last_step, no_log.last_phase) == (10_000, "")
    empty = make_run(tmp_path / "empty", 1, [1.0], last_phase=None)
    (empty / "metrics.csv").write_text("env_step,update,phase\n")
    assert (read_run(empty).last_step, read_run(empty).last_phase) == (0, "")


def test_mann_whitney_u_needs_both_groups():
    for ours, theirs in [([], [1.0]), ([1.0], [])]:
        with pytest.raises(ValueError, match="^both groups need at least one return$"):
            mann_whitney_u(ours, theirs)


def test_the_monte_carlo_p_value_is_seeded_and_near_the_exact_one():
    ours = [900.0, 910.0, 920.0, 930.0, 940.0, 950.0, 960.0, 915.0, 925.0, 935.0, 945.0]  # C(21, 11) splits: sampled
    u, p, method = mann_whitney_u(ours, AUTHORS_100K)
    expected = mannwhitneyu(ours, AUTHORS_100K, alternative="two-sided", method="exact")
    assert method.startswith("Monte Carlo") and 0.1 < expected.pvalue < 0.3
    assert u == expected.statistic and p == pytest.approx(expected.pvalue, abs=0.005)
    assert mann_whitney_u(ours, AUTHORS_100K) == (u, p, method)  # the same splits every time (seed 0)
    assert mann_whitney_u(ours, AUTHORS_100K, seed=1)[1] != p
    assert p * 100_000 == pytest.approx(round(p * 100_000), abs=1e-6)  # a count out of the 100,000 splits it names
    # five of ours against thirty: C(35, 5) splits, sampled; a split of six against 29 would move U's centre
    theirs = [float(v) for v in range(0, 60, 2)]
    few = [19.0, 29.0, 35.0, 47.0, 53.0]
    u, p, method = mann_whitney_u(few, theirs)
    expected = mannwhitneyu(few, theirs, alternative="two-sided", method="exact")
    assert method.startswith("Monte Carlo") and u == expected.statistic
    assert p == pytest.approx(expected.pvalue, abs=0.005)
