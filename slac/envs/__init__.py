"""Pixel environments behind one `make_env("suite/name")`.

Suites: `dmc/<domain>-<task>` (DeepMind Control, camera 0), `gym/<EnvId>` (Gymnasium MuJoCo,
`render_mode="rgb_array"`), `atari/<Game>` (ale-py, discrete actions: slac.envs.atari), `toy/<name>`
(built in, numpy only). Every env returned has (3, S, S) uint8 observations and actions in [-1, 1]
(a discrete env: one-hot vectors of its n actions); any Gymnasium env with image observations
or `rgb_array` rendering can be wrapped the same way with `wrap_env`. With `observation="state"`
(the `sac-state` baseline) they give the low-dimensional state as a float32 vector instead and
never render: dm_control's observation dict flattened, Gymnasium's own observation vector.

Modules: `dmc.py` (DeepMind Control), `atari.py` (ale-py), `toy.py` (the built-in tasks),
`wrappers.py` (pixels, action repeat, one-hot actions, state vectors), `rendering.py` (headless
MuJoCo: EGL or OSMesa, with a clear error when neither works), `state.py` (an episode's state in a
checkpoint, so a resumed run continues mid-episode).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from slac.config import default_action_repeat
from slac.envs.rendering import import_dm_control_suite, select_backend, set_rendering
from slac.envs.toy import TOY_TASKS, make_toy
from slac.envs.wrappers import (
    ActionRepeat,
    MujocoContextGuard,
    OneHotActions,
    PixelObservation,
    StateObservation,
    discrete_actions,
)
from slac.errors import RendererError, TaskError, did_you_mean

__all__ = ["make_env", "wrap_env", "list_tasks", "describe_env", "default_action_repeat", "discrete_actions", "TaskError",
           "RendererError"]

SUITES = ("dmc", "gym", "atari", "toy")
# A run trained on an env object that has no Gymnasium id records it as `env/<module>:<Class>`: a
# name that says what it was and that no command mistakes for a task it can make.
OBJECT_SUITE = "env"
OBSERVATIONS = ("pixels", "state")


def list_tasks() -> list[str]:
    """Every task name `make_env` accepts, suite by suite."""
    return (
        [f"toy/{name}" for name in TOY_TASKS]
        + [f"dmc/{name}" for name in _dmc_tasks()]
        + [f"gym/{name}" for name in _gym_mujoco_ids()]
        + [f"atari/{name}" for name in _atari_games()]
    )


def _atari_games() -> list[str]:
    from slac.envs.atari import atari_games

    return atari_games()


def make_env(
    task: str,
    *,
    seed: int | None = None,
    image_size: int = 64,
    action_repeat: int | None = None,
    fast_render: bool = False,
    observation: str = "pixels",
    sticky_actions: float = 0.0,
) -> gym.Env:
    """Make a pixel environment: observations (3, image_size, image_size) uint8, actions in [-1, 1]
    (with `observation="state"`: the task's state as a float32 vector, nothing rendered).

    `action_repeat=None` takes the paper's value for the task (1 when it has none). `seed` seeds
    the first reset; later resets continue the env's random stream, or take their own seed.
    `fast_render` turns off shadows and multisampling in MuJoCo (faster; pixels differ a little).
    `sticky_actions`: Atari's repeat_action_probability (0: the Atari 100K protocol).
    """
    if not isinstance(image_size, (int, np.integer)) or not 8 <= image_size <= 1024:
        raise TaskError(f"image_size must be an integer from 8 to 1024, got {image_size!r}")
    if observation not in OBSERVATIONS:
        raise TaskError(f"observation must be one of {OBSERVATIONS}, got {observation!r}")
    suite, name = _split(task)
    if suite == "toy":
        env: gym.Env = make_toy(name, image_size, observation)
    elif suite == "dmc":
        from slac.envs.dmc import DMCEnv

        env = DMCEnv(name, image_size=image_size, fast_render=fast_render, observation=observation)
    elif suite == "atari":
        from slac.envs.atari import make_atari

        if observation == "state":
            raise TaskError(f"{task} has no state vector to observe (sac-state): use its pixels")
        frame_skip = default_action_repeat(task) if action_repeat is None else int(action_repeat)
        env = make_atari(name, image_size, frame_skip=frame_skip, sticky_actions=sticky_actions)
        action_repeat = 1  # the frame skip is the action repeat, with the last two frames max-pooled
    elif observation == "state":
        env = gym.make(name)
    else:
        env = _make_gym(name, image_size, fast_render)
    repeat = default_action_repeat(task) if action_repeat is None else int(action_repeat)
    env = wrap_env(env, image_size=image_size, action_repeat=repeat, observation=observation)
    if seed is not None:
        env.reset(seed=seed)
    return env


def wrap_env(env: gym.Env, *, image_size: int = 64, action_repeat: int = 1, observation: str = "pixels") -> gym.Env:
    """Make a user's Gymnasium env fit slac: actions in [-1, 1] (a Discrete space: one-hot vectors),
    action repeat, then pixels (or,
    with `observation="state"`, the env's own 1-D observation vector as float32).

    The frame is rendered once per agent step, after the repeated inner steps.
    """
    space = env.action_space
    if isinstance(space, gym.spaces.Discrete):
        if space.start != 0:
            raise TaskError(f"slac needs a Discrete action space starting at 0, got {space}")
        env = OneHotActions(env)  # the agent acts with one-hot vectors; the env receives their arg-max
    elif not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
        raise TaskError(f"slac needs a 1-D continuous (Box) or a Discrete action space, got {space}")
    elif not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        raise TaskError(f"the action space {space} must have finite bounds to be rescaled to [-1, 1]")
    elif not (np.all(space.low == -1.0) and np.all(space.high == 1.0)):
        # bounds in the space's own dtype: float64 ones make Gymnasium warn about lowered precision
        env = gym.wrappers.RescaleAction(env, np.full(space.shape, -1, space.dtype), np.full(space.shape, 1, space.dtype))
    if observation == "state":
        return StateObservation(ActionRepeat(env, action_repeat))
    return PixelObservation(ActionRepeat(env, action_repeat), image_size)


def render_view(env: gym.Env, size: int) -> np.ndarray:
    """The env's current scene as (size, size, 3) uint8, from the camera the agent sees through:
    for videos that show the agent's 64x64 input beside a larger picture."""
    target = env.unwrapped
    if hasattr(target, "render_view"):  # slac's dm_control and toy envs
        return target.render_view(size)
    renderer = getattr(target, "mujoco_renderer", None)
    if renderer is not None:  # Gymnasium MuJoCo: a second renderer of the same scene, made once
        from gymnasium.envs.mujoco.mujoco_rendering import MujocoRenderer

        views = target.__dict__.setdefault("_slac_views", {})
        if size not in views:
            views[size] = MujocoRenderer(target.model, target.data, renderer.default_cam_config, width=size,
                                         height=size, camera_id=renderer.camera_id)
        view = views[size]
        if view.viewer is not None:  # another env's context may be current
            view.viewer.make_context_current()
        return view.render("rgb_array")
    raise TaskError(f"{target} cannot render its scene at another size; record the agent's input alone")


def check_task(task: str) -> None:
    """Raise TaskError (with the closest name) unless `task` names a task, without building it."""
    _split(task)


def describe_env(env: gym.Env) -> str:
    """The task name a run records for an env object: `gym/<id>` when the env has a Gymnasium id
    (with its `module:` prefix, if any, so another process can make it), else `env/<module>:<Class>`."""
    spec = getattr(env, "spec", None) or getattr(env.unwrapped, "spec", None)
    if spec is not None and spec.id:
        entry = spec.entry_point
        module = entry.split(":", 1)[0] if isinstance(entry, str) else getattr(entry, "__module__", None)
        # The entry point's module usually registers the id: name it, Gymnasium's import syntax.
        return f"gym/{module}:{spec.id}" if module and module != "__main__" else f"gym/{spec.id}"
    cls = type(env.unwrapped)
    return f"{OBJECT_SUITE}/{cls.__module__}:{cls.__qualname__}"


def _split(task: str) -> tuple[str, str]:
    if not isinstance(task, str) or "/" not in task:
        raise TaskError(f"task names look like 'suite/name' with suite in {SUITES}, got {task!r}; see `slac tasks`")
    suite, name = task.split("/", 1)
    if suite == OBJECT_SUITE:
        raise TaskError(
            f"{task} was a Gymnasium env object passed to slac in Python, which no command can make by name: "
            f"load the run with it, slac.SLAC.load(RUN_DIR, env={name.rsplit(':', 1)[-1]}(...)), then .evaluate() or "
            ".export(); or register the env with Gymnasium and use --task gym/<module>:<EnvId>")
    if suite not in SUITES:
        raise TaskError(f"unknown suite '{suite}' in {task!r}: expected one of {SUITES}; see `slac tasks`")
    if suite == "toy" and name not in TOY_TASKS:
        raise TaskError(f"unknown toy task {task!r}{did_you_mean(task, list_tasks())}: expected one of "
                        f"{['toy/' + n for n in TOY_TASKS]}")
    if suite == "dmc" and name not in _dmc_tasks(all_tasks=True):
        raise TaskError(f"unknown dm_control task {task!r}{did_you_mean(task, list_tasks())}; `slac tasks` lists them")
    if suite == "atari":
        from slac.envs.atari import atari_games

        games = atari_games()
        if games and name not in games:
            hint = did_you_mean(name, games).replace("'", "'atari/", 1)
            raise TaskError(f"unknown Atari game {task!r}{hint}; `slac tasks` lists them")
    if suite == "gym" and ":" in name:  # Gymnasium's import syntax: the module registers the id
        _import_registering_module(task, name)
    if suite == "gym" and name not in _gym_ids() and name.split(":", 1)[-1] not in _gym_ids():
        raise TaskError(f"unknown Gymnasium env {task!r}{did_you_mean(task, list_tasks())}; `slac tasks` lists the "
                        "MuJoCo ones; for an env of your own give Gymnasium's import syntax, --task "
                        "gym/<module>:<EnvId>, or load its run in Python with slac.SLAC.load(RUN_DIR, env=...)")
    return suite, name


def _dmc_tasks(all_tasks: bool = False) -> list[str]:
    suite = import_dm_control_suite()
    tasks = suite.ALL_TASKS if all_tasks else suite.BENCHMARKING
    return [f"{domain}-{task}" for domain, task in tasks]


def _import_registering_module(task: str, name: str) -> None:
    import importlib

    module, env_id = name.split(":", 1)
    try:
        importlib.import_module(module)
    except ImportError as error:
        raise TaskError(f"{task}: cannot import {module!r} to register {env_id!r} ({error})") from None
    if env_id not in gym.registry:
        raise TaskError(f"{task}: importing {module!r} did not register a Gymnasium env {env_id!r}")


def _gym_ids() -> set[str]:
    return set(gym.registry.keys())


def _gym_mujoco_ids() -> list[str]:
    return sorted(
        env_id
        for env_id, spec in gym.registry.items()
        if env_id.endswith("-v5") and "mujoco" in str(spec.entry_point)
    )


def _make_gym(name: str, image_size: int, fast_render: bool) -> gym.Env:
    select_backend()
    try:
        env = gym.make(name, render_mode="rgb_array", width=image_size, height=image_size)
    except TypeError:  # not a MuJoCo env: no width/height arguments
        try:
            env = gym.make(name, render_mode="rgb_array")
        except TypeError:  # no render_mode either: an env with image observations of its own
            env = gym.make(name)
    if hasattr(env.unwrapped, "model"):
        set_rendering(env.unwrapped.model, fast=fast_render)
    return MujocoContextGuard(env)
