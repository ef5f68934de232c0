"""Every hyperparameter in one `Config` dataclass (defaults = the paper's), presets as data, validation.

Precedence when building a run's config: defaults < task preset < named preset < config file
< command-line `key=value` overrides.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from slac.errors import ConfigError, did_you_mean

# The paper's text for its DeepMind Control experiments: "The model is pretrained for 50000 iterations".
# Gym tasks keep the authors' config value, the Config default of 100,000.
DMC_PRETRAIN = 50_000

# Per-task settings from the authors' configs and published curves (DESIGN.md section 5).
# `decoder_var` is the value behind the authors' published curve for the task.
TASK_PRESETS: dict[str, dict[str, Any]] = {
    "dmc/cheetah-run": {"action_repeat": 4, "decoder_var": 0.1, "pretrain_steps": DMC_PRETRAIN},
    "dmc/walker-walk": {"action_repeat": 2, "decoder_var": 0.4, "pretrain_steps": DMC_PRETRAIN},
    "dmc/ball_in_cup-catch": {"action_repeat": 4, "decoder_var": 0.04, "pretrain_steps": DMC_PRETRAIN},
    "dmc/finger-spin": {"action_repeat": 1, "decoder_var": 0.1, "pretrain_steps": DMC_PRETRAIN},
    "dmc/cartpole-swingup": {"action_repeat": 4, "decoder_var": 0.1, "pretrain_steps": DMC_PRETRAIN},
    "dmc/reacher-easy": {"action_repeat": 4, "decoder_var": 0.01, "pretrain_steps": DMC_PRETRAIN},
    "gym/HalfCheetah-v5": {"action_repeat": 1},
    "gym/Hopper-v5": {"action_repeat": 2},
    "gym/Walker2d-v5": {"action_repeat": 4},
    "gym/Ant-v5": {"action_repeat": 4},
}

# Settings of a whole suite (applied like a task preset to each of its tasks). Atari: the Atari 100K
# protocol's frame skip; 1,600 agent steps of random play (6,400 frames) as DER, SPR and DrQ(eps)
# start with; 10,000 model pretraining updates (this project's choice: SLAC's paper has no Atari
# runs; a fifth of DMC's 50,000 for a budget of 100,000 agent steps); evaluations every 40,000 frames.
SUITE_PRESETS: dict[str, dict[str, Any]] = {
    "atari": {"action_repeat": 4, "init_steps": 6_400, "pretrain_steps": 10_000, "eval_interval": 40_000,
              "steps": 400_000},
}


def task_preset(task: str) -> dict[str, Any]:
    """The preset of a task: its suite's settings, then its own."""
    suite = task.split("/", 1)[0] if isinstance(task, str) else ""
    return {**SUITE_PRESETS.get(suite, {}), **TASK_PRESETS.get(task, {})}


# The agents `slac train --agent` runs (slac.agents): SLAC and the paper's SAC baselines.
AGENTS = ("slac", "sac-state", "sac-pixels")
# Figure 5a's latent models (slac.models.MODELS builds each; a test keeps the two lists equal).
MODELS = ("slac", "partially-stochastic", "deterministic", "filtering", "vae", "factored-vae", "planet")

# Named presets: network sizes and schedules that are not the paper's, for CPUs and tests.

# Presets whose schedule fits the run's length (`fit_schedule`): a short run on them still learns.
FITTED_PRESETS = ("small", "quickstart")
FITTED_RULE = ("small, quickstart: random collection is at most a fifth of --steps, and model pretraining at most as many\n"
               "updates as the agent steps that follow it (so a short run still makes updates and pretraining never\n"
               "outweighs them); init_steps and pretrain_steps given explicitly are kept as given.")


