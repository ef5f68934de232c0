"""A user's own environment, first class: the run records which env it was, every command can
re-make it (or says how), and predict takes that env's own observations."""

import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
from helpers import TINY

import slac
from slac import SLAC
from slac.cli import main
from slac.envs import describe_env
from slac.errors import TaskError
from slac.run.logging import read_csv

SMALL = {k: v for k, v in TINY.items() if k != "task"}


class BrightnessEnv(gym.Env):
    """HWC 80x80 frames whose brightness follows a 1-D position; actions in [-2, 2]."""

    observation_space = gym.spaces.Box(0, 255, (80, 80, 3), np.uint8)
    action_space = gym.spaces.Box(-2.0, 2.0, (1,), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = float(self.np_random.uniform(-1, 1)), 0
        return self._frame(), {}

    def step(self, action):
        self.x = float(np.clip(self.x + 0.1 * float(action[0]), -1, 1))
        self.t += 1
        return self._frame(), -abs(self.x), False, self.t >= 30, {}

    def _frame(self):
        frame = np.zeros((80, 80, 3), np.uint8)
        frame[:, : int(40 + 39 * self.x)] = 200
        return frame


def test_a_run_records_the_env_object_it_trained_on(tmp_path):
    run = SLAC(BrightnessEnv(), **SMALL)
    assert run.config.task == f"env/{__name__}:BrightnessEnv" and run.config.resolved_action_repeat() == 1
    assert run.run_dir.name.startswith(f"env_{__name__}_BrightnessEnv-slac-s0-")  # no colon in a path
    run._run_dir = tmp_path / "run"
    run.learn(60, progress=False)
    assert '"task": "env/' in (tmp_path / "run" / "config.json").read_text()
    registered = gym.make("slac.envs.toy:slac/reach-v0")
    assert describe_env(registered) == "gym/slac.envs.toy:slac/reach-v0"


def test_slac_eval_of_an_env_object_run_names_the_python_call(tmp_path, capsys):
    run = SLAC(BrightnessEnv(), run_dir=tmp_path / "run", **SMALL)
    run.learn(60, progress=False)
    assert main(["eval", str(tmp_path / "run"), "--episodes", "1"]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "SLAC.load(RUN_DIR, env=BrightnessEnv(...))" in error
    assert "cheetah" not in error
    loaded = SLAC.load(tmp_path / "run", env=BrightnessEnv(), replay=False)  # what the line says works
    assert np.isfinite(loaded.evaluate(episodes=1)).all()
    with pytest.raises(TaskError, match="SLAC.load"):
        slac.make_env(loaded.config.task)


def test_predict_takes_the_envs_own_frames_as_training_converts_them(tmp_path):
    run = SLAC(BrightnessEnv(), run_dir=tmp_path / "run", **SMALL)
    run.learn(60, progress=False)
    env = BrightnessEnv()
    raw, _ = env.reset(seed=0)
    converted = run.env.observation(raw)  # what the training wrapper made of it: (3, 64, 64)
    from_raw, _ = run.predict(raw, deterministic=True)
    from_converted, _ = run.predict(converted, deterministic=True)
    np.testing.assert_array_equal(from_raw, from_converted)
    batch, _ = run.predict(np.stack([raw, raw]), deterministic=True)  # (N, H, W, 3)
    np.testing.assert_allclose(batch[0], from_raw, atol=1e-6)
    hwc = np.ascontiguousarray(converted.transpose(1, 2, 0))  # HWC at the network's size: no resizing
    np.testing.assert_array_equal(run.predict(hwc, deterministic=True)[0], from_converted)
    np.testing.assert_allclose(run.predict(np.stack([hwc, hwc]), deterministic=True)[0][1], from_converted, atol=1e-6)
    run.export(tmp_path / "policy.pt")
    policy = slac.load_policy(tmp_path / "policy.pt")
    np.testing.assert_allclose(policy.predict(raw, deterministic=True)[0], from_raw, atol=1e-6)
    with pytest.raises(ValueError, match=r"predict takes uint8 frames \(3, H, W\) or \(H, W, 3\)"):
        run.predict(np.zeros((80, 80, 4), np.uint8))


def test_a_registered_env_trains_and_evaluates_from_the_command_line(tmp_path, monkeypatch, capsys):
    package = tmp_path / "my_envs"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent(f"""
        import gymnasium
        gymnasium.register("Brightness-v0", entry_point="{__name__}:BrightnessEnv")
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, __name__, sys.modules[__name__])
    run_dir = tmp_path / "run"
    args = [f"{k}={v}" for k, v in SMALL.items() if k != "device"]
    assert main(["train", "--task", "gym/my_envs:Brightness-v0", "--steps", "60", "--device", "cpu", "--run-dir",
                 str(run_dir), "--no-progress", *args]) == 0
    assert '"task": "gym/my_envs:Brightness-v0"' in (run_dir / "config.json").read_text()
    assert main(["eval", str(run_dir), "--episodes", "1"]) == 0
    assert '"episodes": 1' in capsys.readouterr().out
    assert [r["env_step"] for r in read_csv(run_dir / "eval.csv")] == [0, 50, 60]  # an eval env of its own, made by name
    assert main(["train", "--task", "gym/my_envs:Missing-v0", "--steps", "10", "--run-dir", str(tmp_path / "x")]) == 2
    assert "did not register" in capsys.readouterr().err
