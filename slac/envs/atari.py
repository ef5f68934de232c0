"""Atari 2600 games from pixels (`atari/<Game>`, e.g. `atari/Pong`), through ale-py (its ROMs ship
with the package) and Gymnasium's `AtariPreprocessing`, as the Atari 100K benchmark uses them:

| setting | value |
| --- | --- |
| frame skip (slac's action repeat) | 4, the action repeated; the observation is the max over the last two frames |
| observation | RGB, resized to 64x64 (slac's image size) |
| no-op starts | up to 30 no-op actions at reset |
| action set | the game's minimal set (`full_action_space=False`) |
| sticky actions | off (`repeat_action_probability=0`); `atari_sticky_actions=0.25` for Machado et al.'s protocol |
| episode limit | 108,000 frames (27,000 agent steps); a lost life does not end the episode |
| env steps | frames: Atari 100K's 100,000 agent steps are 400,000 env steps |
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from slac.errors import TaskError

EPISODE_FRAMES = 108_000


def _ale():
    try:
        import ale_py
    except ImportError:
        raise TaskError("atari/ tasks need ale-py (its ROMs ship with it): pip install 'slac[atari]'") from None
    gym.register_envs(ale_py)
    return ale_py


def atari_games() -> list[str]:
    """Game names as `atari/<Game>` takes them (Gymnasium's ids: Pong, Breakout, MsPacman, ...), or []
    without ale-py."""
    try:
        ale_py = _ale()
    except TaskError:
        return []
    return sorted("".join(part.capitalize() for part in rom.split("_")) for rom in ale_py.roms.get_all_rom_ids())


class FrameCount(gym.Wrapper):
    """Report the frames a step took (`info["frames"]`), so env steps count frames."""

    def __init__(self, env: gym.Env, frames: int) -> None:
        super().__init__(env)
        self.frames = frames

    def step(self, action):
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated, truncated, dict(info, frames=self.frames)


def make_atari(game: str, image_size: int = 64, frame_skip: int = 4, sticky_actions: float = 0.0) -> gym.Env:
    """The game as (image_size, image_size, 3) uint8 frames and a Discrete action space."""
    _ale()
    if not 0 <= sticky_actions < 1:
        raise TaskError(f"atari_sticky_actions must be in [0, 1), got {sticky_actions}")
    try:
        env = gym.make(f"ALE/{game}-v5", frameskip=1, repeat_action_probability=sticky_actions,
                       full_action_space=False, max_num_frames_per_episode=EPISODE_FRAMES)
    except gym.error.Error as error:
        raise TaskError(f"unknown Atari game {game!r} ({error}); `slac tasks` lists them") from None
    env = gym.wrappers.AtariPreprocessing(env, noop_max=30, frame_skip=frame_skip, screen_size=image_size,
                                         terminal_on_life_loss=False, grayscale_obs=False, scale_obs=False)
    env.observation_space = gym.spaces.Box(0, 255, (image_size, image_size, 3), np.uint8)
    return FrameCount(env, frame_skip)
