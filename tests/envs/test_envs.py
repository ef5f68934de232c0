import numpy as np
import pytest

from slac.envs import list_tasks, make_env, wrap_env
from slac.errors import TaskError

TASKS = ["toy/reach", "dmc/cheetah-run", "gym/HalfCheetah-v5"]


@pytest.mark.parametrize("task", TASKS)
def test_observations_are_uint8_chw_frames_and_actions_lie_in_unit_box(task):
    env = make_env(task, seed=0)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8
    assert env.observation_space.shape == (3, 64, 64)
    assert np.all(env.action_space.low == -1) and np.all(env.action_space.high == 1)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8
    assert obs.std() > 0, "the frame should not be blank"
    assert isinstance(reward, float) and {"terminal", "time_limit", "env_steps"} <= set(info)
    env.close()


@pytest.mark.parametrize("task", TASKS)
def test_same_seed_gives_same_episode(task):
    def rollout(seed):
        env = make_env(task, seed=seed, action_repeat=1)
        frames = [env.reset(seed=seed)[0]]
        rng = np.random.default_rng(0)
        rewards = []
        for _ in range(5):
            obs, reward, *_ = env.step(rng.uniform(-1, 1, env.action_space.shape))
            frames.append(obs)
            rewards.append(reward)
        env.close()
        return np.stack(frames), np.array(rewards)

    frames_a, rewards_a = rollout(3)
    frames_b, rewards_b = rollout(3)
    np.testing.assert_array_equal(rewards_a, rewards_b)
    # EGL rendering is not promised bit-exact across contexts; physics is.
    assert np.abs(frames_a.astype(int) - frames_b.astype(int)).mean() < 0.5


def test_different_seeds_give_different_starts():
    a = make_env("toy/reach", seed=0).reset(seed=0)[0]
    b = make_env("toy/reach", seed=0).reset(seed=1)[0]
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("task,repeat", [("toy/reach", 3), ("dmc/cheetah-run", 4)])
def test_action_repeat_sums_rewards_of_the_inner_steps(task, repeat):
    actions = np.random.default_rng(1).uniform(-1, 1, (4, 6 if "cheetah" in task else 2))
    single = make_env(task, seed=5, action_repeat=1)
    single.reset(seed=5)
    expected = [sum(single.step(a)[1] for _ in range(repeat)) for a in actions]
    repeated = make_env(task, seed=5, action_repeat=repeat)
    repeated.reset(seed=5)
    got = [repeated.step(a)[1] for a in actions]
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_action_repeat_stops_at_the_episode_end():
    env = make_env("toy/reach", seed=0, action_repeat=3)  # 50-step episodes: 16 full repeats + 2
    env.reset(seed=0)
    infos = [env.step(np.zeros(2))[-1] for _ in range(17)]
    assert [i["env_steps"] for i in infos[-2:]] == [3, 2]
    assert infos[-1]["time_limit"] and not infos[-1]["terminal"]


def test_time_limit_is_not_a_terminal():
    env = make_env("toy/reach", seed=0)
    env.reset(seed=0)
    for _ in range(50):
        _, _, terminated, truncated, info = env.step(np.zeros(2))
    assert truncated and not terminated and info["time_limit"] and not info["terminal"]


def test_reaching_the_goal_is_a_true_terminal():
    env = make_env("toy/reach-terminal", seed=0)
    env.reset(seed=0)
    inner = env.unwrapped
    for _ in range(50):
        direction = inner._goal - inner._pos
        _, _, terminated, truncated, info = env.step(np.clip(direction / 0.15, -1, 1))
        if terminated or truncated:
            break
    assert terminated and not truncated and info["terminal"] and not info["time_limit"]


def test_gym_falling_hopper_is_terminal():
    env = make_env("gym/Hopper-v5", seed=0, action_repeat=1)
    env.reset(seed=0)
    for _ in range(200):
        _, _, terminated, truncated, info = env.step(np.ones(3))
        if terminated or truncated:
            break
    assert terminated and info["terminal"] and not info["time_limit"]
    env.close()


def test_two_gym_envs_render_in_one_process_after_one_is_closed():
    first = make_env("gym/HalfCheetah-v5", seed=0)
    first.close()
    second = make_env("gym/Hopper-v5", seed=0)
    del first
    assert second.reset(seed=0)[0].std() > 0
    second.close()


