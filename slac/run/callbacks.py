"""Callbacks for `SLAC.learn`, as Stable-Baselines3 users know them: stop early, log or save on the
user's terms. A callback is a callable (called after every env step with the run) or an object with
any of `on_step(run)`, `on_evaluation(run, row)` (row: the eval.csv row just written) and
`on_checkpoint(run, path)`. Any hook returning False stops training cleanly, with a checkpoint.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

HOOKS = ("on_step", "on_evaluation", "on_checkpoint")

if TYPE_CHECKING:
    from slac.run.state import Run


class Callback:
    """Base class: override the hooks you need; returning False from any of them stops training."""

    def on_step(self, run: Run) -> bool | None:
        return None

    def on_evaluation(self, run: Run, row: dict[str, float]) -> bool | None:
        return None

    def on_checkpoint(self, run: Run, path: Path) -> bool | None:
        return None


class StopOnReturn(Callback):
    """Stop once an evaluation's mean return reaches `threshold` (SB3's StopTrainingOnRewardThreshold);
    `policy` is "stochastic" (the authors' curves) or "deterministic"."""

    def __init__(self, threshold: float, policy: str = "stochastic") -> None:
        if policy not in ("stochastic", "deterministic"):
            raise ValueError(f"policy must be 'stochastic' or 'deterministic', got {policy!r}")
        self.threshold, self.key = threshold, f"return_{policy}"

    def on_evaluation(self, run: Run, row: dict[str, float]) -> bool:
        return row[self.key] < self.threshold


class _Hooks(Callback):
    """Any object with some of the hooks, a plain callable (on_step), or a list of callbacks, as one."""

    def __init__(self, callbacks: Sequence[Any]) -> None:
        self.callbacks = list(callbacks)

    def _call(self, hook: str, *args: Any) -> bool:
        keep_going = True
        for callback in self.callbacks:
            method: Callable | None = getattr(callback, hook, None)
            if method is None and hook == "on_step" and not any(hasattr(callback, h) for h in HOOKS):
                method = callback  # a plain callable
            if method is not None and method(*args) is False:
                keep_going = False
        return keep_going

    def on_step(self, run: Run) -> bool:
        return self._call("on_step", run)

    def on_evaluation(self, run: Run, row: dict[str, float]) -> bool:
        return self._call("on_evaluation", run, row)

    def on_checkpoint(self, run: Run, path: Path) -> bool:
        return self._call("on_checkpoint", run, path)


def as_callback(callback: Any) -> Callback | None:
    """None, a Callback, an object with hooks, a callable, or a list of these -> one Callback."""
    if callback is None:
        return None
    callbacks = list(callback) if isinstance(callback, (list, tuple)) else [callback]
    for item in callbacks:
        if not (callable(item) or any(hasattr(item, hook) for hook in HOOKS)):
            raise TypeError(f"a callback is a callable or has one of {HOOKS}; got {type(item).__name__}")
    return _Hooks(callbacks)
