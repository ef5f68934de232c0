"""An env's state mid-episode, as plain data for a checkpoint, and back: what lets a resumed run
continue its episode exactly instead of starting a new one.

Three kinds of env can give it: one with `get_state`/`set_state` of its own (the toy tasks,
dm_control), a Gymnasium MuJoCo env (MuJoCo's integration state and the env's random state) and an
Atari game (the emulator's state with its random state, ale-py's `cloneState`), each also behind
Gymnasium's `TimeLimit` (its step count). Other envs (a user's own without those methods) give None,
and a resumed run starts a new episode.
"""

from __future__ import annotations

import base64
from typing import Any

import gymnasium as gym
import numpy as np


def mujoco_state(model: Any, data: Any) -> list[float]:
    """MuJoCo's integration state (time, qpos, qvel, act, ctrl, applied forces, mocap, the
    solver's warm start): everything `mj_step` reads, so a restored simulation steps bit for bit."""
    import mujoco

    kind = mujoco.mjtState.mjSTATE_INTEGRATION
    values = np.empty(mujoco.mj_stateSize(model, kind), np.float64)
    mujoco.mj_getState(model, data, values, kind)
    return values.tolist()


def set_mujoco_state(model: Any, data: Any, values: list[float]) -> None:
    """Put back `mujoco_state`'s output, and bring the derived quantities (positions, contacts)
    up to date as after a step."""
    import mujoco

    kind = mujoco.mjtState.mjSTATE_INTEGRATION
    array = np.asarray(values, np.float64)
    expected = mujoco.mj_stateSize(model, kind)
    if array.shape != (expected,):
        raise ValueError(f"the saved MuJoCo state has {array.size} numbers; this model's has {expected}")
    mujoco.mj_setState(model, data, array, kind)
    mujoco.mj_forward(model, data)


def _is_gym_mujoco(env: gym.Env) -> bool:
    from gymnasium.envs.mujoco.mujoco_env import MujocoEnv

    return isinstance(env, MujocoEnv)


def _is_atari(env: gym.Env) -> bool:
    return hasattr(env, "ale") and hasattr(env.ale, "cloneState")


def _time_limit(env: gym.Env) -> gym.wrappers.TimeLimit | None:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, gym.wrappers.TimeLimit):
            return env
        env = env.env
    return None


def episode_state(env: gym.Env) -> dict | None:
    """What continues `env`'s current episode exactly (JSON-serialisable), or None if it cannot be had."""
    unwrapped = env.unwrapped
    if hasattr(unwrapped, "get_state"):
        state: dict = {"kind": "own", "state": unwrapped.get_state()}
    elif _is_gym_mujoco(unwrapped):
        state = {"kind": "gym_mujoco", "mujoco": mujoco_state(unwrapped.model, unwrapped.data),
                 "np_random": unwrapped.np_random.bit_generator.state}
    elif _is_atari(unwrapped):
        emulator = unwrapped.ale.cloneState(include_rng=True).serialize()
        state = {"kind": "ale", "ale": base64.b64encode(emulator).decode("ascii"),
                 "np_random": unwrapped.np_random.bit_generator.state}
    else:
        return None
    limit = _time_limit(env)
    if limit is not None:
        state["time_limit_steps"] = int(limit._elapsed_steps)
    return state


def restore_episode(env: gym.Env, state: dict) -> None:
    """Continue the episode `episode_state` saved; `env` must have been reset with that episode's seed
    first (which redoes what the task sets in its model at the start, such as reacher's target)."""
    unwrapped = env.unwrapped
    kind = state.get("kind")
    if kind is None:  # a checkpoint from before 2026-12-05: the env's own state, as it stands
        unwrapped.set_state(state)
        return
    if kind == "own":
        unwrapped.set_state(state["state"])
    elif kind == "gym_mujoco":
        set_mujoco_state(unwrapped.model, unwrapped.data, state["mujoco"])
        unwrapped.np_random.bit_generator.state = state["np_random"]
    elif kind == "ale":
        import ale_py

        unwrapped.ale.restoreState(ale_py.ALEState(base64.b64decode(state["ale"])))
        unwrapped.np_random.bit_generator.state = state["np_random"]
    else:
        raise ValueError(f"unknown kind of saved env state {kind!r}")
    limit = _time_limit(env)
    if limit is not None and "time_limit_steps" in state:
        limit._elapsed_steps = int(state["time_limit_steps"])


def can_restore(env: gym.Env) -> bool:
    """Whether `restore_episode` can put a saved episode back into `env`."""
    unwrapped = env.unwrapped
    return hasattr(unwrapped, "set_state") or _is_gym_mujoco(unwrapped) or _is_atari(unwrapped)
