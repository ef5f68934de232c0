"""slac plot: panels, bands, the returns table and the aggregate, checked against the runs' CSVs."""

import json

import imageio.v2 as imageio
import numpy as np
import pytest

from slac.cli import main
from slac.run.logging import EVAL_FIELDS, CSVLog, read_csv
from slac.tools.plot import (
    aggregate_table,
    common_values,
    group_runs,
    returns_table,
    seed_curves,
    seed_tails,
    seed_values,
    variant_of,
)
from slac.tools.stats import iqm


def table_rows(path):
    return [[c.strip() for c in line.strip("|").split("|")] for line in path.read_text().splitlines()
            if line.startswith("| toy/") or line.startswith("| slac")]


def test_runs_group_by_task_and_variant(tiny_runs):
    groups = group_runs(tiny_runs)
    assert list(groups) == ["toy/reach"]
    assert groups["toy/reach"] == {"slac": tiny_runs[:2], "slac, actor_input=latent": tiny_runs[2:]}
    assert variant_of({"model": "vae", "augment": "crop"}) == "vae, augment=crop"
    paper_task = {"model": "slac", "task": "dmc/ball_in_cup-catch"}
    assert variant_of({**paper_task, "pretrain_steps": 50_000}) == "slac"
    assert variant_of({**paper_task, "pretrain_steps": 3_000}) == "slac, pretrain_steps=3000"


@pytest.mark.parametrize("interval", ["std", "bootstrap"])
def test_plot_writes_one_panel_per_task_and_a_table_matching_the_csvs(tiny_runs, tmp_path, interval, capsys):
    out = tmp_path / "curves.png"
    assert main(["plot", *map(str, tiny_runs), "--interval", interval, "--out", str(out)]) == 0
    assert imageio.imread(out).shape[:2] == (380, 500)  # one 5 x 3.8 inch panel at 100 dpi
    rows = {r[1]: r for r in table_rows(tmp_path / "curves.md") if r[0] == "toy/reach"}
    finals = [read_csv(d / "eval.csv")[-1]["return_stochastic"] for d in tiny_runs]
    assert rows["slac"][2] == "2"
    assert rows["slac"][3] == f"{np.mean(finals[:2]):.1f} +- {np.std(finals[:2]):.1f} (100)"
    assert rows["slac, actor_input=latent"][3] == f"{finals[2]:.1f} +- 0.0 (100)"
    assert rows["slac"][4] == "-" and rows["slac"][5] == "-"  # no 100K return yet, and no paper curve for toy tasks
    aggregate = {r[0]: r for r in table_rows(tmp_path / "curves.md") if r[0].startswith("slac")}
    assert aggregate["slac"][3:5] == ["100", "raw return"] and aggregate["slac"][5] == f"{iqm(np.array(finals[:2])):.3f}"
    assert "curves.md" in capsys.readouterr().out


def test_plot_rejects_an_unknown_metric(tiny_runs, tmp_path, capsys):
    assert main(["plot", str(tiny_runs[0]), "--metric", "eval_retrun", "--out", str(tmp_path / "x.png")]) == 2
    assert "unknown metric" in capsys.readouterr().err
    assert main(["plot", str(tiny_runs[0]), "--metric", "phase", "--out", str(tmp_path / "x.png")]) == 2


def test_a_training_metric_is_drawn_against_updates_over_the_rows_every_seed_logged(tiny_runs, tmp_path, capsys):
    out = tmp_path / "kl.png"
    assert main(["plot", *map(str, tiny_runs[:2]), "--metric", "kl", "--out", str(out)]) == 0
    assert imageio.imread(out).shape[:2] == (380, 500)
    assert "table" not in capsys.readouterr().out and not out.with_suffix(".md").exists()  # returns tables only
    rows = [read_csv(d / "metrics.csv") for d in tiny_runs[:2]]
    # x: all updates so far: a training row's `update` counts training updates, after TINY's 5 of pretraining
    all_updates = [int(r["update"]) + (5 if r["phase"] == "train" else 0) for r in rows[0]]
    assert [r["phase"] for r in rows[0][:2]] == ["pretrain", "train"] and all_updates[:2] == [5, 15]
    updates, values = seed_values(tiny_runs[:2], "kl")
    assert list(updates) == all_updates and len(updates) > 2
    assert values.tolist() == [[r["kl"] for r in run] for run in rows]
    updates, values = seed_values(tiny_runs[:1], "entropy")  # blank while pretraining: that row is skipped
    assert list(updates) == all_updates[1:]


