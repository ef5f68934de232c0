import imageio.v2 as imageio
from helpers import TINY

from slac.cli import main
from slac.tools.reproduce import parse_seeds

TINY_ARGS = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]


def test_parse_seeds():
    assert parse_seeds("0-4") == [0, 1, 2, 3, 4] and parse_seeds("1,5-6") == [1, 5, 6]


def test_reproduce_smoke_writes_a_report_and_plot(tmp_path, capsys):
    out = tmp_path / "repro"
    assert main(["reproduce", "--tasks", "toy/reach,toy/reach-random", "--seeds", "0-1", "--steps", "60",
                 "--out", str(out), "--device", "cpu", "--no-progress", *TINY_ARGS]) == 0
    report = (out / "report.md").read_text()
    assert "| toy/reach | slac | 2 |" in report and "| toy/reach-random | slac | 2 |" in report
    image = imageio.imread(out / "curves.png")
    assert image.shape[0] > 100 and image.shape[1] > 500  # two panels
    assert len(list((out / "runs").iterdir())) == 4


def test_plot_groups_runs_and_overlays_the_paper(tmp_path):
    runs = []
    for seed in (0, 1):
        run_dir = tmp_path / f"r{seed}"
        assert main(["train", "--task", "toy/reach", "--steps", "50", "--seed", str(seed), "--device", "cpu",
                     "--run-dir", str(run_dir), "--no-progress", *TINY_ARGS]) == 0
        runs.append(str(run_dir))
    assert main(["plot", *runs, "--out", str(tmp_path / "c.png")]) == 0
    assert imageio.imread(tmp_path / "c.png").shape[2] in (3, 4)
    assert main(["plot", str(tmp_path / "nope"), "--out", str(tmp_path / "d.png")]) == 2


def test_reproduce_fills_the_papers_columns_for_a_dmc_task(tmp_path):
    from slac.tools.reference import paper_curve

    out = tmp_path / "repro"
    args = [a for a in TINY_ARGS if not a.startswith(("eval_episodes", "init_steps", "pretrain_steps"))]
    assert main(["reproduce", "--tasks", "dmc/cartpole-swingup", "--seeds", "0", "--steps", "12", "--out", str(out),
                 "--device", "cpu", "--no-progress", *args, "eval_episodes=1", "init_steps=2", "pretrain_steps=1"]) == 0
    row = next(line for line in (out / "report.md").read_text().splitlines() if line.startswith("| dmc/cartpole"))
    paper = {r["env_step"]: r for r in paper_curve("dmc/cartpole-swingup")}
    assert f"{paper[100_000]['return_mean']:.1f} +- {paper[100_000]['return_std']:.1f}" in row
    assert f"{paper[500_000]['return_mean']:.1f} +- {paper[500_000]['return_std']:.1f}" in row
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[3].endswith("(12)")  # the final return, from the run's last evaluation at env step 12
    assert cells[4] == cells[6] == "-"  # a 12-step run has no return at 100K or 500K


def test_reproduce_without_tasks_is_one_line(tmp_path, capsys):
    assert main(["reproduce", "--out", str(tmp_path / "out")]) == 2
    assert "needs --tasks" in capsys.readouterr().err


def test_a_run_stopped_before_its_first_checkpoint_is_moved_aside_and_started_again(tmp_path):
    from helpers import tiny_config

    from slac.tools.reproduce import open_or_resume

    run_dir = tmp_path / "runs" / "toy_reach-s0"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.csv").write_text("env_step\n10\n")  # a partial run: logs, no checkpoint
    run = open_or_resume(run_dir, tiny_config())
    run.close()
    aside = [p for p in run_dir.parent.iterdir() if p.name.startswith("toy_reach-s0.replaced-")]
    assert len(aside) == 1 and (aside[0] / "metrics.csv").read_text() == "env_step\n10\n"
    assert run.progress.env_steps == 0 and not (run_dir / "metrics.csv").exists()
