"""Every paper task preset builds its env and runs a few agent steps with the SLAC loop."""

import pytest
from helpers import TINY

from slac.cli import main
from slac.config import TASK_PRESETS, Config
from slac.run.trainer import SLAC

PAPER_TASKS = ["dmc/cheetah-run", "dmc/walker-walk", "dmc/ball_in_cup-catch", "dmc/finger-spin",
               "dmc/cartpole-swingup", "dmc/reacher-easy", "gym/HalfCheetah-v5", "gym/Hopper-v5",
               "gym/Walker2d-v5", "gym/Ant-v5"]
REPEAT = {"dmc/cheetah-run": 4, "dmc/walker-walk": 2, "dmc/ball_in_cup-catch": 4, "dmc/finger-spin": 1,
          "dmc/cartpole-swingup": 4, "dmc/reacher-easy": 4, "gym/HalfCheetah-v5": 1, "gym/Hopper-v5": 2,
          "gym/Walker2d-v5": 4, "gym/Ant-v5": 4}


def test_presets_hold_the_papers_action_repeats_and_decoder_variances():
    assert set(TASK_PRESETS) == set(PAPER_TASKS)
    for task, repeat in REPEAT.items():
        assert Config.build(task=task).resolved_action_repeat() == repeat
    assert Config.build(task="dmc/reacher-easy").decoder_var == 0.01
    assert Config.build(task="gym/Hopper-v5").decoder_var == 0.1


@pytest.mark.parametrize("task", PAPER_TASKS)
def test_each_preset_builds_its_env_and_runs_agent_steps(tmp_path, task):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "task": task, "init_steps": 2, "pretrain_steps": 1,
                                           "eval_episodes": 0})
    run.learn(3 * REPEAT[task], progress=False)
    assert run.counters["agent_steps"] >= 3 and run.counters["updates"] >= 1
    run.close()


def test_presets_command_lists_all_ten_tasks(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert all(task in out for task in PAPER_TASKS)
