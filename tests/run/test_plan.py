"""Every command says what it is about to do: the plan `slac train` prints, its warnings, presets whose
schedule fits the run, and the README's training examples, each of which makes updates."""

import re
import shlex

import pytest
from helpers import REPO, TINY

from slac.cli import build_parser, main
from slac.config import Config
from slac.run.logging import read_csv
from slac.run.loop import updates_left_s
from slac.run.plan import format_duration, make_plan
from slac.run.progress import Progress
from slac.run.trainer import SLAC

README = REPO / "README.md"
START = Progress()


def test_the_plan_counts_the_work_of_algorithm_1_by_hand():
    config = Config.build(task="dmc/cheetah-run", overrides={"steps": 100_000})  # repeat 4, the paper's schedule
    plan = make_plan(config, START, 100_000, has_model=True)
    assert plan.random_env_steps == 10_000
    assert plan.pretrain_updates == 50_000
    assert plan.rl_updates == (100_000 - 10_000) // 4  # one update per agent step after collection
    assert plan.evaluations == 11  # at 0, 10K, ..., 100K
    resumed = make_plan(config, Progress(env_steps=60_000, pretrain_updates=50_000, next_eval=70_000), 100_000, True)
    assert (resumed.random_env_steps, resumed.pretrain_updates, resumed.rl_updates, resumed.evaluations) == (0, 0, 10_000, 4)
    assert make_plan(config, START, 8_000, True).pretrain_updates == 0  # ends within random collection


def test_a_plan_without_updates_and_one_that_mostly_pretrains_warn_in_one_line():
    config = Config.build(task="toy/reach", overrides={"steps": 2_000})  # the paper's 10,000 random env steps
    plan = make_plan(config, START, 2_000, True)
    (message,) = plan.warnings()
    assert message == ("the run ends at 2,000 env steps, within the first 10,000 of random collection: it makes no "
                       "update; raise --steps or lower init_steps")
    plan = make_plan(Config.build(task="toy/reach", overrides={"steps": 12_000}), START, 12_000, True)
    plan.pretrain_update_s, plan.rl_update_s = 0.5, 1.0  # 100,000 x 0.5 s against 2,000 x 1 s
    (message,) = plan.warnings()
    assert message.startswith("pretraining the model takes most of this run (13 h 53 min of 14 h 27 min of updates)")


def test_train_prints_the_plan_with_a_timed_estimate_and_warns_when_nothing_will_be_learned(tmp_path, capsys):
    args = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]
    assert main(["train", "--task", "toy/reach", "--steps", "100", "--run-dir", str(tmp_path / "a"), "--no-progress",
                 *args]) == 0
    err = capsys.readouterr().err.splitlines()
    plan = [line for line in err if line.startswith(("plan to", "estimated wall time"))]
    assert plan[0] == ("plan to 100 env steps: 30 env steps of random actions, 5 model pretraining updates, "
                       "70 RL updates, 3 evaluation(s) of 1 episode(s)")
    assert re.fullmatch(r"estimated wall time of the updates: \d+ s \(an update takes pretraining [\d.e-]+ s, RL "
                        r"[\d.e-]+ s here; env steps and evaluations add to it\)", plan[1])
    assert main(["train", "--task", "toy/reach", "--steps", "20", "--run-dir", str(tmp_path / "b"), "--no-progress",
                 *args]) == 0
    assert "slac: warning: the run ends at 20 env steps, within the first 30 of random collection" in capsys.readouterr().err


def test_timing_the_plan_leaves_the_run_exactly_as_it_would_have_been(tmp_path):
    for name, extra_plans in (("a", 3), ("b", 0)):  # one after the other: torch's global stream is the seed's
        run = SLAC(run_dir=tmp_path / name, **TINY)
        for _ in range(extra_plans):
            run.plan(100)  # updates on a copy, under forked random streams
        run.learn(80, progress=False)
        run.close()
    for name in ("metrics.csv", "eval.csv"):
        rows = [[{k: v for k, v in row.items() if k not in ("steps_per_s", "wall_time_s")}
                 for row in read_csv(tmp_path / run / name)] for run in ("a", "b")]
        assert rows[0] == rows[1] and len(rows[0]) >= 2


def test_the_progress_bars_time_left_covers_pretraining(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    run.last_plan = make_plan(run.config, run.progress, 100, True)
    run.last_plan.pretrain_update_s, run.last_plan.rl_update_s = 60.0, 1.0
    assert updates_left_s(run) == 5 * 60.0 + 70 * 1.0 and format_duration(updates_left_s(run)) == "6 min"
    run.close()


@pytest.mark.parametrize("preset,steps,init,pretrain", [("small", 2_000, 400, 1_600), ("small", 20_000, 1_000, 2_000),
                                                        ("quickstart", 5_000, 1_000, 2_000)])
def test_fitted_presets_collect_and_pretrain_in_proportion_to_the_run(preset, steps, init, pretrain):
    config = Config.build(task="toy/reach", preset=preset, overrides={"steps": steps})
    assert (config.init_steps, config.pretrain_steps) == (init, pretrain)
    assert Config.build(task="toy/reach", preset="small", overrides={"steps": 2_000, "init_steps": 1_500}).init_steps == 1_500


def readme_train_commands() -> list[str]:
    """Every `slac train` line of the README and the guide's pages that starts a run (no placeholder, no --resume)."""
    lines = []
    guides = ("own-env.md", "sb3.md", "onnx.md", "discrete.md")  # the user guide's pages that once were README sections
    text = "".join(path.read_text() for path in (README, *(REPO / "docs" / name for name in guides)))
    for block in re.findall(r"```\w*\n(.*?)```", text, re.S):
        for line in block.splitlines():
            command = line.split("#")[0].strip()
            if (command.startswith("slac train") and not command.endswith("\\")  # a whole command on its line
                    and not re.search(r"[<\[]|--resume|--config", command)):
                lines.append(command)
    return lines


@pytest.mark.parametrize("command", readme_train_commands())
def test_every_readme_training_example_makes_updates(command):
    args = build_parser().parse_args(shlex.split(command)[1:])
    from slac.cli import _overrides

    config = Config.build(task=args.task, preset=args.preset, file=args.config, overrides=_overrides(args))
    kind = "latent model" if config.agent == "slac" else "agent"
    plan = make_plan(config, START, config.steps, has_model=config.agent == "slac")
    assert plan.rl_updates > 0, f"{command}: no RL update ({kind})"
    assert not [w for w in plan.warnings() if "no update" in w]


def test_a_short_run_on_the_small_preset_learns_something(tmp_path):
    tiny = {k: v for k, v in TINY.items() if k not in ("task", "device", "init_steps", "pretrain_steps")}
    run = SLAC("toy/reach", preset="small", run_dir=tmp_path / "r", steps=100, device="cpu", **tiny)
    assert (run.config.init_steps, run.config.pretrain_steps) == (20, 80)
    run.learn(progress=False)
    run.close()
    assert run.counters["updates"] > 0 and run.counters["pretrain_updates"] == 80
