"""Built-in toy tasks drawn with numpy only (no MuJoCo): cheap enough to learn on a CPU in minutes.

A point mass on the plane [-1, 1]^2 (red disc) moves by 0.15 * action per step (velocity
control, actions in [-1, 1]^2) toward a goal (green disc). Reward: minus the distance to the
goal (shaped). Episodes last 50 steps (a time limit) and start at a random position.
`toy/reach`: the goal is fixed at (0.5, 0.5) (the quickstart task).
`toy/reach-random`: the goal is placed at random each episode (harder: the critic must relate
two positions).
`toy/reach-terminal`: as toy/reach, but reaching the goal (distance < 0.1) is a true terminal.
`toy/reach-discrete`: as toy/reach with 5 discrete moves (`Discrete(5)`: stay, right, left, up,
down, each a full step), the task for discrete-action agents.
With `observation="state"` the observation is the vector [position, goal] (float32) instead.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

MOVES = np.array([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1]], dtype=np.float64)  # toy/reach-discrete's actions
BACKGROUND = np.array([30, 30, 40], dtype=np.uint8)
GOAL_COLOUR = np.array([60, 200, 80], dtype=np.uint8)
AGENT_COLOUR = np.array([230, 70, 50], dtype=np.uint8)


class PointMassReach(gym.Env):
    """Point mass reaching a goal, observed as (3, S, S) uint8 pixels."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(
        self,
        image_size: int = 64,
        max_steps: int = 50,
        terminate_at_goal: bool = False,
        speed: float = 0.15,
        goal_radius: float = 0.1,
        fixed_goal: tuple[float, float] | None = None,
        observation: str = "pixels",
        discrete: bool = False,
    ) -> None:
        self.image_size = image_size
        self.discrete = discrete
        self.max_steps = max_steps
        self.terminate_at_goal = terminate_at_goal
        self.speed = speed
        self.goal_radius = goal_radius
        self.fixed_goal = fixed_goal
        self.state_observations = observation == "state"
        if self.state_observations:
            self.observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
        else:
            self.observation_space = gym.spaces.Box(0, 255, (3, image_size, image_size), np.uint8)
        self.action_space = gym.spaces.Discrete(len(MOVES)) if discrete else gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.render_mode = "rgb_array"
        # Pixel-centre coordinates in world units, for drawing discs.
        centres = (np.arange(image_size) + 0.5) / image_size * 2.0 - 1.0
        self._ys, self._xs = np.meshgrid(-centres, centres, indexing="ij")
        self._pos = np.zeros(2)
        self._goal = np.zeros(2)
        self._steps = 0

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        goal = self.np_random.uniform(-0.8, 0.8, size=2)
        self._goal = goal if self.fixed_goal is None else np.array(self.fixed_goal, dtype=np.float64)
        self._pos = self.np_random.uniform(-0.9, 0.9, size=2)
        self._steps = 0
        return self._observation(), {}

    def step(self, action):
        if self.discrete:
            action = MOVES[int(action)]
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        self._pos = np.clip(self._pos + self.speed * action, -1.0, 1.0)
        self._steps += 1
        distance = float(np.linalg.norm(self._pos - self._goal))
        reward = -distance
        terminated = self.terminate_at_goal and distance < self.goal_radius
        truncated = not terminated and self._steps >= self.max_steps
        return self._observation(), reward, terminated, truncated, {"distance": distance}

    def get_state(self) -> dict:
        """Everything needed to continue the episode exactly (JSON-serialisable)."""
        return {
            "pos": self._pos.tolist(), "goal": self._goal.tolist(), "steps": self._steps,
            "rng": self.np_random.bit_generator.state,
        }

    def set_state(self, state: dict) -> None:
        self._pos, self._goal = np.array(state["pos"]), np.array(state["goal"])
        self._steps = int(state["steps"])
        self.np_random.bit_generator.state = state["rng"]

    def render(self) -> np.ndarray:
        """The current frame as (S, S, 3) uint8, as Gymnasium's rgb_array mode."""
        return self._frame().transpose(1, 2, 0)

    def render_view(self, size: int) -> np.ndarray:
        """The scene at (size, size, 3), for videos beside the agent's 64x64 input."""
        centres = (np.arange(size) + 0.5) / size * 2.0 - 1.0
        ys, xs = np.meshgrid(-centres, centres, indexing="ij")
        return self._draw(xs, ys)

    def _observation(self) -> np.ndarray:
        if self.state_observations:
            return np.concatenate([self._pos, self._goal]).astype(np.float32)
        return self._frame()

    def _frame(self) -> np.ndarray:
        return np.ascontiguousarray(self._draw(self._xs, self._ys).transpose(2, 0, 1))

    def _draw(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        image = np.empty((*xs.shape, 3), dtype=np.uint8)
        image[:] = BACKGROUND
        image[(xs - self._goal[0]) ** 2 + (ys - self._goal[1]) ** 2 <= 0.25**2] = GOAL_COLOUR
        image[(xs - self._pos[0]) ** 2 + (ys - self._pos[1]) ** 2 <= 0.2**2] = AGENT_COLOUR
        return image


TOY_TASKS: dict[str, dict[str, Any]] = {
    "reach": {"fixed_goal": (0.5, 0.5)},
    "reach-random": {},
    "reach-terminal": {"fixed_goal": (0.5, 0.5), "terminate_at_goal": True},
    "reach-discrete": {"fixed_goal": (0.5, 0.5), "discrete": True},
}


def make_toy(name: str, image_size: int, observation: str = "pixels") -> gym.Env:
    return PointMassReach(image_size=image_size, observation=observation, **TOY_TASKS[name])


# Gymnasium ids, so a toy task can be made by name without slac's make_env (for example by the
# torch-free ONNX acting loop): gymnasium.make("slac.envs.toy:slac/reach-v0").
for _name, _kwargs in TOY_TASKS.items():
    if f"slac/{_name}-v0" not in gym.registry:
        gym.register(f"slac/{_name}-v0", entry_point=PointMassReach, kwargs=dict(_kwargs))