def run_with(root, name, config, curve):
    """A run directory with `config` as config.json (none when None) and `curve` (env step -> return)
    as eval.csv, the deterministic return one above the stochastic one."""
    run_dir = root / name
    run_dir.mkdir()
    if config is not None:
        (run_dir / "config.json").write_text(json.dumps(config))
    log = CSVLog(run_dir / "eval.csv", EVAL_FIELDS)
    for step, value in curve.items():
        log.write({"env_step": step, "return_stochastic": value, "return_deterministic": value + 1.0})
    return run_dir


def fake_run(root, name, task, finals, curve=None, seed=None):
    """A slac run directory (`run_with`) whose eval.csv's last row holds `finals`' return (or the
    rows of `curve`: env step -> return)."""
    config = {"task": task, "model": "slac"} | ({} if seed is None else {"seed": seed})
    return run_with(root, name, config, curve or {0: 0.0, 1000: finals})


def test_a_seed_longer_than_the_others_keeps_its_later_evaluations_on_the_plot(tmp_path, monkeypatch):
    long = fake_run(tmp_path, "s1", "dmc/ball_in_cup-catch", 0.0, {0: 10.0, 10_000: 100.0, 20_000: 500.0, 30_000: 900.0})
    short = fake_run(tmp_path, "s2", "dmc/ball_in_cup-catch", 0.0, {0: 20.0, 10_000: 50.0})
    curves = seed_curves([long, short])
    steps, values = common_values(curves)
    assert steps.tolist() == [0, 10_000] and values.tolist() == [[10.0, 100.0], [20.0, 50.0]]
    (xs, ys), = seed_tails(curves, steps)  # only the longer seed goes on, from the last common step
    assert xs.tolist() == [10_000, 20_000, 30_000] and ys.tolist() == [100.0, 500.0, 900.0]
    (xs, _), = seed_tails(curves[:1], steps[:0])  # no common step: the whole curve is its own tail
    assert xs.tolist() == [0, 10_000, 20_000, 30_000]
    assert seed_tails([curves[1]], steps) == []  # a seed that ends at the last common step has no tail

    from matplotlib.axes import Axes

    drawn, plot = [], Axes.plot
    monkeypatch.setattr(Axes, "plot", lambda ax, x, y, *a, **k: drawn.append((list(x), list(y))) or plot(ax, x, y, *a, **k))
    assert main(["plot", str(long), str(short), "--reference", "paper", "--out", str(tmp_path / "cup.png")]) == 0
    assert ([0, 10_000], [15.0, 75.0]) in drawn  # the mean over both seeds where both have evaluations
    assert ([10_000, 20_000, 30_000], [100.0, 500.0, 900.0]) in drawn  # and seed 1 on past seed 2's last
    row = next(line for line in returns_table(group_runs([long, short])).splitlines() if "ball_in_cup" in line)
    assert "| 75.0 +- 25.0 (10000) |" in row and row.endswith("| 900.0 (30000); 50.0 (10000) |")


def test_the_aggregate_pools_only_normalised_scores_and_flags_few_runs(tmp_path):
    mixed = group_runs([fake_run(tmp_path, f"a{i}", "toy/reach", -10.0 - i) for i in range(3)]
                       + [fake_run(tmp_path, f"b{i}", "gym/Hopper-v5", 700.0 + i) for i in range(3)])
    table = aggregate_table(mixed)
    assert "not computed: raw returns of different tasks (toy/reach, gym/Hopper-v5) are not one population" in table
    dmc = group_runs([fake_run(tmp_path, f"c{i}", "dmc/reacher-easy", 300.0) for i in range(3)]
                     + [fake_run(tmp_path, f"d{i}", "dmc/cheetah-run", 700.0) for i in range(6)])
    row = next(line for line in aggregate_table(dmc).splitlines() if line.startswith("| slac"))
    assert f"| / 1000 (DMC max) | {iqm(np.array([0.3] * 3 + [0.7] * 6)):.3f} |" in row
    assert row.endswith("] * |") and "fewer than 5 runs of a task" in aggregate_table(dmc)
    single = aggregate_table(group_runs([fake_run(tmp_path, f"e{i}", "toy/reach", -5.0) for i in range(5)]))
    assert "| raw return | -5.000 | [-5.000, -5.000] |" in single  # one task: its raw returns are one population; 5 runs
    assert "| 5 | 1000 | raw return |" in single  # the env step the scores are taken at
    untrained = tmp_path / "f0"
    untrained.mkdir()
    (untrained / "config.json").write_text(json.dumps({"task": "dmc/ball_in_cup-catch", "model": "slac"}))
    CSVLog(untrained / "eval.csv", EVAL_FIELDS).write({"env_step": 0, "return_stochastic": 9.0})
    assert "| 0 | - | not computed: only the evaluation before learning |" in aggregate_table(group_runs([untrained]))


