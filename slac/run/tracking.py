"""Weights & Biases, optional: `slac train --wandb PROJECT` (config `wandb_project`) logs every
metrics.csv and eval.csv row and the config to a W&B run whose id is the run directory's name, so
`--resume` continues the same W&B run. `WANDB_MODE=offline` writes it under the run directory's
`wandb/` for `wandb sync` later. Training and evaluation scalars (train/..., eval/...) are drawn
against `env_step`, the model's pretraining (pretrain/...) against `pretrain/update`: W&B's own step
only counts rows, since the env step stands still while the model pretrains."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from slac.errors import SlacError


def wandb_run_id(run_dir: Path) -> str:
    """The run directory's name in the characters W&B run ids take (at most 64)."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", Path(run_dir).resolve().name)[:64]


def start_wandb(config: Any, run_dir: Path):
    """A W&B run for this run directory (created, or resumed when it exists)."""
    try:
        import wandb
    except ImportError:
        raise SlacError("--wandb needs the wandb package: pip install 'slac[wandb]'") from None
    run = wandb.init(project=config.wandb_project, entity=config.wandb_entity or None, id=wandb_run_id(run_dir),
                     name=Path(run_dir).resolve().name, resume="allow", config=config.to_dict(), dir=str(run_dir))
    for step, prefixes in (("env_step", ("train", "eval")), ("pretrain/update", ("pretrain",))):
        run.define_metric(step)
        for prefix in prefixes:
            run.define_metric(f"{prefix}/*", step_metric=step)
    return run
