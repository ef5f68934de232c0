"""`build_agent`: the agent a config names (`agent=slac|sac-state|sac-pixels`), behind one interface
(slac.agents.base.ActorCriticAgent): update on replay windows, act on a history, checkpoint.

Modules: `losses.py` (eq. 8-10 and the temperature, continuous and discrete), `base.py` (the update
and acting every agent shares), `slac.py` (SLAC's agent), `sac.py` (the SAC baselines),
`networks.py` (the actor and critic networks)."""

from __future__ import annotations

import torch

from slac.agents.base import ActorCriticAgent
from slac.agents.sac import SACAgent
from slac.agents.slac import SLACAgent
from slac.config import Config


def build_agent(config: Config, action_dim: int, device: torch.device | str = "cpu",
                observation_shape: tuple[int, ...] = (3, 64, 64), discrete: bool = False) -> ActorCriticAgent:
    """SLAC (the paper), or one of its SAC baselines; `observation_shape` sizes sac-state's inputs.
    `discrete`: `action_dim` one-hot choices, a categorical actor and critics with a value per action."""
    if config.agent == "slac":
        return SLACAgent(action_dim, config, device, discrete=discrete)
    return SACAgent(action_dim, config, device, observation_shape, discrete=discrete)


def observation_kind(config: Config) -> str:
    """What the agent's env observes: 'state' for sac-state, else 'pixels'."""
    return "state" if config.agent == "sac-state" else "pixels"
