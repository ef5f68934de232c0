"""ONNX export of the acting path: the graph in ONNX Runtime acts as the PyTorch policy does, on the
real frames of an episode, for SLAC and both SAC baselines; the torch-free loop runs a full toy
episode; the model card; bad input in one line."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from helpers import REPO, TINY, built_once

from slac.cli import main
from slac.common.checkpoint import list_checkpoints, load_checkpoint
from slac.errors import SlacError
from slac.policy.export import ONNX_TOLERANCE, check_onnx_export
from slac.policy.history import HistoryPolicy
from slac.policy.onnx import OUTPUTS, onnx_metadata
from slac.run.logging import read_csv
from slac.run.trainer import SLAC

EXAMPLE = REPO / "examples"
TOLERANCE = 1e-5  # largest action difference allowed between ONNX Runtime and PyTorch (float32 both)
AGENTS = {"slac": {}, "sac-pixels": {"agent": "sac-pixels", "pretrain_steps": 0},
          "sac-state": {"agent": "sac-state", "pretrain_steps": 0}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 120-step toy/reach run of each agent (trained weights, not initial ones) and its ONNX export;
    built once and shared by the workers (tests only read them)."""
    def build(root: Path) -> None:
        for name, extra in AGENTS.items():
            args = [f"{k}={v}" for k, v in {**TINY, **extra}.items() if k not in ("task", "device")]
            assert main(["train", "--task", "toy/reach", "--steps", "120", "--device", "cpu", "--run-dir",
                         str(root / name), "--no-progress", *args]) == 0
            assert main(["export", str(root / name), "--format", "onnx", "--out", str(root / f"{name}.onnx"),
                         "--check"]) == 0

    root = built_once(tmp_path_factory, "onnx_runs", build)
    return {name: (root / name, root / f"{name}.onnx") for name in AGENTS}


def _session(path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _feed(agent, policy: HistoryPolicy, noise: np.ndarray) -> dict[str, np.ndarray]:
    frames = np.stack(policy.frames)
    if agent.config.agent == "sac-state":
        return {"state": frames[-1][None], "noise": noise}
    feed = {"frames": frames[None], "noise": noise}
    if agent.config.agent == "slac":
        feed["actions"] = np.stack(policy.actions)[None]
    return feed


@pytest.mark.parametrize("name", list(AGENTS))
def test_onnx_runtime_acts_as_the_pytorch_policy_on_an_episode(runs, name):
    run_dir, path = runs[name]
    onnx.checker.check_model(onnx.load(str(path)))
    run = SLAC.load(run_dir, replay=False, device="cpu")
    session, env, policy = _session(path), run.eval_env, HistoryPolicy(run.agent)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=3)
    policy.start(obs)
    worst = 0.0
    for _ in range(50):  # a whole toy episode
        noise = rng.standard_normal((1, run.action_dim)).astype(np.float32)
        deterministic, stochastic, mean, log_std = session.run(OUTPUTS, _feed(run.agent, policy, noise))
        expected = policy.act(deterministic=True)
        with torch.no_grad():  # the PyTorch actor's own sampling, given the same noise
            original = torch.randn_like
            torch.randn_like = lambda like, given=noise, **kw: torch.as_tensor(given).to(like.dtype).reshape(like.shape)
            try:
                expected_stochastic = policy.act(deterministic=False)
            finally:
                torch.randn_like = original
        worst = max(worst, float(np.abs(deterministic[0] - expected).max()),
                    float(np.abs(stochastic[0] - expected_stochastic).max()))
        assert np.all(log_std >= run.config.log_std_min) and np.all(log_std <= run.config.log_std_max)
        obs, _, terminated, truncated, _ = env.step(expected)
        policy.observe(expected, obs)
        if terminated or truncated:
            break
    print(f"{name}: largest action difference {worst:.2e}")
    assert worst < TOLERANCE


def test_the_graph_has_a_dynamic_batch_and_the_runs_facts(runs):
    run_dir, path = runs["slac"]
    session = _session(path)
    shapes = {i.name: i.shape for i in session.get_inputs()}
    assert shapes == {"frames": ["batch", 8, 3, 64, 64], "actions": ["batch", 7, 2], "noise": ["batch", 2]}
    batch = {"frames": np.zeros((5, 8, 3, 64, 64), np.uint8), "actions": np.zeros((5, 7, 2), np.float32),
             "noise": np.zeros((5, 2), np.float32)}
    assert all(out.shape[0] == 5 for out in session.run(OUTPUTS, batch))
    meta = onnx_metadata(path)
    assert (meta["task"], meta["agent"], meta["action_repeat"], meta["image_size"]) == ("toy/reach", "slac", 1, 64)
    assert (meta["action_low"], meta["action_high"], meta["env_steps"]) == ([-1.0, -1.0], [1.0, 1.0], 120)
    assert meta["last_eval"]["return_stochastic"] == json.loads(json.dumps(SLAC.load(run_dir, replay=False).last_eval))[
        "return_stochastic"]
    assert {i.name for i in _session(runs["sac-state"][1]).get_inputs()} == {"state", "noise"}