def test_panels_of_several_paper_tasks_each_get_the_authors_curve(tmp_path):
    runs = [fake_run(tmp_path, "cup", "dmc/ball_in_cup-catch", 500.0), fake_run(tmp_path, "pole", "dmc/cartpole-swingup", 300.0)]
    out = tmp_path / "two.png"
    assert main(["plot", *map(str, runs), "--reference", "paper", "--out", str(out)]) == 0
    assert imageio.imread(out).shape[:2] == (380, 1000)  # two panels


def test_runs_that_share_a_seed_are_counted_as_runs_of_fewer_seeds(tmp_path, monkeypatch):
    runs = [fake_run(tmp_path, name, "dmc/ball_in_cup-catch", 500.0, seed=seed) for name, seed in
            [("s1", 1), ("s1-run3", 1), ("s2", 2)]]
    row = next(line for line in returns_table(group_runs(runs)).splitlines() if "ball_in_cup" in line)
    assert row.startswith("| dmc/ball_in_cup-catch | slac | 3 runs of 2 seeds |")
    row = next(line for line in returns_table(group_runs(runs[1:])).splitlines() if "ball_in_cup" in line)
    assert row.startswith("| dmc/ball_in_cup-catch | slac | 2 |")

    from matplotlib.axes import Axes

    labels, plot = [], Axes.plot
    monkeypatch.setattr(Axes, "plot", lambda ax, *a, **k: labels.append(k.get("label")) or plot(ax, *a, **k))
    assert main(["plot", *map(str, runs), "--out", str(tmp_path / "cup.png")]) == 0
    assert "slac (3 runs of 2 seeds)" in labels


# The authors' ten cheetah-run runs (decoder variance 0.1) at 100K and 500K env steps, from their
# published per-run files (tests/tools/test_reference.py holds each run).
CHEETAH_100K = [340.3, 543.7, 430.8, 392.6, 308.3, 401.9, 352.5, 492.5, 421.2, 451.1]
CHEETAH_500K = [681.7, 712.4, 703.4, 779.2, 727.1, 678.3, 600.4, 753.4, 707.2, 726.4]


def cheetah_runs(tmp_path, every=10_000, last=500_000):
    """Three cheetah-run seeds evaluated every `every` env steps to `last`, each return a formula of
    the step and the seed, so every cell can be computed again from the eval.csv rows."""
    return [fake_run(tmp_path, f"c{seed}-{every}", "dmc/cheetah-run", 0.0,
                     {step: round(step / 1000 * (1 + 0.1 * seed) + 3.0 * seed, 1) for step in range(0, last + 1, every)},
                     seed=seed) for seed in range(3)]


def eval_at(run_dir, step):
    return next(r["return_stochastic"] for r in read_csv(run_dir / "eval.csv") if int(r["env_step"]) == step)


def cells_of(table, task):
    return [c.strip() for c in next(line for line in table.splitlines() if task in line).strip("|").split("|")]


def test_the_returns_table_reads_each_milestone_from_the_runs_and_the_authors_runs(tmp_path):
    runs = cheetah_runs(tmp_path)
    cells = cells_of(returns_table(group_runs(runs)), "dmc/cheetah-run")
    for column, step, authors in [(4, 100_000, CHEETAH_100K), (6, 500_000, CHEETAH_500K)]:
        ours = [eval_at(run, step) for run in runs]
        assert cells[column] == f"{np.mean(ours):.1f} +- {np.std(ours):.1f}"
        mean, std = (float(v) for v in cells[column + 1].split(" +- "))
        assert (mean, std) == pytest.approx((np.mean(authors), np.std(authors)), abs=0.06)  # runs written to 0.1
    assert cells[3] == cells[6] + " (500000)"  # the final evaluation is the 500K one here
    # evaluations every 15K: the milestone takes the last evaluation before it, its step in brackets
    sparse = cheetah_runs(tmp_path, every=15_000, last=510_000)
    cells = cells_of(returns_table(group_runs(sparse)), "dmc/cheetah-run")
    for column, step in [(4, 90_000), (6, 495_000)]:
        ours = [eval_at(run, step) for run in sparse]
        assert cells[column] == f"{np.mean(ours):.1f} +- {np.std(ours):.1f} [{step}]"


