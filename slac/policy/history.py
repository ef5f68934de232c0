"""`HistoryPolicy`: an agent's actor on the rolling history of the current episode, as it acts in
training, evaluation and deployment."""

from __future__ import annotations

from collections import deque

import numpy as np
import torch

from slac.agents.base import ActorCriticAgent


class HistoryPolicy:
    """The actor run on the rolling history of the current episode.

    At an episode's start the missing history is the first frame repeated with zero actions,
    exactly as the replay buffer pads training windows. Each frame is encoded once while the
    encoder is unchanged; after a model update the history is re-encoded (8 frames).
    """

    def __init__(self, agent: ActorCriticAgent) -> None:
        self.agent = agent
        self.length = agent.seq_len
        self.frames: deque[np.ndarray] = deque(maxlen=self.length)
        self.actions: deque[np.ndarray] = deque(maxlen=self.length - 1)
        self._features: deque[torch.Tensor | None] = deque(maxlen=self.length)
        self._version = -1
        self._last_action: np.ndarray | None = None
        self.real_frames = 0  # frames of the current episode in the history (the rest is padding)

    def start(self, observation: np.ndarray) -> None:
        """Start an episode at `observation`: the first frame repeated, zero actions."""
        self.frames.extend([observation] * self.length)
        self.actions.extend([np.zeros(self.agent.action_dim, np.float32)] * (self.length - 1))
        self._features.extend([None] * self.length)
        self.real_frames = 1

    def reset(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Start an episode at `observation`; returns the policy's first action."""
        self.start(observation)
        return self.act(deterministic)

    def load_history(self, frames: np.ndarray, actions: np.ndarray, real_frames: int | None = None) -> None:
        """Continue from a known history: frames (8, 3, H, W), actions (7, A) (e.g. after a resume)."""
        self.frames.extend(list(frames))
        self.actions.extend(list(np.asarray(actions, np.float32)))
        self._features.extend([None] * self.length)
        self.real_frames = self.length if real_frames is None else real_frames

    def forget_features(self) -> None:
        """Encode the whole history again at the next `act` (what a changed encoder needs)."""
        self._features.extend([None] * self.length)

    def observe(self, action: np.ndarray, observation: np.ndarray) -> None:
        """Record the action taken and the frame it led to."""
        self.actions.append(np.asarray(action, np.float32))
        self.frames.append(observation)
        self._features.append(None)
        self.real_frames = min(self.real_frames + 1, self.length)

    def step(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """After the last returned action was taken and led to `observation`: the next action."""
        self.observe(self._last_action, observation)
        return self.act(deterministic)

    def act(self, deterministic: bool = False) -> np.ndarray:
        """The action for the current history (sampled, or the mean's tanh if deterministic)."""
        if self._version != self.agent.model_version:
            self._features.extend([None] * self.length)
            self._version = self.agent.model_version
        missing = [i for i, f in enumerate(self._features) if f is None]
        if missing:
            frames = [self.frames[i] for i in missing]
            unique = len(missing) == self.length and all(f is frames[0] for f in frames)
            encoded = self.agent.encode_frames(np.stack(frames[:1] if unique else frames))
            for j, i in enumerate(missing):
                self._features[i] = encoded[0 if unique else j]
        features = torch.stack(list(self._features))
        actions = torch.as_tensor(np.array(self.actions, np.float32).reshape(self.length - 1, self.agent.action_dim),
                                  device=self.agent.device)
        self._last_action = self.agent.act_on_features(features, actions, deterministic, self.real_frames)
        return self._last_action