def test_the_torch_free_loop_plays_a_full_toy_episode_as_pytorch_does(runs):
    """examples/act_onnx.py with torch made unimportable, on the toy env made by its Gymnasium id."""
    run_dir, path = runs["slac"]
    script = f"""
import sys
sys.modules["torch"] = None  # any import of torch fails
sys.path.insert(0, {str(EXAMPLE)!r})
import gymnasium
from act_onnx import OnnxPolicy, run_episode
env = gymnasium.make("slac.envs.toy:slac/reach-v0")
print(run_episode(OnnxPolicy({str(path)!r}), env, seed=5, deterministic=True))
assert "torch" not in sys.modules or sys.modules["torch"] is None
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    onnx_return = float(done.stdout.strip().splitlines()[-1])
    run = SLAC.load(run_dir, replay=False, device="cpu")
    policy, env = HistoryPolicy(run.agent), run.eval_env
    obs, _ = env.reset(seed=5)
    action, total, done_ = policy.reset(obs, deterministic=True), 0.0, False
    while not done_:
        obs, reward, terminated, truncated, _ = env.step(action)
        total += reward
        done_ = terminated or truncated
        action = policy.step(obs, deterministic=True)
    assert abs(onnx_return - total) < 1e-3, (onnx_return, total)


def test_export_writes_a_model_card_from_the_run_directory(runs, tmp_path):
    run_dir, _ = runs["slac"]
    out = tmp_path / "card" / "policy.onnx"
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(out), "--card"]) == 0
    card = (out.parent / "README.md").read_text()
    assert (out.parent / "policy_episode.gif").stat().st_size > 1000
    config = json.loads((run_dir / "config.json").read_text())
    # the evaluation table is eval.csv row for row (env step, stochastic mean +- std, deterministic)
    evaluations = [f"| {int(r['env_step']):,} | {r['return_stochastic']:.1f} +- {r['return_stochastic_std']:.1f} | "
                   f"{r['return_deterministic']:.1f} +- {r['return_deterministic_std']:.1f} |"
                   for r in read_csv(run_dir / "eval.csv")]
    assert len(evaluations) == 4  # at 0, 50, 100 and the run's last step, 120
    assert card == "\n".join([
        "# slac on toy/reach", "",
        "Policy file: `policy.onnx` (ONNX: ONNX Runtime acts with it without PyTorch, e.g. examples/act_onnx.py).", "",
        "| | |", "| --- | --- |",
        "| task | `toy/reach` (action repeat 1) |",
        "| agent | `slac`, latent model `slac` |",
        "| seed | 0 |",
        "| env steps trained | 120 (random actions for the first 30; 5 model pretraining updates; 90 updates) |",
        f"| run directory | `{run_dir}` |", "",
        "## Evaluations", "",
        "Every 50 env steps, 1 episode of the stochastic policy (what the paper's curves show) and of the deterministic "
        "one (tanh of the mean); each evaluation draws its episode starts from the seed and its env step. Mean +- std "
        "over episodes.", "",
        "| env step | stochastic | deterministic |", "| --- | --- | --- |", *evaluations, "",
        "![one evaluation episode, stochastic policy](policy_episode.gif)", "",
        "## Trained with", "", "```", (run_dir / "commands.txt").read_text().strip(), "```", "",
        "## Config", "", "```json", json.dumps(config, indent=2), "```", ""])


def test_a_model_card_without_frames_or_evaluations(runs, tmp_path):
    import shutil

    run_dir = tmp_path / "state-run"
    shutil.copytree(runs["sac-state"][0], run_dir)
    (run_dir / "eval.csv").unlink()
    out = tmp_path / "card" / "policy.pt"
    assert main(["export", str(run_dir), "--out", str(out), "--card"]) == 0
    card = (out.parent / "README.md").read_text()
    assert "| env step | stochastic | deterministic |\n| --- | --- | --- |\n| (no evaluation yet) | | |\n\n## Trained" in card
    assert "| agent | `sac-state` |" in card
    assert ".gif" not in card and not list(out.parent.glob("*.gif"))  # a state policy has no frames to show
    assert "Policy file: `policy.pt` (PyTorch: slac.load_policy)." in card


def test_a_card_for_a_run_without_recorded_commands_and_several_evaluation_episodes(tmp_path):
    """write_model_card on a run's facts alone (a state-based agent: no episode to draw)."""
    from types import SimpleNamespace

    from helpers import tiny_config

    from slac.run.deploy import write_model_card
    from slac.run.progress import Progress

    config = tiny_config(agent="sac-state", pretrain_steps=0, eval_episodes=2, eval_interval=2_000, init_steps=1_000, seed=5)
    run = SimpleNamespace(config=config, progress=Progress(env_steps=12_000, updates=11_000), run_dir=tmp_path)
    (tmp_path / "out").mkdir()
    card = write_model_card(run, tmp_path / "out" / "policy.pt").read_text()
    assert "| seed | 5 |" in card and "| agent | `sac-state` |" in card
    assert ("| env steps trained | 12,000 (random actions for the first 1,000; 0 model pretraining updates; "
            "11,000 updates) |") in card
    assert "Every 2,000 env steps, 2 episodes of the stochastic policy" in card
    assert "```\n(not recorded: a run from before slac recorded its commands)\n```" in card