@pytest.mark.parametrize(
    "task,message",
    [
        ("cheetah-run", "suite/name"),
        ("dmc/cheetah-runn", "did you mean 'dmc/cheetah-run'"),
        ("procgen/coinrun", "unknown suite"),
        ("atari/pong", "did you mean 'atari/Pong'"),
        ("toy/reech", "did you mean 'toy/reach'"),
        ("gym/HalfCheetah-v9", "unknown Gymnasium env"),
    ],
)
def test_unknown_tasks_get_a_clear_error(task, message):
    with pytest.raises(TaskError, match=message):
        make_env(task)


@pytest.mark.parametrize("size", [0, 4, 64.0, "64"])
def test_bad_image_size_gets_a_clear_error(size):
    with pytest.raises(TaskError, match="image_size"):
        make_env("toy/reach", image_size=size)


def test_image_size_is_honoured():
    assert make_env("toy/reach", seed=0, image_size=32).reset()[0].shape == (3, 32, 32)


def test_list_tasks_names_every_suite():
    tasks = list_tasks()
    assert {"toy/reach", "dmc/cheetah-run", "dmc/walker-walk", "gym/Hopper-v5"} <= set(tasks)


def test_wrap_env_rejects_non_image_envs_that_cannot_render():
    import gymnasium as gym

    with pytest.raises(TaskError, match="render_mode='rgb_array'"):
        wrap_env(gym.make("Pendulum-v1"))


class StateEnvThatRenders:
    """A user's env: state observations, actions in [-2, 2], 48x48 rgb_array rendering."""

    def __new__(cls):
        import gymnasium as gym

        class _Env(gym.Env):
            render_mode = "rgb_array"
            observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
            action_space = gym.spaces.Box(-2, 2, (1,), np.float32)

            def reset(self, *, seed=None, options=None):
                super().reset(seed=seed)
                self.last_action = None
                return np.zeros(2, np.float32), {}

            def step(self, action):
                self.last_action = np.asarray(action)
                return np.zeros(2, np.float32), 0.0, False, False, {}

            def render(self):
                return np.full((48, 48, 3), 200, np.uint8)

        return _Env()


def test_wrap_env_renders_a_users_env_resizes_and_rescales_its_actions():
    env = wrap_env(StateEnvThatRenders(), image_size=64)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 64, 64) and obs.dtype == np.uint8 and obs.min() == 200
    assert np.all(env.action_space.high == 1.0)
    env.step(np.array([1.0], np.float32))
    assert env.unwrapped.last_action == pytest.approx([2.0])


def test_wrap_env_takes_discrete_actions_as_one_hot_and_refuses_multi_discrete():
    import gymnasium as gym

    from slac.envs import discrete_actions

    env = wrap_env(gym.make("CartPole-v1", render_mode="rgb_array"))
    assert discrete_actions(env) == 2 and env.action_space.shape == (2,)
    multi = gym.make("CartPole-v1", render_mode="rgb_array")
    multi.action_space = gym.spaces.MultiDiscrete([2, 2])
    with pytest.raises(TaskError, match="Box.*or a Discrete action space, got MultiDiscrete"):
        wrap_env(multi)


def test_a_missing_renderer_gets_an_error_naming_what_to_install():
    import subprocess
    import sys

    if subprocess.run("ldconfig -p | grep -qi libOSMesa", shell=True).returncode == 0:
        pytest.skip("OSMesa is installed here, so it cannot stand in for a missing renderer")
    code = "from slac.envs import make_env; make_env('dmc/cheetah-run', seed=0)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "MUJOCO_GL": "osmesa", "PYOPENGL_PLATFORM": "osmesa"})
    assert result.returncode != 0
    assert "RendererError" in result.stderr and "libosmesa6" in result.stderr
    assert result.stderr.count("Traceback") <= 1


def test_default_rendering_keeps_the_papers_pixels_and_fast_rendering_is_opt_in():
    from slac.envs.rendering import PAPER_SHADOW_SIZE

    default, fast, original = (make_env("dmc/cartpole-swingup", fast_render=f) for f in (False, True, False))
    assert default.unwrapped._physics.model.vis.quality.shadowsize == PAPER_SHADOW_SIZE
    assert fast.unwrapped._physics.model.vis.quality.shadowsize == 0
    assert fast.unwrapped._physics.model.vis.quality.offsamples == 0
    original.unwrapped._physics.model.vis.quality.shadowsize = 2048  # the model's own setting, before any render
    frames = [env.reset(seed=0)[0].astype(np.float64) for env in (default, original)]
    for env in (default, fast, original):
        env.close()
    assert np.abs(frames[0] - frames[1]).mean() < 0.5  # grey levels (of 255): the paper's pixels in effect
