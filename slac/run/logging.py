"""Run directory outputs from one place: CSV rows, TensorBoard scalars, and the progress bar."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from slac.common.files import write_text_atomic

TRAIN_FIELDS = [
    "env_step", "agent_step", "update", "phase", "steps_per_s", "train_return",
    "model_loss", "image_ll", "reward_ll", "kl", "critic_loss", "actor_loss", "alpha_loss",
    "alpha", "entropy", "entropy_gaussian", "entropy_tanh", "log_std", "saturation", "q1", "q2", "target_q",
    "drift_features", "drift_latents", "drift_reward", "drift_q",
    "reward_std_min", "reward_std_median", "reward_nll_max",
]
EVAL_FIELDS = [
    "env_step", "agent_step", "update", "return_stochastic", "return_stochastic_std",
    "return_deterministic", "return_deterministic_std", "episodes", "wall_time_s",
]


class IntervalExtremes:
    """Reward-model statistics over every update of a log interval, not one batch's: the smallest
    predicted reward std of the interval (`reward_std_min`), the median of its batches' medians
    (`reward_std_median`) and the worst per-step reward negative log-likelihood (`reward_nll_max`),
    each batch's value computed by slac.models.base.reward_model_stats. `add` keeps the tensors
    (no host sync per update); `take` reduces them, once per logged row, and starts a new interval."""

    REDUCE = {"reward_std_min": torch.amin, "reward_std_median": torch.median, "reward_nll_max": torch.amax}

    def __init__(self) -> None:
        self.values: dict[str, list[torch.Tensor]] = {name: [] for name in self.REDUCE}

    def add(self, terms: dict[str, torch.Tensor]) -> None:
        for name, values in self.values.items():
            if name in terms:
                values.append(terms[name])

    def state(self) -> dict[str, list[float]]:
        """The interval so far, for a checkpoint (a resumed run's next row then covers the whole interval)."""
        return {name: [float(v) for v in values] for name, values in self.values.items()}

    def load_state(self, state: dict[str, list[float]]) -> None:
        self.values = {name: [torch.tensor(v, dtype=torch.float32) for v in state.get(name, [])] for name in self.REDUCE}

    def take(self) -> dict[str, float]:
        """The interval's statistics (only those its updates reported), then an empty interval."""
        out = {name: float(self.REDUCE[name](torch.stack(values))) for name, values in self.values.items() if values}
        for values in self.values.values():
            values.clear()
        return out


def logged_before(counters: dict[str, int]) -> Callable[[dict[str, str]], bool]:
    """Whether a CSV row was written before the checkpoint with these counters: at or before its env
    step; in pretraining (where the env step stands still), at or before its pretraining update; an
    evaluation at the checkpoint's own env step only if the checkpoint counts it (the loop evaluates
    at the top of the iteration after the checkpoint that ends one, so a resumed run evaluates again)."""
    env_step = counters["env_steps"]

    def keep(row: dict[str, str]) -> bool:
        step = int(float(row["env_step"]))
        if step > env_step:
            return False
        if row.get("phase") == "pretrain":
            return int(float(row["update"])) <= counters["pretrain_updates"]
        if "return_stochastic" in row:  # an evaluation
            return step < env_step or counters["last_eval_step"] == env_step
        return True

    return keep


class CSVLog:
    """An append-only CSV file with fixed columns; on resume, only the rows `keep` accepts (those
    written before the checkpoint: `logged_before`) stay."""

    def __init__(self, path: Path, fields: list[str], keep: Callable[[dict[str, str]], bool] | None = None) -> None:
        self.path, self.fields = path, fields
        if keep is not None and path.exists():
            with open(path, newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if keep(row)]
            _rewrite(path, fields, rows)
        elif not path.exists():
            with open(path, "w", newline="") as handle:
                csv.DictWriter(handle, fields).writeheader()

    def write(self, row: dict[str, Any]) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, self.fields, extrasaction="ignore").writerow(_plain(row))


def _rewrite(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    """Replace the file by these rows atomically: a crash while a resumed run trims its CSV leaves the
    old file whole."""
    text = io.StringIO()
    writer = csv.DictWriter(text, fields, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(path, text.getvalue(), fault_point="csv_rewrite")


def read_csv(path: str | Path) -> list[dict[str, float | str]]:
    """Rows of a run's CSV with numbers parsed."""
    with open(path, newline="") as handle:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]


class RunLogger:
    """metrics.csv, eval.csv and TensorBoard scalars of a run directory: under tb/ against env steps,
    and the pretraining rows under tb/pretrain/ against pretraining updates (the env step stands still
    while the model pretrains, so against it they would all share one x value)."""

    def __init__(self, run_dir: Path, resumed: dict[str, int] | None = None, tensorboard: bool = True,
                 tracker: Any = None) -> None:
        """`resumed`: the counters of the checkpoint a resumed run starts from (rows and scalars written
        after it are dropped); `tracker`: an experiment tracker with `log(dict)` and `finish()` (a W&B run)."""
        self.tracker = tracker
        keep = logged_before(resumed) if resumed is not None else None
        self.train = CSVLog(run_dir / "metrics.csv", TRAIN_FIELDS, keep)
        self.eval = CSVLog(run_dir / "eval.csv", EVAL_FIELDS, keep)
        self.writer = self.pretrain_writer = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            # A resumed run hides what was logged after its checkpoint: every step past its env step (the
            # scalars at that step were logged before it; an evaluation there made after it is made again).
            self.writer = SummaryWriter(str(run_dir / "tb"), purge_step=resumed["env_steps"] + 1 if resumed else None)
            self._pretrain_writer = lambda: SummaryWriter(  # opened on the first pretraining row
                str(run_dir / "tb" / "pretrain"), purge_step=resumed["pretrain_updates"] + 1 if resumed else None)

    def log(self, kind: str, row: dict[str, Any]) -> None:
        """kind 'train' or 'eval' (tags train/..., eval/...; pretraining rows pretrain/...);
        `row["env_step"]` is the x axis everywhere but in TensorBoard's pretraining scalars
        (tb/pretrain/, against `row["update"]`)."""
        (self.train if kind == "train" else self.eval).write(row)
        pretraining = row.get("phase") == "pretrain"
        prefix = "pretrain" if pretraining else kind
        scalars = {f"{prefix}/{key}": value for key, value in _plain(row).items()
                   if key != "env_step" and isinstance(value, (int, float)) and math.isfinite(value)}
        if self.writer is not None:
            writer, step = self.writer, row["env_step"]
            if pretraining:
                self.pretrain_writer = self.pretrain_writer or self._pretrain_writer()
                writer, step = self.pretrain_writer, row["update"]
            for tag, value in scalars.items():
                writer.add_scalar(tag, value, step)
        if self.tracker is not None:  # x axes by name (tracking.py): env_step, or pretrain/update
            self.tracker.log(scalars if pretraining else {**scalars, "env_step": int(row["env_step"])})

    def image(self, tag: str, image, env_step: int) -> None:
        """An (H, W, 3) uint8 picture in TensorBoard's Images tab."""
        if self.writer is not None:
            self.writer.add_image(tag, image, env_step, dataformats="HWC")

    def close(self) -> None:
        for writer in (self.writer, self.pretrain_writer):
            if writer is not None:
                writer.close()
        if self.tracker is not None:
            self.tracker.finish()
            self.tracker = None


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if hasattr(value, "item"):
            value = value.item()
        out[key] = round(value, 6) if isinstance(value, float) else value
    return out


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text
