"""slac: Stochastic Latent Actor-Critic (Lee, Nagabandi, Abbeel, Levine, NeurIPS 2020) in PyTorch.

The package in layers, each importing only those below it (tests/test_layout.py checks it):
cli > tools > run > policy > agents > models, replay, envs > common, config, errors.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["SLAC", "load_policy", "make_env", "wrap_env", "list_tasks", "Config", "TASK_PRESETS", "PRESETS",
           "Callback", "StopOnReturn", "export_onnx"]

_EXPORTS = {
    "SLAC": "slac.run.trainer",
    "load_policy": "slac.policy.export",
    "make_env": "slac.envs",
    "wrap_env": "slac.envs",
    "list_tasks": "slac.envs",
    "Config": "slac.config",
    "TASK_PRESETS": "slac.config",
    "PRESETS": "slac.config",
    "Callback": "slac.run.callbacks",
    "StopOnReturn": "slac.run.callbacks",
    "export_onnx": "slac.run.deploy",
}


def __getattr__(name: str) -> Any:
    """Import on first use, so `slac tasks` and `import slac` stay quick."""
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'slac' has no attribute {name!r}")
