"""The rolling history the actor sees, batched: `History` holds one row per env (the last L frames,
their features, the L-1 actions between them, how many belong to the current episode), and
`HistoryPolicy` is its single-env view (N = 1), as the agent acts in training, evaluation and
deployment. Stable-Baselines3's `predict` (slac.policy.predict) passes a `History` back and forth.

The padding rule lives here once: a history that starts an episode is its first frame repeated with
zero actions, as the replay buffer pads a training window. Each new frame is encoded once while the
encoder is unchanged; after a model update the whole history is encoded again (L frames per row).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from slac.agents.base import ActorCriticAgent


@dataclass
class History:
    """N histories of L frames (the recurrent state `predict` returns and takes back)."""

    frames: np.ndarray  # (N, L, *observation_shape), as the env's wrapper gives them
    actions: torch.Tensor  # (N, L-1, A) on the agent's device: a_1..a_L-1 (one-hot for discrete agents)
    real_frames: torch.Tensor  # (N,) int64: frames of the current episode in each row (the rest is padding)
    last_action: np.ndarray  # (N, A): the action returned last, taken before the next frame
    features: torch.Tensor | None = None  # (N, L, F), valid for model version `version` except the `stale` newest
    version: int = -1
    stale: int = 0  # the newest frames of every row not encoded yet (L: all of them)
    restarted: np.ndarray | None = None  # (N,) bool: rows that started an episode since the last encoding

    @classmethod
    def start(cls, agent: ActorCriticAgent, observations: np.ndarray) -> History:
        """N new episodes at `observations` (N, *observation_shape): the padding rule for every row."""
        n, length = len(observations), agent.seq_len
        return cls(frames=np.repeat(observations[:, None], length, axis=1),
                   actions=torch.zeros(n, length - 1, agent.action_dim, device=agent.device),
                   real_frames=torch.ones(n, dtype=torch.long), last_action=np.zeros((n, agent.action_dim), np.float32),
                   stale=length, restarted=np.ones(n, bool))

    @classmethod
    def of(cls, agent: ActorCriticAgent, frames: np.ndarray, actions: np.ndarray,
           real_frames: np.ndarray | None = None) -> History:
        """Known histories: frames (N, L, *observation_shape), actions (N, L-1, A), and how many frames
        of each belong to its episode (default: all)."""
        n, length = frames.shape[:2]
        real = torch.full((n,), length, dtype=torch.long) if real_frames is None else torch.as_tensor(real_frames).long()
        return cls(frames=np.asarray(frames), actions=torch.as_tensor(np.asarray(actions, np.float32), device=agent.device),
                   real_frames=real.reshape(n), last_action=np.zeros((n, agent.action_dim), np.float32), stale=length,
                   restarted=np.zeros(n, bool))

    def pushed(self, actions: np.ndarray, observations: np.ndarray) -> History:
        """The histories after each row took `actions` (N, A) and saw `observations` (N, ...): a new
        object (the arrays of `self` are not changed)."""
        length = self.frames.shape[1]
        taken = torch.as_tensor(np.asarray(actions, np.float32), device=self.actions.device)
        # A row restarted and not encoded since is no longer one frame repeated: encode every frame.
        stale = length if self.restarted.any() else min(self.stale + 1, length)
        return dataclasses.replace(
            self, frames=np.concatenate([self.frames[:, 1:], observations[:, None]], axis=1),
            actions=torch.cat([self.actions, taken[:, None]], dim=1)[:, 1:],  # the newest L-1 (none for L = 1)
            real_frames=(self.real_frames + 1).clamp(max=length),
            features=None if self.features is None else torch.cat([self.features[:, 1:], self.features[:, -1:]], dim=1),
            stale=stale, restarted=np.zeros_like(self.restarted))

    def restart(self, rows: np.ndarray, observations: np.ndarray) -> None:
        """Rows `rows` (N,) bool start an episode at their row of `observations` (the padding rule)."""
        if not rows.any():
            return
        index = torch.as_tensor(np.flatnonzero(rows), device=self.actions.device)
        self.frames[rows] = observations[rows][:, None]
        self.actions[index] = 0
        self.real_frames[torch.as_tensor(rows)] = 1
        self.restarted[rows] = True
        self.stale = max(self.stale, 1)

    def encoded(self, agent: ActorCriticAgent) -> torch.Tensor:
        """(N, L, F) features of every frame under the agent's current encoder, encoding only what is
        missing: the newest frames since the last call, or all of them after a model update. A row
        that restarted is one frame repeated, so its newest feature fills it."""
        n, length = self.frames.shape[:2]
        stale = length if self.features is None or self.version != agent.model_version else self.stale
        if self.restarted.all():
            stale = min(stale, 1)
        if stale:
            newest = self.frames[:, -stale:].reshape(n * stale, *self.frames.shape[2:])
            new = agent.encode_frames(newest).reshape(n, stale, -1)
            if self.features is None or stale == length:
                self.features = new if stale == length else new[:, -1:].repeat(1, length, 1)
            else:
                self.features[:, -stale:] = new
            if self.restarted.any():
                rows = torch.as_tensor(np.flatnonzero(self.restarted), device=self.features.device)
                self.features[rows] = self.features[rows, -1:]
        self.version, self.stale, self.restarted[:] = agent.model_version, 0, False
        return self.features

    def act(self, agent: ActorCriticAgent, deterministic: bool = False) -> np.ndarray:
        """Each row's action (N, A) (sampled, or the most probable), remembered as `last_action`."""
        self.last_action = agent.act(self.encoded(agent), self.actions, self.real_frames, deterministic)
        return self.last_action


