"""A run's policy for deployment: `slac export RUN --format torch|onnx [--card]`.

The PyTorch file is `slac.policy.export` (for `slac.load_policy`); the ONNX graph is
`slac.policy.onnx` (ONNX Runtime, no PyTorch), with the run's facts in its metadata. The model
card is a README.md beside the exported file, written from the run directory alone: task, agent,
seed, env steps, the evaluation returns with their protocol, the config, the commands that trained
it, and a GIF of one evaluation episode.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from slac.errors import SlacError
from slac.run.logging import read_csv

FORMATS = ("torch", "onnx")


def action_bounds(run: Any) -> tuple[list[float], list[float]]:
    """The bounds of the env's own action space; the policy acts in [-1, 1] and slac.wrap_env
    rescales to these (low + (a + 1) (high - low) / 2)."""
    space = run.env.unwrapped.action_space
    low, high = (np.broadcast_to(bound, space.shape).astype(float).tolist() for bound in (space.low, space.high))
    return low, high


def policy_metadata(run: Any) -> dict[str, Any]:
    """What an acting loop needs to know about the policy, and where it came from."""
    config, p = run.config, run.progress
    low, high = (None, None) if run.agent.discrete else action_bounds(run)
    pixels = config.agent != "sac-state"
    return {
        "discrete": run.agent.discrete,
        "slac_version": _version(), "task": config.task, "agent": config.agent, "seed": config.seed,
        "observation": "pixels" if pixels else "state", "image_size": config.image_size if pixels else None,
        "history_frames": run.agent.seq_len, "history_actions": run.agent.seq_len - 1 if config.agent == "slac" else 0,
        "action_dim": run.action_dim, "action_low": low, "action_high": high,
        "action_repeat": config.resolved_action_repeat(), "env_steps": p.env_steps,
        "last_eval_env_step": p.last_eval_step, "last_eval": run.last_eval,
    }


ONNX_TOLERANCE = 1e-4  # largest difference allowed between ONNX Runtime and PyTorch (float32 both)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("slac")
    except PackageNotFoundError:  # run from a source tree without installing
        return "unknown"


def export_run(run: Any, out: str | Path, fmt: str = "torch", card: bool = False, opset: int | None = None,
               check: bool = False) -> Path:
    """Write `run`'s policy as `fmt` to `out` (and the model card beside it with `card`). With
    `check`, an ONNX graph is run in ONNX Runtime against PyTorch and refused beyond ONNX_TOLERANCE."""
    if fmt not in FORMATS:
        raise SlacError(f"unknown export format {fmt!r}: expected one of {list(FORMATS)}")
    out = Path(out)
    if fmt == "torch":
        path = run.export(out)
    else:
        from slac.policy.onnx import DEFAULT_OPSET, write_onnx

        path = write_onnx(run.agent, out, policy_metadata(run), opset=opset or DEFAULT_OPSET)
        if check:
            check_export(run, path)
    if card:
        write_model_card(run, path)
    return path


def check_export(run: Any, path: Path) -> float:
    """Run an exported ONNX graph in ONNX Runtime against the run's PyTorch policy: the largest
    difference between their actions; SlacError beyond ONNX_TOLERANCE."""
    from slac.policy.onnx import check_onnx

    difference = check_onnx(run.agent, path)
    if difference > ONNX_TOLERANCE:
        raise SlacError(f"{path}: ONNX Runtime's actions differ from PyTorch's by {difference:.2g} "
                        f"(more than {ONNX_TOLERANCE:g})")
    return difference


def export_onnx(run: Any, out: str | Path, card: bool = False, opset: int | None = None, check: bool = False) -> Path:
    """`slac.export_onnx(run_dir_or_run, "policy.onnx")`: the encoder and actor as one ONNX graph."""
    if isinstance(run, (str, Path)):
        from slac.run.trainer import SLAC

        loaded = SLAC.load(run, device="cpu", replay=False)
        try:
            return export_run(loaded, out, "onnx", card=card, opset=opset, check=check)
        finally:
            loaded.close()
    return export_run(run, out, "onnx", card=card, opset=opset, check=check)


def write_model_card(run: Any, exported: Path, gif_steps: int = 250) -> Path:
    """README.md beside `exported`: the run's facts, its evaluations, config and commands, and a GIF
    of one evaluation episode of the stochastic policy (the first `gif_steps` agent steps)."""
    config, p = run.config, run.progress
    folder = exported.parent
    rows = read_csv(run.run_dir / "eval.csv") if (run.run_dir / "eval.csv").is_file() else []
    commands_file = run.run_dir / "commands.txt"
    commands = (commands_file.read_text().strip() if commands_file.is_file()
                else "(not recorded: a run from before slac recorded its commands)")
    lines = [
        f"# {config.agent} on {config.task}", "",
        f"Policy file: `{exported.name}` ({_how_to_act(exported)}).", "",
        "| | |", "| --- | --- |",
        f"| task | `{config.task}` (action repeat {config.resolved_action_repeat()}) |",
        f"| agent | `{config.agent}`" + (f", latent model `{config.model}`" if config.agent == "slac" else "") + " |",
        f"| seed | {config.seed} |",
        f"| env steps trained | {p.env_steps:,} (random actions for the first {config.init_steps:,}; "
        f"{p.pretrain_updates:,} model pretraining updates; {p.updates:,} updates) |",
        f"| run directory | `{run.run_dir}` |", "",
        "## Evaluations", "",
        f"Every {config.eval_interval:,} env steps, {config.eval_episodes} episodes of the stochastic policy (what the "
        "paper's curves show) and of the deterministic one (tanh of the mean); each evaluation draws its episode "
        "starts from the seed and its env step. Mean +- std over episodes.", "",
        "| env step | stochastic | deterministic |", "| --- | --- | --- |",
    ]
    lines += [f"| {int(r['env_step']):,} | {r['return_stochastic']:.1f} +- {r['return_stochastic_std']:.1f} | "
              f"{r['return_deterministic']:.1f} +- {r['return_deterministic_std']:.1f} |" for r in rows]
    if not rows:
        lines.append("| (no evaluation yet) | | |")
    gif = _episode_gif(run, folder / f"{exported.stem}_episode.gif", gif_steps)
    if gif is not None:
        lines += ["", f"![one evaluation episode, stochastic policy]({gif.name})"]
    lines += ["", "## Trained with", "", "```", commands, "```", "", "## Config", "", "```json",
              json.dumps(config.to_dict(), indent=2), "```", ""]
    card = folder / "README.md"
    card.write_text("\n".join(lines))
    return card


def _how_to_act(exported: Path) -> str:
    if exported.suffix == ".onnx":
        return "ONNX: ONNX Runtime acts with it without PyTorch, e.g. examples/act_onnx.py"
    return "PyTorch: slac.load_policy"


def _episode_gif(run: Any, path: Path, steps: int) -> Path | None:
    """The agent's frames over one evaluation episode as a GIF (None for sac-state: no frames)."""
    if run.config.agent == "sac-state":
        return None
    import imageio.v2 as imageio

    frames: list[np.ndarray] = []
    run.evaluate(episodes=1, record=frames)
    frames = [np.transpose(f, (1, 2, 0)) for f in frames[: steps + 1]]  # (3, H, W) -> (H, W, 3)
    imageio.mimsave(path, frames, duration=1 / 25, loop=0)
    return path
