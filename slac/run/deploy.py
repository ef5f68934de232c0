"""A run's policy for deployment: `slac export RUN --format torch|onnx [--card]`.

The formats and their metadata are slac.policy.export's; this module adds the run's facts (env
steps, last evaluation) and the model card: a README.md beside the exported file, written from the
run directory alone: task, agent, seed, env steps, the evaluation returns with their protocol, the
config, the commands that trained it, and a GIF of one evaluation episode.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from slac.policy.export import check_onnx_export, policy_metadata, write_policy
from slac.run.logging import read_csv

if TYPE_CHECKING:
    from slac.run.trainer import SLAC

def export_run(run: SLAC, out: str | Path, fmt: str = "torch", card: bool = False, opset: int | None = None,
               check: bool = False) -> Path:
    """Write `run`'s policy as `fmt` to `out` (and the model card beside it with `card`). With
    `check`, an ONNX graph is run in ONNX Runtime against PyTorch and refused beyond ONNX_TOLERANCE."""
    if fmt == "torch":
        path = run.export(out)
    else:
        p = run.progress
        action_space = None if run.env is None else run.env.unwrapped.action_space
        metadata = policy_metadata(run.agent, action_space, env_steps=p.env_steps, last_eval_env_step=p.last_eval_step,
                                   last_eval=run.last_eval)
        path = write_policy(run.agent, out, fmt, metadata, opset=opset)
        if check:
            check_onnx_export(run.agent, path)
    if card:
        write_model_card(run, path)
    return path


def export_onnx(run: SLAC | str | Path, out: str | Path, card: bool = False, opset: int | None = None,
                check: bool = False) -> Path:
    """`slac.export_onnx(run_dir_or_run, "policy.onnx")`: the encoder and actor as one ONNX graph."""
    if isinstance(run, (str, Path)):
        from slac.run.trainer import SLAC

        loaded = SLAC.load(run, device="cpu", replay=False)
        try:
            return export_run(loaded, out, "onnx", card=card, opset=opset, check=check)
        finally:
            loaded.close()
    return export_run(run, out, "onnx", card=card, opset=opset, check=check)


def write_model_card(run: SLAC, exported: Path, gif_steps: int = 250) -> Path:
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
        f"Every {config.eval_interval:,} env steps, {config.eval_episodes} episode{'s' if config.eval_episodes > 1 else ''} "
        "of the stochastic policy (what the "
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


def _episode_gif(run: SLAC, path: Path, steps: int) -> Path | None:
    """The agent's frames over one evaluation episode as a GIF (None for sac-state: no frames)."""
    if run.config.agent == "sac-state":
        return None
    import imageio.v2 as imageio

    frames: list[np.ndarray] = []
    run.evaluate(episodes=1, record=frames)
    frames = [np.transpose(f, (1, 2, 0)) for f in frames[: steps + 1]]  # (3, H, W) -> (H, W, 3)
    imageio.mimsave(path, frames, duration=1 / 25, loop=0)
    return path