def act_on_history(agent: ActorCriticAgent, frames: np.ndarray, actions: np.ndarray, deterministic: bool = False) -> np.ndarray:
    """The action for one explicit history: frames (L, *observation_shape) x_1:tau+1, actions (L-1, A) a_1:tau."""
    expected = (agent.seq_len, *agent.observation_shape)
    if tuple(frames.shape) != expected or tuple(np.shape(actions)) != (agent.seq_len - 1, agent.action_dim):
        raise ValueError(
            f"a history is {agent.seq_len} frames {expected[1:]} and {agent.seq_len - 1} actions of size "
            f"{agent.action_dim}; got frames {tuple(frames.shape)} and actions {tuple(np.shape(actions))}"
        )
    return History.of(agent, frames[None], np.asarray(actions)[None]).act(agent, deterministic)[0]


class HistoryPolicy:
    """The actor on the rolling history of the current episode: one row of a `History`.

    `a = policy.reset(obs)` at an episode's start, then `a = policy.step(obs)` after each env step;
    or `start(obs)` / `observe(action, obs)` / `act()` when the actions taken are not always the policy's.
    """

    def __init__(self, agent: ActorCriticAgent) -> None:
        self.agent = agent
        self.history: History | None = None

    def start(self, observation: np.ndarray) -> None:
        """Start an episode at `observation`: the first frame repeated, zero actions."""
        self.history = History.start(self.agent, np.asarray(observation)[None])

    def reset(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Start an episode at `observation`; returns the policy's first action."""
        self.start(observation)
        return self.act(deterministic)

    def load_history(self, frames: np.ndarray, actions: np.ndarray, real_frames: int | None = None) -> None:
        """Continue from a known history: frames (L, ...), actions (L-1, A) (e.g. after a resume)."""
        real = None if real_frames is None else np.array([real_frames])
        self.history = History.of(self.agent, np.asarray(frames)[None], np.asarray(actions, np.float32)[None], real)

    def forget_features(self) -> None:
        """Encode the whole history again at the next `act` (what a changed encoder needs)."""
        self.history.stale = self.agent.seq_len

    def observe(self, action: np.ndarray, observation: np.ndarray) -> None:
        """Record the action taken and the frame it led to."""
        self.history = self.history.pushed(np.asarray(action, np.float32)[None], np.asarray(observation)[None])

    def step(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """After the last returned action was taken and led to `observation`: the next action."""
        self.observe(self.history.last_action[0], observation)
        return self.act(deterministic)

    def act(self, deterministic: bool = False) -> np.ndarray:
        """The action for the current history (sampled, or the mean's tanh if deterministic)."""
        return self.history.act(self.agent, deterministic)[0]

    @property
    def frames(self) -> np.ndarray:
        """(L, ...) the history's frames, oldest first."""
        return self.history.frames[0]

    @property
    def actions(self) -> np.ndarray:
        """(L-1, A) the actions between them."""
        return self.history.actions[0].cpu().numpy()

    @property
    def real_frames(self) -> int:
        """Frames of the current episode in the history (the rest is padding)."""
        return int(self.history.real_frames[0])
