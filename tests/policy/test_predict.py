"""Stable-Baselines3's predict: batched acting on a Gymnasium vector env agrees with one history
policy per env, episode_start restarts a row, and a changed model re-encodes kept frames."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import TINY, tiny_config

from slac import SLAC, make_env
from slac.agents.base import batch_history_resets
from slac.agents.slac import SLACAgent
from slac.policy.history import History


def vector_env(n: int) -> gym.vector.SyncVectorEnv:
    return gym.vector.SyncVectorEnv([lambda: make_env("toy/reach") for _ in range(n)],
                                    autoreset_mode=gym.vector.AutoresetMode.SAME_STEP)


def test_predict_on_a_vector_env_in_sb3s_evaluate_policy_loop_matches_one_policy_per_env(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    envs, n = vector_env(2), 2
    singles = [make_env("toy/reach") for _ in range(n)]
    policies = [run.policy() for _ in range(n)]
    observations, _ = envs.reset(seed=[11, 12])
    single_obs = [env.reset(seed=seed)[0] for env, seed in zip(singles, (11, 12))]
    states, episode_starts, finished = None, np.ones(n, bool), 0
    for step in range(70):  # SB3's evaluate_policy, over more than one episode per env
        if step == 30:  # a model update: every cached feature is stale
            with torch.no_grad():
                for p in run.agent.model.encoder.parameters():
                    p.mul_(1.1)
            run.agent.model_version += 1
        actions, states = run.predict(observations, state=states, episode_start=episode_starts, deterministic=True)
        expected = [p.reset(o, deterministic=True) if start else p.step(o, deterministic=True)
                    for p, o, start in zip(policies, single_obs, episode_starts)]
        np.testing.assert_allclose(actions, np.stack(expected), atol=1e-5)
        observations, _, terminated, truncated, _ = envs.step(actions)
        episode_starts = terminated | truncated
        finished += int(episode_starts.sum())
        for i, (env, action) in enumerate(zip(singles, actions)):
            single_obs[i], _, term, trunc, _ = env.step(action)
            if term or trunc:
                single_obs[i], _ = env.reset()
        np.testing.assert_array_equal(observations, np.stack(single_obs))
    assert finished >= n  # the loop crossed episode boundaries
    run.close()


def test_a_latent_actor_restarts_each_rows_filter_where_its_episode_starts():
    # the latent actor samples z, so its batched actions cannot equal single ones draw for draw:
    # what batching changes is where each row's filter restarts, checked against one history's
    real = torch.arange(1, 11)
    # a row of r real frames (padded to 8) restarts at the padding and at its first real frame
    expected = torch.tensor([[j <= 8 - min(int(r), 8) for j in range(8)] for r in real])
    assert torch.equal(batch_history_resets(8, real), expected)


def test_one_observation_and_episode_start_restart_a_row(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    env = make_env("toy/reach")
    obs, _ = env.reset(seed=0)
    action, state = run.predict(obs, deterministic=True)
    assert action.shape == (run.action_dim,)
    for _ in range(3):
        obs, *_ = env.step(action)
        action, state = run.predict(obs, state=state, deterministic=True)
    assert int(state.real_frames[0]) == 4
    restarted, state = run.predict(obs, state=state, episode_start=np.array([True]), deterministic=True)
    fresh, _ = run.predict(obs, deterministic=True)
    np.testing.assert_allclose(restarted, fresh, atol=1e-6)
    assert int(state.real_frames[0]) == 1 and not state.actions.any()
    with pytest.raises(ValueError, match=r"predict takes uint8 frames \(3, H, W\) or \(H, W, 3\) of any size"):
        run.predict(np.zeros((5, 64, 64), np.uint8))  # neither a CHW nor an HWC frame
    with pytest.raises(ValueError, match=r"predict takes uint8 frames \(3, H, W\) or \(H, W, 3\) of any size"):
        run.predict(np.zeros((3, 64, 64), np.float32))
    run.close()


def test_a_history_encodes_only_what_is_missing_and_equals_a_full_encoding():
    torch.manual_seed(0)
    agent = SLACAgent(2, tiny_config())
    calls = []
    encode = agent.encode_frames
    agent.encode_frames = lambda frames: calls.append(len(frames)) or encode(frames)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, (6, 2, 3, 64, 64), dtype=np.uint8)  # 6 steps of 2 envs
    history = History.start(agent, frames[0])
    history.encoded(agent)
    assert calls == [2]  # two rows that start an episode: one frame each
    history = history.pushed(np.zeros((2, 2)), frames[1])
    history.restart(np.array([False, True]), frames[1])
    history.encoded(agent)
    assert calls[-1] == 2  # the newest frame of each row, the restarted row filled from it
    # restarted, then stepped before acting (random actions in training): no longer one frame repeated
    history.restart(np.array([True, False]), frames[2])
    for t in (3, 4):
        history = history.pushed(rng.uniform(-1, 1, (2, 2)), frames[t])
    features = history.encoded(agent)
    assert calls[-1] == 2 * 8
    expected = encode(history.frames.reshape(-1, 3, 64, 64)).reshape(2, 8, -1)
    torch.testing.assert_close(features, expected)
    np.testing.assert_array_equal(history.frames[0], np.stack([frames[2]] * 6 + [frames[3], frames[4]])[:, 0])
    assert history.real_frames.tolist() == [3, 3]
