"""Stable-Baselines3's `predict` for SLAC: `actions, state = predict(agent, obs, state, episode_start)`.

The recurrent state is the history the actor sees: per env the last 8 frames (and their
features), the 7 actions between them, how many of them belong to the current episode, and the
action just returned. `episode_start[i]` (SB3's name: the observation is an episode's first)
restarts row i's history as training pads it: the first frame repeated, zero actions. The N new
frames are encoded in one call; a history is re-encoded only after the model changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from slac.agents.base import ActorCriticAgent
from slac.envs.wrappers import is_frame, to_chw_frame


@dataclass
class History:
    """The recurrent state `predict` returns and takes back, one row per env."""

    frames: np.ndarray  # (N, L, 3, H, W) uint8
    features: torch.Tensor  # (N, L, F), encoded by model version `version`
    actions: torch.Tensor  # (N, L-1, A)
    real_frames: torch.Tensor  # (N,) frames of the current episode in the history
    last_action: np.ndarray  # (N, A): the action returned last, taken before the next observation
    version: int


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
    n, length = len(batch), agent.seq_len
    if state is not None and len(state.frames) != n:
        raise ValueError(f"the state holds {len(state.frames)} histories but {n} observations were given")
    new = agent.encode_frames(batch)  # (N, F): the new frames, in one call
    if state is None:  # every row starts an episode
        state = History(
            frames=np.repeat(batch[:, None], length, axis=1), features=new[:, None].repeat(1, length, 1),
            actions=torch.zeros(n, length - 1, agent.action_dim, device=agent.device),
            real_frames=torch.ones(n, dtype=torch.long), last_action=np.zeros((n, agent.action_dim), np.float32),
            version=agent.model_version)
    else:
        if state.version != agent.model_version:  # the encoder changed: features of the kept frames are stale
            kept = agent.encode_frames(state.frames.reshape(-1, *state.frames.shape[2:]))
            state.features, state.version = kept.reshape(n, length, -1), agent.model_version
        last = torch.as_tensor(state.last_action, dtype=torch.float32, device=agent.device)
        state = History(
            frames=np.concatenate([state.frames[:, 1:], batch[:, None]], axis=1),
            features=torch.cat([state.features[:, 1:], new[:, None]], dim=1),
            actions=torch.cat([state.actions, last[:, None]], dim=1)[:, 1:],  # the newest L-1 (none for L = 1)
            real_frames=(state.real_frames + 1).clamp(max=length), last_action=state.last_action,
            version=state.version)
        starts = np.zeros(n, bool) if episode_start is None else np.asarray(episode_start, bool).reshape(n)
        if starts.any():
            rows = torch.as_tensor(np.flatnonzero(starts), device=agent.device)
            state.frames[starts] = batch[starts][:, None]
            state.features[rows] = new[rows][:, None]
            state.actions[rows] = 0
            state.real_frames[starts] = 1
    state.last_action = agent.act_on_histories(state.features, state.actions, state.real_frames, deterministic)
    # A discrete agent returns action indices (SB3's convention); its history keeps the one-hot vectors.
    actions = state.last_action.argmax(-1) if agent.discrete else state.last_action
    return (actions[0] if single else actions), state