def test_the_aggregate_divides_each_task_by_the_authors_mean_at_the_same_step(tmp_path):
    from scipy.stats import trim_mean

    cheetah = [fake_run(tmp_path, f"h{i}", "dmc/cheetah-run", 0.0, {0: 0.0, 100_000: value}, seed=i)
               for i, value in enumerate([300.0, 420.0, 500.0])]
    cup = [fake_run(tmp_path, f"b{i}", "dmc/ball_in_cup-catch", 0.0, {0: 0.0, 100_000: value}, seed=i)
           for i, value in enumerate([850.0, 900.0, 950.0])]
    row = cells_of(aggregate_table(group_runs(cheetah + cup)), "| slac |")
    cup_mean = 917.56  # the authors' ten ball_in_cup runs at 100K (decoder variance 0.04)
    scores = np.array([300.0, 420.0, 500.0]) / np.mean(CHEETAH_100K)
    scores = np.concatenate([scores, np.array([850.0, 900.0, 950.0]) / cup_mean])
    assert row[4] == "/ paper" and row[3] == "100000"
    assert float(row[5]) == pytest.approx(trim_mean(scores, 0.25), abs=1.5e-3)


def test_the_authors_curve_is_drawn_at_their_published_values(tmp_path, monkeypatch):
    from matplotlib.axes import Axes

    drawn, plot = [], Axes.plot
    monkeypatch.setattr(Axes, "plot", lambda ax, x, y, *a, **k: drawn.append((k.get("label"), list(x), list(y)))
                        or plot(ax, x, y, *a, **k))
    runs = cheetah_runs(tmp_path, last=100_000)
    assert main(["plot", *map(str, runs), "--reference", "paper", "--out", str(tmp_path / "c.png")]) == 0
    (xs, ys), = [(x, y) for label, x, y in drawn if label == "SLAC, paper (authors' runs)"]
    curve = dict(zip(xs, ys))
    assert curve[100_000] == pytest.approx(np.mean(CHEETAH_100K), abs=0.02)
    assert curve[500_000] == pytest.approx(np.mean(CHEETAH_500K), abs=0.02)
    ours = [(x, y) for label, x, y in drawn if label and label.startswith("slac")]
    assert ours[0][0][-1] == 100_000 and ours[0][1][-1] == pytest.approx(np.mean([eval_at(r, 100_000) for r in runs]))


def tables_runs(root):
    """Two cheetah-run seeds (one longer); an ablation at another decoder variance stopped at 90K; an
    planet run with no evaluation; on toy/reach a run with a bare config, DrQ-style SAC (its actor
    input ignored), a planet run evaluated only before learning and a deterministic-model run with
    no evaluation (a variant with nothing to aggregate)."""
    cheetah, toy = "dmc/cheetah-run", "toy/reach"
    return [
        run_with(root, "c0", {"task": cheetah, "seed": 0, "agent": "slac", "model": "slac"},
                 {0: 10.0, 50_000: 200.0, 100_000: 400.0}),
        run_with(root, "c1", {"task": cheetah, "seed": 1, "agent": "slac", "model": "slac"},
                 {0: 20.0, 50_000: 220.0, 100_000: 500.0, 150_000: 600.0}),
        run_with(root, "l0", {"task": cheetah, "seed": 0, "actor_input": "latent", "pretrain_steps": 0,
                              "decoder_var": 0.04}, {0: 5.0, 90_000: 300.0}),
        run_with(root, "r-empty", {"task": cheetah, "seed": 2, "model": "planet"}, {}),
        run_with(root, "t0", {"task": toy}, {0: -50.0, 1000: -10.0}),
        run_with(root, "p3", {"task": toy, "seed": 3, "agent": "sac-pixels", "augment": "crop", "actor_input": "latent"},
                 {0: -40.0, 1000: -20.0}),
        run_with(root, "r0", {"task": toy, "seed": 0, "model": "planet"}, {0: -30.0}),
        run_with(root, "d-empty", {"task": toy, "seed": 0, "model": "deterministic"}, {}),
    ]


