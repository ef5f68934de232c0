"""Latent variable models behind one interface (`LatentModel`); `slac` is the paper's default.

Variants of the paper's Figure 5a ablation (`--model`): `slac-deterministic`, `filtering`,
`partially-stochastic`, `vae`, `factored-vae`, `planet` (RSSM). Each class docstring states its factorisation.
"""

from slac.models.base import LatentModel, Latents
from slac.models.slac import SlacDeterministicModel, SlacModel
from slac.models.variants import FactoredVAEModel, FilteringModel, PartiallyStochasticModel, PlaNetModel, VAEModel

MODELS: dict[str, type[LatentModel]] = {
    "slac": SlacModel,
    "slac-deterministic": SlacDeterministicModel,
    "filtering": FilteringModel,
    "vae": VAEModel,
    "factored-vae": FactoredVAEModel,
    "partially-stochastic": PartiallyStochasticModel,
    "planet": PlaNetModel,
}


def build_model(name: str, action_dim: int, config) -> LatentModel:
    return MODELS[name](action_dim, config)


__all__ = ["MODELS", "LatentModel", "Latents", "SlacModel", "build_model"]
