"""Discrete actions: the losses of SAC for discrete actions (Christodoulou 2019), the categorical
actor, one-hot actions through the env, replay, model and history, and every path of a run."""

import subprocess
import sys

import ale_py  # noqa: F401  installed by the make targets (the atari extra): a broken install fails here
import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import REPO, TINY

from slac import load_policy
from slac.agents.losses import discrete_actor_loss, discrete_critic_loss
from slac.agents.networks import CategoricalActor, DiscreteTwinCritic
from slac.cli import main
from slac.envs import discrete_actions, make_env, wrap_env
from slac.envs.toy import PointMassReach
from slac.errors import TaskError
from slac.run.logging import read_csv
from slac.run.trainer import SLAC

DISCRETE = {**TINY, "task": "toy/reach-discrete"}
TINY_ARGS = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]


def test_the_discrete_critic_target_is_the_expectation_over_the_policy():
    torch.manual_seed(0)
    actor, critic, target = CategoricalActor(3, 4, 8), DiscreteTwinCritic(5, 4, 8), DiscreteTwinCritic(5, 4, 8)
    z, next_z, next_history = torch.randn(6, 5), torch.randn(6, 5), torch.randn(6, 3)
    action = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3, 0, 1]), 4).float()
    reward, terminal, alpha = torch.randn(6), torch.tensor([0, 0, 1, 0, 0, 0.0]), torch.tensor(0.3)
    terms = discrete_critic_loss(critic, target, actor, z, action, reward, terminal, next_z, next_history, alpha, 0.9)
    probs = torch.softmax(actor.net(next_history), -1)
    q_next = torch.min(target.q1(next_z), target.q2(next_z))
    value = (probs * (q_next - alpha * probs.log())).sum(-1)
    expected_target = reward + 0.9 * (1 - terminal) * value
    q1 = critic.q1(z)[torch.arange(6), action.argmax(-1)]
    q2 = critic.q2(z)[torch.arange(6), action.argmax(-1)]
    expected = 0.5 * ((q1 - expected_target) ** 2).mean() + 0.5 * ((q2 - expected_target) ** 2).mean()
    assert torch.allclose(terms["critic_loss"], expected, atol=1e-6)
    assert torch.allclose(terms["target_q"], expected_target.mean(), atol=1e-6)


def test_the_discrete_actor_loss_is_exact_and_trains_the_actor_alone():
    torch.manual_seed(1)
    actor, critic = CategoricalActor(3, 4, 8), DiscreteTwinCritic(5, 4, 8)
    z, history, alpha = torch.randn(6, 5), torch.randn(6, 3), torch.tensor(0.2)
    terms = discrete_actor_loss(actor, critic, z, history, alpha)
    probs = torch.softmax(actor.net(history), -1)
    q = torch.min(critic.q1(z), critic.q2(z))
    assert torch.allclose(terms["actor_loss"], (probs * (alpha * probs.log() - q)).sum(-1).mean(), atol=1e-6)
    assert torch.allclose(terms["entropy"], -(probs * probs.log()).sum(-1).mean(), atol=1e-6)
    terms["actor_loss"].backward()
    assert all(p.grad is None for p in critic.parameters()) and all(p.grad is not None for p in actor.parameters())


def test_the_categorical_actor_samples_its_probabilities_and_acts_greedily():
    torch.manual_seed(2)
    actor = CategoricalActor(2, 3, 8)
    with torch.no_grad():
        actor.net[-1].weight.zero_()
        actor.net[-1].bias.copy_(torch.log(torch.tensor([0.7, 0.2, 0.1])))
    one_hot, log_pi = actor(torch.zeros(20_000, 2))
    assert torch.all(one_hot.sum(-1) == 1)
    assert torch.allclose(one_hot.mean(0), torch.tensor([0.7, 0.2, 0.1]), atol=0.02)
    assert torch.allclose(log_pi, (one_hot * torch.log(torch.tensor([0.7, 0.2, 0.1]))).sum(-1), atol=1e-5)
    greedy, _ = actor(torch.zeros(5, 2), deterministic=True)
    assert torch.all(greedy.argmax(-1) == 0)


