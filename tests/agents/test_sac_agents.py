"""The SAC baselines (sac-state, sac-pixels) in SLAC's harness: they train, checkpoint, resume
exactly, evaluate, export and predict like SLAC; sac-state never renders; sac-pixels' encoder
learns from the critic alone; and sac-state learns the toy task."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import TINY

from slac import SLAC, load_policy
from slac.agents.sac import SACAgent
from slac.cli import main
from slac.config import Config
from slac.errors import ConfigError, SlacError
from slac.run.logging import read_csv
from slac.tools.plot import variant_of

VOLATILE = {"steps_per_s", "wall_time_s"}
SAC_TINY = {**TINY, "pretrain_steps": 0, "eval_interval": 40, "checkpoint_interval": 40, "steps": 160}


def rows(path):
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in read_csv(path)]


def sac_run(agent, run_dir, **changes):
    return SLAC(config=Config.from_dict({**SAC_TINY, "agent": agent, **changes}), run_dir=run_dir)


@pytest.mark.parametrize("agent", ["sac-state", "sac-pixels"])
def test_a_baseline_trains_checkpoints_resumes_exactly_and_evaluates(agent, tmp_path):
    whole = sac_run(agent, tmp_path / "whole").learn(progress=False)
    whole.close()
    first = sac_run(agent, tmp_path / "split")
    first.learn(120, progress=False)  # stops mid-episode (toy episodes are 50 steps) with a checkpoint
    first.close()
    resumed = SLAC.load(tmp_path / "split")
    assert resumed.counters["env_steps"] == 120 and resumed.counters["in_episode"]
    resumed.learn(progress=False)
    resumed.close()
    assert whole.counters["updates"] == 160 - TINY["init_steps"] and whole.counters["pretrain_updates"] == 0
    assert rows(tmp_path / "split" / "eval.csv") == rows(tmp_path / "whole" / "eval.csv")
    assert rows(tmp_path / "split" / "metrics.csv") == rows(tmp_path / "whole" / "metrics.csv")
    assert "critic_loss" in read_csv(tmp_path / "whole" / "metrics.csv")[-1]
    assert main(["eval", str(tmp_path / "whole"), "--episodes", "1"]) == 0


@pytest.mark.parametrize("task", ["dmc/ball_in_cup-catch", "gym/HalfCheetah-v5"])
def test_a_mujoco_run_stopped_mid_episode_resumes_exactly(task, tmp_path):
    """The checkpoint holds MuJoCo's state, the step count toward the time limit and the task's random
    state, so a dm_control or Gymnasium MuJoCo episode continues where it stopped (and ends at its time
    limit, 1,000 env steps), row for row."""
    changes = {"task": task, "action_repeat": 8, "init_steps": 480, "steps": 1200,
               "eval_interval": 1200, "checkpoint_interval": 1200}  # 125-agent-step episodes
    whole = sac_run("sac-state", tmp_path / "whole", **changes).learn(progress=False)
    whole.close()
    first = sac_run("sac-state", tmp_path / "split", **changes)
    first.learn(600, progress=False)
    first.close()
    resumed = SLAC.load(tmp_path / "split")
    assert resumed.counters["env_steps"] == 600 and resumed.counters["in_episode"]
    resumed.learn(progress=False)
    resumed.close()
    assert rows(tmp_path / "split" / "metrics.csv") == rows(tmp_path / "whole" / "metrics.csv")
    assert rows(tmp_path / "split" / "eval.csv") == rows(tmp_path / "whole" / "eval.csv")
    assert whole.counters["episodes"] == resumed.counters["episodes"] == 1


def test_an_episode_state_that_cannot_be_restored_starts_a_new_episode_with_a_warning(tmp_path, monkeypatch):
    first = sac_run("sac-state", tmp_path / "r", task="dmc/ball_in_cup-catch", action_repeat=8, init_steps=160,
                    eval_interval=600)  # an evaluation is a whole 1,000-step episode: two, not fifteen
    first.learn(600, progress=False)
    first.close()

    def other_mujoco(env, state):
        raise ValueError("the saved MuJoCo state has 37 numbers; this model's has 40")

    monkeypatch.setattr("slac.run.state.restore_episode", other_mujoco)
    with pytest.warns(UserWarning, match="37 numbers.*a new episode begins"):
        resumed = SLAC.load(tmp_path / "r")
    assert resumed.counters["env_steps"] == 600 and not resumed.counters["in_episode"]
    resumed.learn(700, progress=False)
    resumed.close()


class StateOnlyEnv(gym.Env):
    """A 1-D task whose render raises: an agent that renders a frame fails on it."""

    observation_space = gym.spaces.Box(-np.inf, np.inf, (3,), np.float64)
    action_space = gym.spaces.Box(np.float32(-2.0), np.float32(2.0), (1,), np.float32)
    render_mode = "rgb_array"

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = self.np_random.uniform(-1, 1), 0
        return self._obs(), {}

    def step(self, action):
        self.x = float(np.clip(self.x + 0.1 * float(action[0]), -2, 2))
        self.t += 1
        return self._obs(), -abs(self.x), False, self.t >= 20, {}

    def _obs(self):
        return np.array([self.x, self.x**2, self.t / 20])

    def render(self):
        raise AssertionError("sac-state rendered a frame")


def test_sac_state_runs_on_a_users_state_env_without_rendering(tmp_path):
    run = SLAC(StateOnlyEnv(), config=Config.from_dict({**SAC_TINY, "agent": "sac-state", "steps": 80}),
               eval_env=StateOnlyEnv(), run_dir=tmp_path)
    run.learn(progress=False)
    assert run.replay.frames.dtype == np.float32 and run.replay.frame_shape == (3,)
    assert np.isfinite(run.last_eval["return_stochastic"])
    actions, state = run.predict(np.zeros((5, 3), np.float32))
    assert actions.shape == (5, 1) and np.all(np.abs(actions) <= 1)
    actions, _ = run.predict(np.zeros((5, 3), np.float32), state, episode_start=np.ones(5, bool))
    assert actions.shape == (5, 1)
    with pytest.raises(SlacError, match="no latent model"):
        run.rollouts(1)
    run.close()


def test_sac_pixels_encoder_learns_from_the_critic_loss_and_not_from_the_actor_loss(tmp_path):
    run = sac_run("sac-pixels", tmp_path, steps=60)
    run.learn(progress=False)
    agent = run.agent
    terms = agent.compute_losses(run.replay.sample(8))
    encoder = list(agent.encoder.parameters())
    from_critic = torch.autograd.grad(terms["critic_loss"], encoder, retain_graph=True, allow_unused=True)
    from_actor = torch.autograd.grad(terms["actor_loss"], encoder, retain_graph=True, allow_unused=True)
    assert all(g is not None for g in from_critic) and sum(float(g.abs().sum()) for g in from_critic) > 0
    assert all(g is None for g in from_actor)
    assert set(agent.state_dict()) >= {"encoder.net.0.weight", "critic.q1.net.0.weight", "actor.net.0.weight"}
    run.close()


@pytest.mark.parametrize("agent", ["sac-state", "sac-pixels"])
def test_an_exported_baseline_policy_acts_as_its_run(agent, tmp_path):
    run = sac_run(agent, tmp_path / "run", steps=60)
    run.learn(progress=False)
    policy = load_policy(run.export(tmp_path / "policy.pt"))
    env = run.eval_env
    obs, _ = env.reset(seed=3)
    mine, theirs = run.policy(), policy
    a, b = mine.reset(obs, deterministic=True), theirs.reset(obs, deterministic=True)
    for _ in range(5):
        np.testing.assert_allclose(a, b, atol=1e-6)
        obs, *_ = env.step(a)
        a, b = mine.step(obs, deterministic=True), theirs.step(obs, deterministic=True)
    run.close()


def test_agents_are_named_in_configs_plots_and_errors():
    assert Config.build(task="dmc/cheetah-run", overrides={"agent": "sac-state"}).pretrain_steps == 0
    assert Config.build(task="dmc/cheetah-run").pretrain_steps == 50_000
    assert Config.build(preset="quickstart", overrides={"agent": "sac-pixels"}).pretrain_steps == 0
    with pytest.raises(ConfigError, match="sees no frames"):
        Config.build(overrides={"agent": "sac-state", "eval_video": True})
    with pytest.raises(ConfigError, match="did you mean 'sac-state'"):
        Config.build(overrides={"agent": "sac_state"})
    with pytest.raises(ConfigError, match="no model to pretrain"):
        Config.build(overrides={"agent": "sac-pixels", "pretrain_steps": 10})
    assert variant_of({"agent": "sac-pixels", "augment": "crop", "model": "slac"}) == "sac-pixels+crop (DrQ-style)"
    assert variant_of({"agent": "sac-state", "model": "slac", "actor_input": "history"}) == "sac-state"
    assert variant_of({"agent": "slac", "model": "slac", "augment": "crop"}) == "slac, augment=crop"
    with pytest.raises(ValueError, match="1-D state"):
        SACAgent(2, Config.from_dict({**SAC_TINY, "agent": "sac-state"}), observation_shape=(3, 64, 64))


def test_sac_state_learns_the_toy_task(tmp_path):
    """SAC on the true state of toy/reach: a random policy scores about -57; after 2,000 updates the
    policy comes within reach of the goal (measured: -10.5 and -12.9 deterministic, 2 seeds)."""
    config = Config.build(task="toy/reach", overrides={
        "agent": "sac-state", "seed": 0, "steps": 2_500, "init_steps": 500, "ac_hidden_dim": 64, "ac_batch": 64,
        "model_batch": 8, "replay_capacity": 10_000, "eval_interval": 2_500, "eval_episodes": 10,
        "checkpoint_interval": 10**6, "log_interval": 500, "device": "cpu"})
    run = SLAC(config=config, run_dir=tmp_path)
    run.learn(progress=False)
    run.close()
    final = read_csv(tmp_path / "eval.csv")[-1]
    assert int(final["env_step"]) == 2_500
    assert float(final["return_deterministic"]) > -25 and float(final["return_stochastic"]) > -30, final


def test_reproduce_and_sweep_take_the_agent(tmp_path):
    from slac.tools.sweep import plan

    settings = [f"{k}={v}" for k, v in SAC_TINY.items() if k not in ("task", "device", "steps", "pretrain_steps")]
    out = tmp_path / "repro"
    assert main(["reproduce", "--agent", "sac-state", "--tasks", "toy/reach", "--seeds", "0", "--steps", "60",
                 "--out", str(out), "--device", "cpu", "--no-progress", *settings]) == 0
    assert "| toy/reach | sac-state | 1 |" in (out / "report.md").read_text()
    runs = plan(["toy/reach"], [0, 1], tmp_path / "sweep", overrides={"agent": "sac-pixels"})
    assert [r["name"] for r in runs] == ["toy_reach-sac-pixels-s0", "toy_reach-sac-pixels-s1"]
    assert all(r["config"]["agent"] == "sac-pixels" and r["config"]["pretrain_steps"] == 0 for r in runs)
