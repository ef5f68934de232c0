"""Small composable wrappers: pixel observations, action repeat, episode-end flags, one-hot actions."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from slac.envs.rendering import renderer_error
from slac.errors import TaskError


def _is_image_space(space: gym.Space) -> bool:
    return (
        isinstance(space, gym.spaces.Box)
        and space.dtype == np.uint8
        and len(space.shape) == 3
        and 3 in (space.shape[0], space.shape[-1])
    )


class PixelObservation(gym.ObservationWrapper):
    """Observations become (3, S, S) uint8 frames.

    Uses the env's own image observations when they are HxWx3 or 3xHxW uint8; otherwise its
    `rgb_array` rendering. Frames of another size are resized (bilinear).
    """

    def __init__(self, env: gym.Env, image_size: int = 64) -> None:
        super().__init__(env)
        self.image_size = image_size
        self._from_render = not _is_image_space(env.observation_space)
        if self._from_render and env.render_mode != "rgb_array":
            raise TaskError(
                f"{env} has observations {env.observation_space} (not HxWx3 uint8 images) and "
                f"render_mode={env.render_mode!r}: create it with render_mode='rgb_array' or give it "
                "image observations."
            )
        self.observation_space = gym.spaces.Box(0, 255, (3, image_size, image_size), np.uint8)
        self._rendered_once = False

    def observation(self, observation) -> np.ndarray:
        if self._from_render:
            if not self._rendered_once:
                try:
                    frame = self.env.render()
                except Exception as error:
                    if hasattr(self.env.unwrapped, "model") or hasattr(self.env.unwrapped, "_physics"):
                        raise renderer_error(error) from error
                    raise TaskError(f"rendering {self.env.unwrapped} failed: {type(error).__name__}: {error}") from error
                self._rendered_once = True
            else:
                frame = self.env.render()
        else:
            frame = observation
        frame = np.asarray(frame)
        if not is_frame(frame):
            raise TaskError(f"expected an HxWx3 uint8 frame from {self.env}, got {frame.dtype} {frame.shape}")
        return to_chw_frame(frame, self.image_size)


class StateObservation(gym.ObservationWrapper):
    """The env's own observation vector, as float32 (for agents on low-dimensional state)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1 or space.shape[0] == 0:
            raise TaskError(f"a state-based agent needs a non-empty 1-D Box observation space, got {space}")
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, space.shape, np.float32)

    def observation(self, observation) -> np.ndarray:
        return np.asarray(observation, dtype=np.float32)


def is_frame(frame: np.ndarray) -> bool:
    """An HxWx3 or 3xHxW uint8 image."""
    return frame.ndim == 3 and 3 in (frame.shape[0], frame.shape[-1]) and frame.dtype == np.uint8


def to_chw_frame(frame: np.ndarray, size: int) -> np.ndarray:
    """What slac's networks take from an env's frame: (3, size, size) uint8, from HxWx3 or 3xHxW of
    any size (resized bilinearly). The one conversion of training (PixelObservation) and acting (predict)."""
    if frame.shape == (3, size, size):
        return frame
    if frame.shape[0] == 3 and frame.shape[-1] != 3:
        frame = frame.transpose(1, 2, 0)
    if frame.shape[:2] != (size, size):
        frame = _resize(np.ascontiguousarray(frame), size)
    return np.ascontiguousarray(frame.transpose(2, 0, 1))


def _resize(frame: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize((size, size), Image.BILINEAR))


class ActionRepeat(gym.Wrapper):
    """Repeat each action `repeat` times, summing rewards; stop early when the episode ends.

    `info["env_steps"]` counts the inner steps taken (the frames, for an env whose steps report
    `info["frames"]`); `info["terminal"]` marks a true terminal
    (no bootstrapping past it) and `info["time_limit"]` an episode cut by a time limit.
    """

    def __init__(self, env: gym.Env, repeat: int) -> None:
        super().__init__(env)
        if repeat < 1:
            raise TaskError(f"action_repeat must be >= 1, got {repeat}")
        self.repeat = repeat

    def step(self, action):
        total, inner, frames = 0.0, 0, 0
        info: dict = {}
        while inner < self.repeat:
            observation, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            inner += 1
            frames += int(info.get("frames", 1))  # an env that skips frames itself (Atari) says how many
            if terminated or truncated:
                break
        info = dict(info, env_steps=frames, terminal=bool(terminated), time_limit=bool(truncated and not terminated))
        return observation, total, terminated, truncated, info


class MujocoContextGuard(gym.Wrapper):
    """Keep several Gymnasium MuJoCo envs rendering correctly in one process.

    Gymnasium makes a renderer's EGL context current only when it is created, so with a training
    and an evaluation env (or an env that was garbage-collected) the other env's frames come out
    black. This makes the env's own context current before each render, and on close frees the
    MuJoCo render context while its GL context is current.
    """

    def render(self):
        viewer = getattr(getattr(self.env.unwrapped, "mujoco_renderer", None), "viewer", None)
        if viewer is not None:
            viewer.make_context_current()
        return self.env.render()

    def close(self) -> None:
        renderer = getattr(self.env.unwrapped, "mujoco_renderer", None)
        for viewer in getattr(renderer, "_viewers", {}).values():
            viewer.make_context_current()
            viewer.con.free()
        super().close()


class OneHotActions(gym.ActionWrapper):
    """A `Discrete(n)` env seen as taking one-hot vectors (what slac's model, replay and histories
    hold): the action space becomes Box(0, 1, (n,)) and the env receives the vector's arg-max.
    `n_actions` marks the env as discrete for slac (`discrete_actions`)."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.n_actions = int(env.action_space.n)
        self.action_space = gym.spaces.Box(0.0, 1.0, (self.n_actions,), np.float32)

    def action(self, action) -> int:
        action = np.asarray(action)
        return int(action) if action.ndim == 0 else int(np.argmax(action))


def discrete_actions(env: gym.Env) -> int | None:
    """The number of discrete actions of an env wrapped by slac (OneHotActions inside), else None."""
    while isinstance(env, gym.Wrapper):
        if isinstance(env, OneHotActions):
            return env.n_actions
        env = env.env
    return None