class DiscreteGridEnv(gym.Env):
    """A user's env: HWC frames and Discrete(3) actions."""

    observation_space = gym.spaces.Box(0, 255, (64, 64, 3), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros((64, 64, 3), np.uint8), {}

    def step(self, action):
        assert isinstance(action, int) and 0 <= action < 3, action
        self.t += 1
        return np.full((64, 64, 3), 80 * action, np.uint8), float(action == 2), False, self.t >= 20, {}


def test_wrap_env_takes_a_users_discrete_env_and_refuses_other_spaces_in_one_line():
    env = wrap_env(DiscreteGridEnv())
    assert discrete_actions(env) == 3 and env.action_space.shape == (3,)
    env.reset(seed=0)
    obs, reward, *_ = env.step(np.array([0.1, 0.0, 0.9], np.float32))  # the env receives the arg-max
    assert reward == 1.0 and obs.shape == (3, 64, 64)
    bad = DiscreteGridEnv()
    bad.action_space = gym.spaces.MultiDiscrete([2, 3])
    with pytest.raises(TaskError, match="Box.*or a Discrete action space"):
        wrap_env(bad)
    bad.action_space = gym.spaces.Discrete(3, start=1)
    with pytest.raises(TaskError, match="starting at 0"):
        wrap_env(bad)
    run = SLAC(DiscreteGridEnv(), run_dir=None, **{k: v for k, v in TINY.items() if k != "task"})
    assert run.discrete and run.action_dim == 3 and run.agent.discrete


def test_a_discrete_run_trains_resumes_evaluates_exports_and_predicts_integers(tmp_path, capsys):
    run_dir = tmp_path / "run"
    base = ["train", "--task", "toy/reach-discrete", "--device", "cpu", "--run-dir", str(run_dir), "--no-progress"]
    assert main([*base, "--steps", "100", *TINY_ARGS]) == 0
    assert main(["train", "--resume", str(run_dir), "--steps", "150", "--no-progress"]) == 0
    rows = read_csv(run_dir / "eval.csv")
    assert [r["env_step"] for r in rows] == [0, 50, 100, 150]
    train_rows = [r for r in read_csv(run_dir / "metrics.csv") if r["phase"] == "train"]
    assert all(0 <= r["entropy"] <= np.log(5) + 1e-6 for r in train_rows)
    assert main(["eval", str(run_dir), "--episodes", "2", "--video", str(tmp_path / "eval.mp4")]) == 0
    assert (tmp_path / "eval.mp4").stat().st_size > 0
    assert main(["visualize", str(run_dir), "--out", str(tmp_path / "model.png")]) == 0
    assert main(["plot", str(run_dir), "--out", str(tmp_path / "curves.png")]) == 0
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert main(["export", str(run_dir), "--out", str(tmp_path / "policy.pt")]) == 0
    capsys.readouterr()
    policy = load_policy(tmp_path / "policy.pt")
    env = make_env("toy/reach-discrete")
    obs, _ = env.reset(seed=0)
    action, state = policy.predict(obs, deterministic=True)
    assert isinstance(action, np.integer) and 0 <= action < 5
    batch = np.stack([obs, env.reset(seed=1)[0]])
    actions, state = policy.predict(batch)
    assert actions.shape == (2,) and actions.dtype.kind == "i"
    run = SLAC.load(run_dir, replay=False)
    assert run.discrete and run.agent.discrete and run.counters["env_steps"] == 150


def test_a_discrete_policy_runs_in_onnx_runtime_as_in_pytorch(tmp_path):
    run_dir = tmp_path / "run"
    assert main(["train", "--task", "toy/reach-discrete", "--steps", "100", "--device", "cpu", "--run-dir",
                 str(run_dir), "--no-progress", *TINY_ARGS]) == 0
    out = tmp_path / "policy.onnx"
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(out), "--check"]) == 0
    example = REPO / "examples"
    script = f"""
import sys
sys.modules["torch"] = None
sys.path.insert(0, {str(example)!r})
import gymnasium
from act_onnx import OnnxPolicy, run_episode
print(run_episode(OnnxPolicy({str(out)!r}), gymnasium.make("slac.envs.toy:slac/reach-discrete-v0"), seed=4,
                  deterministic=True))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    run = SLAC.load(run_dir, replay=False, device="cpu")
    policy, env = run.policy(), run.eval_env
    obs, _ = env.reset(seed=4)
    action, total, done_ = policy.reset(obs, deterministic=True), 0.0, False
    while not done_:
        obs, reward, terminated, truncated, _ = env.step(action)
        total, done_ = total + reward, terminated or truncated
        action = policy.step(obs, deterministic=True)
    assert abs(float(done.stdout.strip().splitlines()[-1]) - total) < 1e-3


def test_the_discrete_toy_task_moves_by_whole_steps():
    env = PointMassReach(discrete=True, fixed_goal=(0.5, 0.5))
    env.reset(seed=0)
    start = env._pos.copy()
    env.step(1)  # right
    assert np.allclose(env._pos - start, [env.speed, 0]) or env._pos[0] == 1.0


def test_atari_games_are_discrete_pixel_tasks_that_count_frames():
    env = make_env("atari/Pong", seed=0)
    assert env.observation_space.shape == (3, 64, 64) and discrete_actions(env) == 6
    obs, _ = env.reset(seed=0)
    obs, _, _, _, info = env.step(np.eye(6, dtype=np.float32)[0])
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8 and info["env_steps"] == 4  # frame skip 4
    with pytest.raises(TaskError, match="did you mean 'atari/Pong'"):
        make_env("atari/Pongg")
    run = SLAC("atari/Pong", run_dir=None, **{k: v for k, v in TINY.items() if k != "task"})
    assert run.discrete and run.config.resolved_action_repeat() == 4 and run.config.steps == 400_000


def test_an_atari_episode_saved_mid_way_continues_exactly_in_a_new_env():
    import json

    from slac.envs.state import episode_state, restore_episode

    actions = np.eye(6, dtype=np.float32)[np.random.default_rng(0).integers(0, 6, 80)]
    first = make_env("atari/Pong", seed=3, sticky_actions=0.25)  # sticky actions draw on the emulator's RNG
    for action in actions[:40]:
        first.step(action)
    state = json.loads(json.dumps(episode_state(first)))  # as a checkpoint stores it
    expected = [first.step(action) for action in actions[40:]]
    second = make_env("atari/Pong", seed=3, sticky_actions=0.25)
    restore_episode(second, state)
    for (obs, reward, *_), (want_obs, want_reward, *_) in zip((second.step(a) for a in actions[40:]), expected):
        np.testing.assert_array_equal(obs, want_obs)
        assert reward == want_reward