def test_the_onnx_check_refuses_a_graph_that_acts_otherwise(runs, tmp_path, capsys, monkeypatch):
    run_dir, path = runs["slac"]
    run = SLAC.load(run_dir, device="cpu", replay=False)
    assert check_onnx_export(run.agent, path) < TOLERANCE
    with torch.no_grad():
        run.agent.actor.net[-1].bias.add_(0.01)  # the PyTorch policy moves; the graph on disk does not
    with pytest.raises(SlacError, match="ONNX Runtime's actions differ from PyTorch's by"):
        check_onnx_export(run.agent, path)
    run.close()
    monkeypatch.setattr("slac.policy.onnx.check_onnx", lambda agent, path: 2e-4)  # the CLI refuses beyond 1e-4
    assert main(["export", str(run_dir), "--format", "onnx", "--check", "--out", str(tmp_path / "p.onnx")]) == 2
    assert "differ from PyTorch's by 0.0002 (more than 0.0001)" in capsys.readouterr().err
    monkeypatch.setattr("slac.policy.onnx.check_onnx", lambda agent, path: ONNX_TOLERANCE)  # at the tolerance: accepted
    assert main(["export", str(run_dir), "--format", "onnx", "--check", "--out", str(tmp_path / "q.onnx")]) == 0


def test_bad_export_requests_get_one_line(runs, tmp_path, capsys, monkeypatch):
    empty = tmp_path / "no-run"
    empty.mkdir()
    assert main(["export", str(empty), "--format", "onnx", "--out", str(tmp_path / "p.onnx")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    run_dir, _ = runs["slac"]
    assert main(["export", str(run_dir), "--format", "onnx", "--opset", "3", "--out", str(tmp_path / "p.onnx")]) == 2
    error = capsys.readouterr().err
    assert "opset 3" in error and error.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["export", str(run_dir), "--format", "tflite", "--out", str(tmp_path / "p.tflite")])
    assert "invalid choice: 'tflite'" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert main(["export", str(run_dir), "--format", "onnx", "--check", "--out", str(tmp_path / "q.onnx")]) == 2
    assert "needs onnxruntime" in capsys.readouterr().err


def test_the_onnx_pages_commands_run_line_by_line(tmp_path, monkeypatch):
    """docs/onnx.md's commands, in order, at tiny sizes: train, export with --check --card, and the
    torch-free example acting in the toy env (torch unimportable in that process)."""
    section = (REPO / "docs" / "onnx.md").read_text()
    lines = [line.split("#")[0].strip() for line in section.split("```")[1].strip().splitlines()]
    lines = [line for line in lines if line and not line.startswith("pip install")]
    assert [line.split()[0] for line in lines] == ["slac", "slac", "python"]
    monkeypatch.chdir(tmp_path)
    tiny = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device", "init_steps", "pretrain_steps")]
    train = lines[0].split()[1:]
    train[train.index("--steps") + 1] = "120"
    assert main([*train, "--device", "cpu", "--no-progress", *tiny]) == 0
    run_dir = Path(train[train.index("--run-dir") + 1])
    trained = load_checkpoint(list_checkpoints(run_dir)[-1])[1]["counters"]
    assert trained["pretrain_updates"] > 0 and trained["updates"] > 0  # the exported policy has learned something
    assert main(lines[1].split()[1:]) == 0
    assert (tmp_path / "deploy" / "README.md").is_file()
    command = lines[2].split()
    command[1] = str(EXAMPLE / "act_onnx.py")
    script = ("import runpy, sys; sys.modules['torch'] = None; sys.argv = " + repr(command[1:])
              + "; runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert [line.split(":")[0] for line in done.stdout.strip().splitlines()] == ["episode 0", "episode 1", "episode 2"]
