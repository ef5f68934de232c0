"""Act with a policy exported by `slac export RUN --format onnx`, needing only onnxruntime and numpy
(no PyTorch, no slac): the history the actor expects, kept the way slac keeps it, and an episode
loop for any Gymnasium env whose frames match the policy's (e.g. the one it was trained on).

    python examples/act_onnx.py policy.onnx --env <gymnasium id> [--episodes 3] [--deterministic]

SLAC's actor acts on the last 8 frames and the 7 actions between them; at an episode's start the
missing history is the first frame repeated with zero actions. sac-pixels acts on the last 4
frames, sac-state on the state vector. Continuous actions come out in [-1, 1] and are rescaled to
the env's bounds (the graph's metadata `action_low`, `action_high`), as slac's env wrapper does; a
discrete policy (metadata `discrete`) gives the probabilities of its n actions, and the env gets an
integer while the history keeps the one-hot vector.
"""

from __future__ import annotations

import argparse
import json
from collections import deque

import numpy as np
import onnxruntime


class OnnxPolicy:
    """An exported policy on the rolling history of the current episode: `reset(obs)`, then `step(obs)`."""

    def __init__(self, path: str, seed: int = 0) -> None:
        self.session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        meta = self.session.get_modelmeta().custom_metadata_map
        self.meta = {key: json.loads(value) for key, value in meta.items()}
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.frames_kept = self.meta["history_frames"]
        self.actions_kept = self.meta["history_actions"]
        self.action_dim = self.meta["action_dim"]
        self.discrete = self.meta.get("discrete", False)
        if not self.discrete:
            self.low = np.asarray(self.meta["action_low"], np.float32)
            self.high = np.asarray(self.meta["action_high"], np.float32)
        self.rng = np.random.default_rng(seed)
        self.frames: deque = deque(maxlen=self.frames_kept)
        self.actions: deque = deque(maxlen=max(self.actions_kept, 1))

    def reset(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """The first action of an episode: the first frame repeated, zero actions."""
        self.frames.extend([self._observation(observation)] * self.frames_kept)
        self.actions.extend([np.zeros(self.action_dim, np.float32)] * self.actions_kept)
        return self._act(deterministic)

    def step(self, observation: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """The next action, after the last one led to `observation`."""
        self.frames.append(self._observation(observation))
        return self._act(deterministic)

    def _observation(self, observation: np.ndarray) -> np.ndarray:
        if self.meta["observation"] == "state":
            return np.asarray(observation, np.float32).reshape(-1)
        frame = np.asarray(observation, np.uint8)
        return frame if frame.shape[0] == 3 else frame.transpose(2, 0, 1)  # HWC -> CHW

    def _act(self, deterministic: bool):
        feed = {}
        if "noise" in self.inputs:
            feed["noise"] = self.rng.standard_normal((1, self.action_dim)).astype(np.float32)
        if "state" in self.inputs:
            feed["state"] = self.frames[-1][None]
        else:
            feed["frames"] = np.stack(self.frames)[None]
        if "actions" in self.inputs:
            feed["actions"] = np.stack(self.actions)[None]
        if self.discrete:
            probs = self.session.run(["probs"], feed)[0][0].astype(np.float64)
            index = int(np.argmax(probs)) if deterministic else int(self.rng.choice(len(probs), p=probs / probs.sum()))
            action = np.eye(self.action_dim, dtype=np.float32)[index]
        else:
            output = "action_deterministic" if deterministic else "action_stochastic"
            action = self.session.run([output], feed)[0][0]
        if self.actions_kept:
            self.actions.append(action)
        if self.discrete:
            return index
        return self.low + (action + 1.0) * (self.high - self.low) / 2.0  # [-1, 1] -> the env's bounds


def run_episode(policy: OnnxPolicy, env, seed: int | None = None, deterministic: bool = False) -> float:
    """One episode of `env` (a Gymnasium env whose observations are the policy's), its return."""
    observation, _ = env.reset(seed=seed)
    action = policy.reset(observation, deterministic)
    total, done = 0.0, False
    while not done:
        observation, reward, terminated, truncated, _ = env.step(action)
        total += float(reward)
        done = terminated or truncated
        if not done:
            action = policy.step(observation, deterministic)
    return total


def main() -> None:
    import gymnasium

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("policy")
    parser.add_argument("--env", required=True, help="a Gymnasium id whose observations are the policy's frames")
    parser.add_argument("--episodes", type=int, default=1)
    parser.add_argument("--deterministic", action="store_true")
    args = parser.parse_args()
    policy = OnnxPolicy(args.policy)
    env = gymnasium.make(args.env)
    for episode in range(args.episodes):
        print(f"episode {episode}: return {run_episode(policy, env, seed=episode, deterministic=args.deterministic):.1f}")


if __name__ == "__main__":
    main()
