"""Latent variable models behind one interface (`LatentModel`); `slac` is the paper's default."""

from slac.models.base import LatentModel, Latents
from slac.models.slac import SlacModel

MODELS: dict[str, type[LatentModel]] = {
    "slac": SlacModel,
}


def build_model(name: str, action_dim: int, config) -> LatentModel:
    return MODELS[name](action_dim, config)


__all__ = ["MODELS", "LatentModel", "Latents", "SlacModel", "build_model"]
