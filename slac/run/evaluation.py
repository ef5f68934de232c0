"""Evaluation episodes and recordings of a policy, apart from training: episode starts drawn from
(seed, the evaluation's env step, episode), as the authors' evaluation env keeps drawing new
starts, a random stream of their own (evaluating never changes what training samples next), and
the random policy's returns on the same starts as the baseline."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from slac.agents.base import ActorCriticAgent
from slac.common.seeds import EVAL_EPISODES, RANDOM_POLICY, episode_seed
from slac.envs import render_view
from slac.policy.history import HistoryPolicy
from slac.run.visualize import side_by_side


def run_episodes(agent: ActorCriticAgent, env: gym.Env, seed: int, episodes: int, deterministic: bool,
                 record: list | None = None, record_episodes: int | None = None,
                 view_size: int | None = None, evaluation: int = 0) -> np.ndarray:
    """Returns of episodes 0..episodes-1 of the evaluation at env step `evaluation` (their starts
    drawn from `seed` and that step: each evaluation sees new starts). Frames of the first
    `record_episodes` (default all) are appended to `record`: the agent's input, or with
    `view_size` that input beside a `view_size`-pixel rendering of the scene."""
    policy = HistoryPolicy(agent)
    returns = []
    for k in range(episodes):
        obs, _ = env.reset(seed=episode_seed(seed, EVAL_EPISODES, evaluation, k))
        policy.start(obs)
        total, done = 0.0, False
        recording = record is not None and (record_episodes is None or k < record_episodes)
        while not done:
            if recording:
                record.append(obs if view_size is None else side_by_side(obs, render_view(env, view_size)))
            action = policy.act(deterministic)
            obs, reward, terminated, truncated, _ = env.step(action)
            policy.observe(action, obs)
            total += reward
            done = terminated or truncated
        returns.append(total)
    return np.array(returns)


def record_sequence(agent: ActorCriticAgent, env: gym.Env, seed: int, episode: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Frames (<= steps + 1) and actions of the stochastic policy in evaluation episode `episode`
    (of the evaluation at env step 0)."""
    policy = HistoryPolicy(agent)
    obs, _ = env.reset(seed=episode_seed(seed, EVAL_EPISODES, 0, episode))
    policy.start(obs)
    frames, actions = [obs], []
    for _ in range(steps):
        action = policy.act()
        obs, _, terminated, truncated, _ = env.step(action)
        policy.observe(action, obs)
        frames.append(obs)
        actions.append(action)
        if terminated or truncated:
            break
    return np.stack(frames), np.stack(actions)


def random_policy_returns(env: gym.Env, episodes: int, seed: int, evaluation: int = 0) -> np.ndarray:
    """Returns of a uniform random policy on the starts of the evaluation at env step
    `evaluation` (the baseline on the same episodes)."""
    rng = np.random.default_rng(episode_seed(seed, RANDOM_POLICY, evaluation))
    returns = []
    for k in range(episodes):
        env.reset(seed=episode_seed(seed, EVAL_EPISODES, evaluation, k))
        total, done = 0.0, False
        while not done:
            _, reward, terminated, truncated, _ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
            total += reward
            done = terminated or truncated
        returns.append(total)
    return np.array(returns)
