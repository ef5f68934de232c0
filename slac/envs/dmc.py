"""DeepMind Control Suite tasks as Gymnasium environments with pixel observations (camera 0)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from slac.envs.rendering import import_dm_control_suite, renderer_error, set_rendering
from slac.envs.state import mujoco_state, set_mujoco_state
from slac.errors import TaskError


class DMCEnv(gym.Env):
    """A dm_control suite task with actions rescaled to [-1, 1], rendered by `render()` (camera 0).

    With `observation="pixels"` steps return no observation of their own: `PixelObservation`
    renders once per agent step, after action repeat, so repeated steps cost no rendering. With
    `observation="state"` they return the task's observation dict flattened into one float32
    vector (in the dict's order), and nothing is rendered.

    A step whose discount is 0 is a true terminal (`terminated`); the suite's 1000-step limit
    is a time limit (`truncated`).
    """

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, name: str, image_size: int = 64, camera_id: int = 0, fast_render: bool = False,
                 observation: str = "pixels"):
        from absl import logging as absl_logging

        suite = import_dm_control_suite()
        absl_logging.set_verbosity(absl_logging.ERROR)  # hide dm_control's deprecation chatter
        domain, _, task = name.partition("-")
        if (domain, task) not in suite.ALL_TASKS:
            raise TaskError(
                f"unknown dm_control task 'dmc/{name}': expected dmc/<domain>-<task>, "
                "one of `slac tasks`"
            )
        self._env = suite.load(domain, task)
        self._physics = self._env.physics
        set_rendering(self._physics.model, fast=fast_render)
        self.image_size = image_size
        self.camera_id = camera_id
        self.render_mode = "rgb_array"
        spec = self._env.action_spec()
        self._low = spec.minimum.astype(np.float64)
        self._high = spec.maximum.astype(np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, spec.shape, np.float32)
        self.state_observations = observation == "state"
        size = sum(int(np.prod(v.shape)) for v in self._env.observation_spec().values()) if self.state_observations else 0
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (size,), np.float32)
        self._rendered_once = False
        self._no_observation = np.zeros(0, np.float32)

    def _observation(self, time_step) -> np.ndarray:
        if not self.state_observations:
            return self._no_observation
        return np.concatenate([np.asarray(v, np.float32).ravel() for v in time_step.observation.values()])

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.task.random.seed(seed)
        return self._observation(self._env.reset()), {}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        scaled = self._low + (action + 1.0) * 0.5 * (self._high - self._low)
        time_step = self._env.step(scaled)
        terminated = time_step.last() and time_step.discount == 0.0
        truncated = time_step.last() and not terminated
        return self._observation(time_step), float(time_step.reward or 0.0), terminated, truncated, {}

    def get_state(self) -> dict:
        """Everything needed to continue the episode exactly (JSON-serialisable): MuJoCo's integration
        state, the suite's step count and the task's random state. Restore it after a `reset` with
        the episode's seed, which redoes what a task sets in the model at the start (reacher's target)."""
        name, keys, position, has_gauss, cached_gaussian = self._env.task.random.get_state()
        return {
            "physics": mujoco_state(self._physics.model.ptr, self._physics.data.ptr),
            "step_count": int(self._env._step_count),
            "task_random": [name, keys.tolist(), int(position), int(has_gauss), float(cached_gaussian)],
        }

    def set_state(self, state: dict) -> None:
        """Continue an episode from `get_state`'s output (after a `reset`)."""
        set_mujoco_state(self._physics.model.ptr, self._physics.data.ptr, state["physics"])
        self._env._step_count = int(state["step_count"])
        name, keys, position, has_gauss, cached_gaussian = state["task_random"]
        self._env.task.random.set_state((name, np.asarray(keys, np.uint32), position, has_gauss, cached_gaussian))

    def render(self) -> np.ndarray:
        if not self._rendered_once:
            try:
                frame = self._physics.render(self.image_size, self.image_size, camera_id=self.camera_id)
            except Exception as error:  # the GL backend's errors vary by platform
                raise renderer_error(error) from error
            self._rendered_once = True
            return frame
        return self._physics.render(self.image_size, self.image_size, camera_id=self.camera_id)

    def render_view(self, size: int) -> np.ndarray:
        """The scene from the same camera at (size, size, 3), for videos beside the agent's input."""
        return self._physics.render(size, size, camera_id=self.camera_id)

    def close(self) -> None:
        self._physics.free()
