"""The small slips a new user hits, each answered in one clear line: what predict accepts, wrap_env
without Gymnasium's warnings, run directory names, what `slac eval` evaluated, the model card's
config, `export --check`'s difference, the plot legend."""

import json
import warnings

import gymnasium as gym
import numpy as np
import pytest
from helpers import TINY

from slac import wrap_env
from slac.cli import main
from slac.run.trainer import SLAC


class MyEnv(gym.Env):
    """A user's env with an ordinary float32 action Box and HxWx3 frames."""

    observation_space = gym.spaces.Box(0, 255, (48, 48, 3), np.uint8)
    action_space = gym.spaces.Box(-2.0, 2.0, (2,), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros((48, 48, 3), np.uint8), {}

    def step(self, action):
        return np.full((48, 48, 3), 100, np.uint8), 0.0, False, False, {}


MyEnv.__module__ = "__main__"  # defined in a user's script


def test_wrap_env_raises_no_gymnasium_warning_on_an_ordinary_float32_box():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        env = wrap_env(MyEnv())
    assert env.action_space.dtype == np.float32 and env.action_space.low.tolist() == [-1.0, -1.0]


def test_a_run_directory_name_has_no_colon_for_an_env_from_main(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = SLAC(MyEnv(), **{k: v for k, v in TINY.items() if k != "task"})
    assert run.config.task == "env/__main__:MyEnv"
    assert ":" not in str(run.run_dir) and run.run_dir.name.startswith("env___main___MyEnv-slac-s0-")
    run.close()


def test_predicts_error_lists_what_it_accepts(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    with pytest.raises(ValueError, match=r"predict takes uint8 frames \(3, H, W\) or \(H, W, 3\) of any size .*; "
                                         r"got float64 \(5, 5\)"):
        run.predict(np.zeros((5, 5)))
    action, _ = run.predict(np.zeros((48, 40, 3), np.uint8))  # an env's own frame, another size: accepted
    assert action.shape == (2,)
    run.close()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("slips") / "run"
    SLAC(run_dir=run_dir, **{**TINY, "replay_capacity": 321}).learn(100, progress=False).close()
    return run_dir


def test_eval_says_which_checkpoint_and_env_step_it_evaluated(trained, capsys):
    assert main(["eval", str(trained), "--episodes", "1"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["checkpoint"] == str(trained / "checkpoints" / "step_000000100.pt") and result["env_step"] == 100


def test_export_check_prints_the_largest_difference_and_the_card_shows_the_runs_config(trained, tmp_path, capsys):
    out = tmp_path / "deploy" / "policy.onnx"
    assert main(["export", str(trained), "--format", "onnx", "--out", str(out), "--check", "--card"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("check:"))
    difference = float(line.split("at most ")[1].split()[0])
    assert 0 <= difference <= 1e-4 and "(tolerance 0.0001)" in line
    card = (out.parent / "README.md").read_text()
    config = json.loads(card.split("```json")[1].split("```")[0])
    recorded = json.loads((trained / "config.json").read_text())
    assert config["replay_capacity"] == 321  # as the run had, not the placeholder buffer's
    assert {k: v for k, v in config.items() if k != "run_dir"} == {k: v for k, v in recorded.items() if k != "run_dir"}
    assert main(["export", str(trained), "--out", str(tmp_path / "p.pt"), "--check"]) == 2
    assert "--check compares an ONNX graph" in capsys.readouterr().err


def test_the_plot_legend_says_one_seed(trained, tmp_path):
    from slac.tools.plot import group_runs, plot_tasks

    captured = {}
    import matplotlib.axes

    original = matplotlib.axes.Axes.legend

    def record(self, *args, **kwargs):
        captured["labels"] = [h.get_label() for h in self.get_lines()]
        return original(self, *args, **kwargs)

    matplotlib.axes.Axes.legend = record
    try:
        plot_tasks(group_runs([trained]), tmp_path / "curves.png")
    finally:
        matplotlib.axes.Axes.legend = original
    assert "slac (1 seed)" in captured["labels"]