def fit_schedule(values: dict[str, Any], given: set[str], steps: int, action_repeat: int) -> dict[str, Any]:
    """A fitted preset's schedule for a run of `steps` env steps (FITTED_RULE): `init_steps` at most
    steps / 5 and `pretrain_steps` at most the agent steps after it, unless the user gave them."""
    values = dict(values)
    if "init_steps" not in given:
        values["init_steps"] = min(values["init_steps"], steps // 5)
    if "pretrain_steps" not in given:
        values["pretrain_steps"] = min(values["pretrain_steps"], max(steps - values["init_steps"], 0) // action_repeat)
    return values


def default_action_repeat(task: str) -> int:
    """The paper's action repeat for a preset task, Atari's frame skip of 4, 1 otherwise."""
    if task.startswith("atari/"):
        return int(SUITE_PRESETS["atari"]["action_repeat"])
    return int(TASK_PRESETS.get(task, {}).get("action_repeat", 1))

# Small networks that learn toy/reach on 2 CPU cores in minutes (the quickstart).
_SMALL: dict[str, Any] = {
    "encoder_depth": 8,
    "feature_dim": 64,
    "z1_dim": 16,
    "z2_dim": 64,
    "hidden_dim": 64,
    "ac_hidden_dim": 64,
    "model_batch": 16,
    "ac_batch": 64,
}

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "small": {**_SMALL, "init_steps": 1_000, "pretrain_steps": 2_000},
    # `small` on toy/reach with a short schedule: learns in minutes on 2 CPU cores. The paper's
    # decoder variance and alpha; a faster model learning rate and 2,000 pretraining updates
    # carry the encoder past the plateau before it sees the agent's disc.
    "quickstart": {
        **_SMALL,
        "task": "toy/reach",
        "ac_batch": 32,
        "model_lr": 1e-3,
        "init": "torch",  # the initialisation this preset was tuned with (the learning test's margin)
        "steps": 5_000,
        "init_steps": 1_000,
        "pretrain_steps": 2_000,
        "replay_capacity": 20_000,
        "eval_interval": 1_000,
        "eval_episodes": 10,
        "log_interval": 250,
        "checkpoint_interval": 1_000,
    },
}


@dataclass
class Config:
    """Hyperparameters and run settings. Field comments say what each does; defaults are the paper's."""

    # --- run ---
    task: str = "dmc/cheetah-run"  # suite/name, see `slac tasks`
    seed: int = 0  # seeds the networks, the episodes' starts and the replay's sampling (docs/runs.md)
    steps: int = 500_000  # total env steps (after action repeat, including random collection)
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    run_dir: str = ""  # where the run writes (empty: runs/<task>-<model>-s<seed>-<time>); one run per directory
    threads: int = 0  # torch CPU threads; 0 leaves torch's default
    # slac (the paper) | sac-state: SAC on the env's low-dimensional state (the upper bound of the
    # paper's Figures 3-4) | sac-pixels: SAC on the last `frame_stack` frames through SLAC's encoder,
    # trained by the critic (with augment=crop: the DrQ-style variant). No model, no pretraining.
    agent: str = "slac"
    frame_stack: int = 4  # sac-pixels: frames the actor and critics see (the authors' sequence length 4)
    # --- environment ---
    image_size: int = 64  # the paper's networks need 64
    action_repeat: int = 0  # 0: the task preset's value (1 when it has none)
    fast_render: bool = False  # no shadows / multisampling: faster, pixels differ from the paper's
    # --- latent model (eq. 7) ---
    # latent model: slac (paper) | partially-stochastic | deterministic | filtering | vae | factored-vae | planet
    model: str = "slac"
    encoder_depth: int = 32  # channels of the first conv layer (then x2, x4, x8, x8)
    feature_dim: int = 256  # encoder output
    z1_dim: int = 32
    z2_dim: int = 256
    hidden_dim: int = 256  # hidden units of every Gaussian head and the reward model
    decoder_var: float = 0.1  # fixed variance of p(x_t | z_t)
    # Floor on the reward model's learned std (a deviation, 0: the paper's, softplus + 1e-5 only). On
    # ball_in_cup the learned std falls to ~0.004 on zero-reward transitions, so the first catches are
    # z-scores near 1,000 that shake the whole model (docs/results.md).
    reward_std_min: float = 0.0
    init: str = "authors"  # authors (paper): Glorot-uniform weights, zero biases | torch: PyTorch's layer defaults
    # --- actor-critic (eq. 8-10) ---
    ac_hidden_dim: int = 256  # hidden units of actor and critics
    gamma: float = 0.99
    tau: float = 0.005  # target critic EMA rate, every update
    init_alpha: float = 1.0
    target_entropy: float | None = None  # None: -|A| (continuous), discrete_target_entropy_scale * log n (discrete)
    # Discrete actions (chosen by the env's action space): the temperature's target as a fraction of
    # the largest entropy log n. Christodoulou (2019) used 0.98; CleanRL's sac_atari uses 0.89, after
    # 0.98 kept the policy near uniform (docs/discrete.md).
    discrete_target_entropy_scale: float = 0.89
    atari_sticky_actions: float = 0.0  # atari/ tasks: repeat_action_probability (0 in Atari 100K; 0.25 in Machado et al.)
    log_std_min: float = -20.0
    log_std_max: float = 2.0
    actor_input: str = "history"  # history (paper): 8 encoder features + 7 actions | latent: a posterior sample
    critic_input: str = "latent"  # latent (paper): [z1, z2] samples | history: as the actor's history
    augment: str = "none"  # none (paper) | crop: random shifts of +-4 pixels per window (appendix D)
    # --- optimisation ---
    model_lr: float = 1e-4
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    model_batch: int = 32  # windows for the model loss: the first `model_batch` of the batch
    ac_batch: int = 256  # windows per update; actor, critic and alpha use all of them
    seq_len: int = 8  # transitions per window (9 frames)
    updates_per_step: int = 1  # gradient updates per agent step (paper: 1; ablation: 2, 4)
    # --- compute (how, not what: only `precision` and `tf32` change the numbers; README: Performance) ---
    # precision: fp32 (paper) | bf16: encoder and decoder convolutions in bfloat16 autocast; faster with
    # AVX512-BF16, AMX or a GPU, emulated and ~10x slower on other CPUs (docs/performance.md)
    precision: str = "fp32"
    tf32: bool = False  # CUDA only: TF32 matmuls and convolutions (faster, ~10-bit mantissa)
    channels_last: bool = True  # NHWC convolutions: same numbers up to rounding, ~10% faster on CPU (more in bf16)
    compile: bool = False  # torch.compile the encoder and decoder (slower on CPU; measured)
    encode_chunk: int = 0  # images per no-grad encoder call; 0: 512 on CPU, all at once on GPU
    keep_freed_memory: bool = True  # CPU: glibc reuses freed blocks instead of page-faulting fresh ones (slac.common.host)
    # --- data collection ---
    replay_capacity: int = 100_000  # transitions (frames are stored once, uint8)
    # Env steps (after action repeat, like `steps`) of uniform random actions before learning. The
    # authors' published curves fit 10,000 env steps (2,500 agent steps at repeat 4); their released
    # code says 10,000 agent steps: init_steps=40000 at repeat 4 gives that (README: Protocol).
    init_steps: int = 10_000  # env steps of uniform random actions before learning
    pretrain_steps: int = 100_000  # model-only updates after random collection (DMC presets: 50,000)
    # --- evaluation, logging, checkpoints ---
    eval_interval: int = 10_000  # env steps between evaluations
    eval_episodes: int = 10
    log_interval: int = 1_000  # updates between training-metric rows
    log_rollouts: bool = True  # at each evaluation, the model's rollout grid (`slac visualize`) in TensorBoard
    eval_video: bool = False  # at each evaluation, videos/eval_<env step>.mp4 of the first evaluation episode
    checkpoint_interval: int = 10_000  # env steps between checkpoints (taken at episode ends)
    # Model updates between checkpoints while pretraining: hours of pretraining on a CPU survive a
    # killed job, and `--resume` continues from the last one.
    pretrain_checkpoint_interval: int = 5_000
    keep_checkpoints: int = 2  # newest checkpoints kept on disk
    # A checkpoint at every evaluation in checkpoints/evaluations/ (never pruned; ~60 MB each at
    # the paper's sizes), to study a run's learning offline from its networks before and after.
    keep_eval_checkpoints: bool = False
    # Weights & Biases (optional, `pip install 'slac[wandb]'`): metrics, evaluations and this config
    # to the project; the W&B run id is the run directory's name, so a resumed run continues it.
    wandb_project: str = ""  # also log to this Weights & Biases project (pip install 'slac[wandb]')
    wandb_entity: str = ""  # the W&B team or user (default: yours)

    # ---------------------------------------------------------------- building
    @classmethod
    def build(
        cls,
        task: str | None = None,
        preset: str | None = None,
        file: str | Path | None = None,
        overrides: dict[str, Any] | list[str] | None = None,
    ) -> Config:
        """Defaults < task preset < named preset < config file < overrides; then validate."""
        values: dict[str, Any] = {}
        if preset is not None:
            if preset not in PRESETS:
                raise ConfigError(f"unknown preset {preset!r}{did_you_mean(preset, PRESETS)}: expected one of {list(PRESETS)}")
            values.update(PRESETS[preset])
        given: set[str] = set()  # keys the user set (a file, overrides), not a preset
        if file is not None:
            from_file = load_config_file(file)
            values.update(from_file)
            given.update(from_file)
        if isinstance(overrides, list):
            overrides = parse_overrides(overrides)
        values.update(overrides or {})
        given.update(overrides or {})
        if task is not None:
            values["task"] = task
        task_name = values.get("task", cls.task)
        merged = {**task_preset(task_name), **values}
        if preset in FITTED_PRESETS:
            task_repeat = merged.get("action_repeat") or default_action_repeat(task_name)
            merged = fit_schedule(merged, given, int(merged.get("steps", cls.steps)), int(task_repeat))
        if merged.get("agent", cls.agent) != "slac" and "pretrain_steps" not in (overrides or {}):
            merged["pretrain_steps"] = 0  # the SAC baselines have no model to pretrain (presets' values do not apply)
        return cls.from_dict(merged)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Config:
        known = {f.name: f for f in fields(cls)}
        for key in values:
            if key not in known:
                raise ConfigError(f"unknown config key {key!r}{did_you_mean(key, known)}")
        config = cls(**{key: _coerce(known[key], value) for key, value in values.items()})
        config.validate()
        return config

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> Config:
        return Config.from_dict({**self.to_dict(), **changes})

    def resolved_action_repeat(self) -> int:
        return self.action_repeat or default_action_repeat(self.task)

    # ---------------------------------------------------------------- checking
    def validate(self) -> None:
        """Raise ConfigError on values that cannot work, before any work starts."""
        positive = [
            "steps", "image_size", "encoder_depth", "feature_dim", "z1_dim", "z2_dim", "hidden_dim",
            "ac_hidden_dim", "model_batch", "ac_batch", "seq_len", "updates_per_step", "replay_capacity",
            "eval_interval", "log_interval", "checkpoint_interval", "pretrain_checkpoint_interval", "keep_checkpoints",
            "frame_stack",
        ]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ["init_steps", "pretrain_steps", "eval_episodes", "action_repeat", "threads", "seed", "encode_chunk",
                     "reward_std_min"]:
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not 0 < self.discrete_target_entropy_scale <= 1:
            raise ConfigError(f"discrete_target_entropy_scale must be in (0, 1], got {self.discrete_target_entropy_scale}")
        for name in ["decoder_var", "tau", "init_alpha", "model_lr", "actor_lr", "critic_lr", "alpha_lr"]:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        if not 0 <= self.gamma <= 1:
            raise ConfigError(f"gamma must be in [0, 1], got {self.gamma}")
        if self.tau > 1:
            raise ConfigError(f"tau must be in (0, 1], got {self.tau}")
        if self.model_batch > self.ac_batch:
            raise ConfigError(
                f"model_batch ({self.model_batch}) must be <= ac_batch ({self.ac_batch}): the model loss "
                "uses the first model_batch windows of each batch"
            )
        if self.image_size != 64:
            raise ConfigError(
                f"image_size {self.image_size} is not supported: the paper's encoder and decoder "
                "take 64x64 images; set image_size=64"
            )
        if self.log_std_min >= self.log_std_max:
            raise ConfigError(f"log_std_min ({self.log_std_min}) must be below log_std_max ({self.log_std_max})")
        for name, value in (("actor_input", self.actor_input), ("critic_input", self.critic_input)):
            if value not in ("history", "latent"):
                raise ConfigError(f"{name} must be 'history' or 'latent', got {value!r}")
        if self.precision not in ("fp32", "bf16"):
            raise ConfigError(f"precision must be 'fp32' or 'bf16', got {self.precision!r}")
        if self.init not in ("authors", "torch"):
            raise ConfigError(f"init must be 'authors' or 'torch', got {self.init!r}")
        if self.augment not in ("none", "crop"):
            raise ConfigError(f"augment must be 'none' or 'crop', got {self.augment!r}")
        if self.agent not in AGENTS:
            raise ConfigError(f"unknown agent {self.agent!r}{did_you_mean(self.agent, AGENTS)}: expected one of {list(AGENTS)}")
        if self.agent != "slac" and self.pretrain_steps:
            raise ConfigError(f"agent {self.agent} has no model to pretrain: set pretrain_steps=0")
        if self.agent == "sac-state" and self.eval_video:
            raise ConfigError("agent sac-state sees no frames, so there is no input to record: set eval_video=false")
        if self.model not in MODELS:
            raise ConfigError(f"unknown model {self.model!r}{did_you_mean(self.model, MODELS)}: expected one of {list(MODELS)}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ConfigError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")
        if self.replay_capacity < self.seq_len + 2:
            raise ConfigError(f"replay_capacity must be at least seq_len + 2 = {self.seq_len + 2}")


def field_docs() -> dict[str, str]:
    """Each Config field's documentation: its line's trailing comment, else the comment lines just above
    it (what `slac train --help` shows for a field's flag)."""
    import inspect

    docs: dict[str, str] = {}
    above: list[str] = []
    for line in inspect.getsource(Config).splitlines():
        text = line.strip()
        if text.startswith("# ---"):  # a section's heading, not a field's documentation
            above = []
            continue
        if text.startswith("#"):
            above.append(text.lstrip("# ").strip())
            continue
        name = text.split(":", 1)[0]
        if ":" in text and name.isidentifier() and name in Config.__dataclass_fields__:
            trailing = line.split("  # ", 1)[1].strip() if "  # " in line else ""
            docs[name] = trailing or " ".join(above)
        above = []
    return docs


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML or JSON mapping of config keys (safe loaders only: no code runs)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    try:
        if path.suffix == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as error:
        raise ConfigError(f"config file {path} is not valid {path.suffix.lstrip('.') or 'YAML'}: {error}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of keys to values, got {type(data).__name__}")
    return data


def parse_overrides(items: list[str]) -> dict[str, Any]:
    """`["key=value", ...]` -> dict; values are parsed as YAML scalars (numbers, booleans, null)."""
    import yaml

    result: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"overrides look like key=value, got {item!r}")
        key = key.strip().lstrip("-").replace("-", "_")
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, str):
            try:
                value = float(value)  # YAML 1.1 reads 1e-4 as text
            except ValueError:
                pass
        result[key] = value
    return result


def _coerce(f: dataclasses.Field, value: Any) -> Any:
    """Check and convert a value to the field's type, with an error naming the key."""
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
                return value.lower() in ("true", "1", "yes")
            raise ValueError
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(float(value)) if isinstance(value, str) else int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "float | None":
            return None if value is None or value == "None" else float(value)
        if kind == "str":
            if not isinstance(value, str):
                raise ValueError
            return value
    except (TypeError, ValueError):
        raise ConfigError(f"config key {f.name!r} expects {kind}, got {value!r}") from None
    return value