def test_the_tables_file_is_the_one_written_by_hand(tmp_path):
    from slac.tools.plot import write_tables
    from slac.tools.reference import paper_curve

    def authors(decoder_var, step):
        row = {r["env_step"]: r for r in paper_curve("dmc/cheetah-run", decoder_var)}.get(step)
        return "-" if row is None else f"{row['return_mean']:.1f} +- {row['return_std']:.1f}"

    ablation = "slac, actor_input=latent, pretrain_steps=0, decoder_var=0.04"
    score = 300.0 / {r["env_step"]: r for r in paper_curve("dmc/cheetah-run", 0.04)}[90_000]["return_mean"]
    out = write_tables(group_runs(tables_runs(tmp_path)), tmp_path / "tables.md")
    assert out.read_text() == "\n".join([
        "# Results (return_stochastic)",
        "",
        "| task | variant | seeds | final (env step) | ours @100K | paper @100K | ours @500K | paper @500K "
        "| each seed's last (env step) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| dmc/cheetah-run | slac | 2 | 450.0 +- 50.0 (100000) | 450.0 +- 50.0 | {authors(0.1, 100_000)} | - "
        f"| {authors(0.1, 500_000)} | 400.0 (100000); 600.0 (150000) |",
        f"| dmc/cheetah-run | {ablation} | 1 | 300.0 +- 0.0 (90000) | - | {authors(0.04, 100_000)} | - "
        f"| {authors(0.04, 500_000)} | 300.0 (90000) |",
        f"| dmc/cheetah-run | planet | 1 | - | - | {authors(0.1, 100_000)} | - | {authors(0.1, 500_000)} | - |",
        "| toy/reach | slac | 1 | -10.0 +- 0.0 (1000) | - | - | - | - | -10.0 (1000) |",
        "| toy/reach | sac-pixels+crop (DrQ-style) | 1 | -20.0 +- 0.0 (1000) | - | - | - | - | -20.0 (1000) |",
        "| toy/reach | planet | 1 | -30.0 +- 0.0 (0) | - | - | - | - | -30.0 (0) |",
        "| toy/reach | deterministic | 1 | - | - | - | - | - | - |",
        "",
        "## Aggregate over tasks",
        "",
        "| variant | tasks | runs | env step | scores | IQM | 95% CI |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        "| planet | 1 | 1 | 0 | - | not computed: only the evaluation before learning | - |",
        "| sac-pixels+crop (DrQ-style) | 1 | 1 | 1000 | raw return | -20.000 | [-20.000, -20.000] * |",
        "| slac | 2 | 3 | 1000, 100000 | - | not computed: raw returns of different tasks (dmc/cheetah-run, toy/reach) "
        "are not one population | - |",
        f"| {ablation} | 1 | 1 | 90000 | / paper | {score:.3f} | [{score:.3f}, {score:.3f}] * |",
        "",
        "\\* fewer than 5 runs of a task: the interval shows little more than the range of these runs.",
        ""])


def test_the_tables_read_the_metric_asked_for(tmp_path):
    from slac.tools.plot import write_tables

    text = write_tables(group_runs(tables_runs(tmp_path)), tmp_path / "t.md", "eval_return_deterministic").read_text()
    assert text.startswith("# Results (return_deterministic)\n\n")
    assert "| toy/reach | slac | 1 | -9.0 +- 0.0 (1000) | - | - | - | - | -9.0 (1000) |" in text
    assert "| sac-pixels+crop (DrQ-style) | 1 | 1 | 1000 | raw return | -19.000 | [-19.000, -19.000] * |" in text


def test_a_run_without_a_config_or_seeds_and_the_small_helpers(tmp_path):
    from slac.tools.plot import _at, band, runs_of_seeds
    from slac.tools.stats import bootstrap_ci

    assert variant_of({"agent": "sac-pixels", "augment": "none"}) == "sac-pixels"
    state = {"agent": "sac-state", "augment": "crop", "actor_input": "latent", "critic_input": "history"}
    assert variant_of(state) == "sac-state"  # a state-based agent has no pixels to crop, no actor or critic input
    bare = [run_with(tmp_path, name, None, {0: 1.0, 1000: 3.0}) for name in ("a", "b")]
    assert group_runs(bare) == {"?": {"slac": bare}}
    assert runs_of_seeds(bare) == "2"  # no seed: each run its own
    assert _at(np.array([0, 50_000, 120_000]), 100_000) == 1 and _at(np.array([200_000]), 100_000) is None
    steps, values = common_values([])
    assert steps.shape == (0,) and values.shape == (0, 0)
    values = np.array([[0.0, 10.0], [0.0, 10.0], [3.0, 40.0]])  # std and bootstrap bands differ here
    mean, low, high = band(values, "std")
    spread = np.array([2.0, 200.0]) ** 0.5
    assert mean.tolist() == [1.0, 20.0] and np.allclose(low, mean - spread) and np.allclose(high, mean + spread)
    mean, low, high = band(values, "bootstrap")
    assert list(zip(low, high)) == [bootstrap_ci(values[:, 0]), bootstrap_ci(values[:, 1])] == [(0.0, 3.0), (10.0, 40.0)]
    curves = [{0: 1.0, 10: 2.0, 20: 3.0, 30: 4.0}, {0: 1.0, 10: 2.0, 20: 3.0}]
    (tail,) = seed_tails(curves, np.array([0, 10, 20]))
    assert tail[0].tolist() == [20, 30] and tail[1].tolist() == [3.0, 4.0]
