"""Stable-Baselines3's `predict` for SLAC: `actions, state = predict(agent, obs, state, episode_start)`.

The recurrent state is slac.policy.history.History: per env the last 8 frames (and their
features), the 7 actions between them, how many of them belong to the current episode, and the
action just returned. `episode_start[i]` (SB3's name: the observation is an episode's first)
restarts row i's history as training pads it: the first frame repeated, zero actions. The N new
frames are encoded in one call; a history is re-encoded only after the model changed.
"""

from __future__ import annotations

import numpy as np

from slac.agents.base import ActorCriticAgent
from slac.envs.wrappers import is_frame, to_chw_frame
from slac.policy.history import History


def predict(agent: ActorCriticAgent, obs: np.ndarray, state: History | None = None, episode_start: np.ndarray | None = None,
            deterministic: bool = False) -> tuple[np.ndarray, History]:
    """Actions for one observation (3, H, W) or a batch (N, 3, H, W) (sac-state: (S,) or (N, S)),
    and the state to pass back. Frames as the env gives them (HxWx3 or 3xHxW, any size) are
    converted as the training wrapper converts them. Discrete agents return integer actions."""
    obs = np.asarray(obs)
    shape = agent.observation_shape
    single = obs.ndim == len(shape)
    batch = obs[None] if single else obs
    pixels = len(shape) == 3
    if pixels and batch.ndim == 4 and batch.shape[1:] != shape and all(is_frame(f) for f in batch[:1]):
        # the env's own frames (HxWx3 or 3xHxW, any size): the conversion the training wrapper applies
        if batch.shape[1:] == (*shape[1:], 3):  # HWC at the network's size: one transpose for the batch
            batch = np.ascontiguousarray(batch.transpose(0, 3, 1, 2))
        else:  # resizing goes frame by frame (PIL), as in the wrapper
            batch = np.stack([to_chw_frame(frame, shape[-1]) for frame in batch])
    if batch.ndim != len(shape) + 1 or batch.shape[1:] != shape or (pixels and batch.dtype != np.uint8):
        if pixels:
            accepted = (f"uint8 frames (3, H, W) or (H, W, 3) of any size (resized to {shape[-1]}x{shape[-1]}), one or "
                        "a batch (N, ...) of them")
        else:
            accepted = f"states {shape} or a batch (N, {', '.join(map(str, shape))})"
        raise ValueError(f"predict takes {accepted}; got {obs.dtype} {obs.shape}")
    if not pixels:
        batch = batch.astype(np.float32, copy=False)
    n = len(batch)
    if state is None:  # every row starts an episode
        state = History.start(agent, batch)
    else:
        if len(state.frames) != n:
            raise ValueError(f"the state holds {len(state.frames)} histories but {n} observations were given")
        state = state.pushed(state.last_action, batch)
        state.restart(np.zeros(n, bool) if episode_start is None else np.asarray(episode_start, bool).reshape(n), batch)
    last = state.act(agent, deterministic)
    # A discrete agent returns action indices (SB3's convention); its history keeps the one-hot vectors.
    actions = last.argmax(-1) if agent.discrete else last
    return (actions[0] if single else actions), state
