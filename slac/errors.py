"""User-facing errors: each says what was wrong, what was expected and what to do.

The CLI prints these as one line (no traceback); anything else is a bug.
"""

import difflib
from collections.abc import Iterable


def did_you_mean(word: str, choices: Iterable) -> str:
    """' (did you mean 'x'?)' for the closest choice, else the choices `word` is a `_`-part of
    (lr -> model_lr, actor_lr, ...), else ''. Every "unknown ..." error ends with this."""
    choices = [str(choice) for choice in choices]
    close = difflib.get_close_matches(str(word), choices, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    parts = [choice for choice in choices if str(word) in choice.split("_")]
    return f" (did you mean one of {', '.join(map(repr, parts))}?)" if parts else ""


class SlacError(Exception):
    """Base class of every error caused by the user's input or machine, not by a bug."""


class TaskError(SlacError, ValueError):
    """An unknown or malformed task name, or an environment slac cannot use."""


class RendererError(SlacError, RuntimeError):
    """MuJoCo cannot render headless on this machine."""


class ConfigError(SlacError, ValueError):
    """A config file, key or value that is wrong."""


class CheckpointError(SlacError, RuntimeError):
    """A checkpoint that is missing, truncated, corrupt, foreign or of another version."""


class NumericalError(SlacError):
    """A loss became NaN or infinite: training stops before the bad gradient reaches the weights."""


class SlacWarning(UserWarning):
    """Something the user should know that does not stop the work (a damaged checkpoint set aside, a
    plan that makes no update). The CLI prints these as one line, `slac: warning: ...`."""
