"""Fault injection for the reliability tests: kill this process at a chosen point.

`SLAC_FAULT=<point>:<n>` makes the n-th arrival at `point` send SIGKILL to the process itself, the
way a preemption or an OOM kill would end it: no handler, no cleanup. Points: `env_step` (during
collection), `update` (between computing the gradients and stepping the optimisers),
`checkpoint_write` (half-way through writing a checkpoint) and `csv_rewrite` (half-way through a resumed
run's trimming of a CSV log). Unset, `inject` is one dict lookup.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator

_counts: dict[str, int] = {}
_suspended = False


@contextlib.contextmanager
def suspended() -> Iterator[None]:
    """No fault point counts inside (work on the side, e.g. timing updates on a copy of the agent)."""
    global _suspended
    previous, _suspended = _suspended, True
    try:
        yield
    finally:
        _suspended = previous


def inject(point: str) -> None:
    """SIGKILL this process if SLAC_FAULT names `point` and this is its n-th arrival."""
    spec = os.environ.get("SLAC_FAULT")
    if not spec or _suspended:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _counts[point] = _counts.get(point, 0) + 1
    if _counts[point] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
