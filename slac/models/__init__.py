"""Latent variable models behind one interface (`LatentModel`); `slac` is the paper's default.

Variants of the paper's Figure 5a ablation (`--model`), named as the authors' ablation configs define
them: `partially-stochastic`, `deterministic`, `filtering`, `vae`, `factored-vae`, `planet` (RSSM).
Each class docstring states its factorisation and the config it follows. Modules: `base.py` (the
interface and eq. 7), `slac.py` (the paper's model and its two ablations), `variants.py` (the other
Figure 5a models), `nets.py` (encoder, decoder, Gaussian heads, likelihoods), `conv.py` (fast
convolution layers). The actor and critics are in slac.agents.networks. Imports nothing of slac's
but config and errors.
"""

from slac.config import Config
from slac.models.base import LatentModel, Latents
from slac.models.slac import DeterministicModel, PartiallyStochasticModel, SlacModel
from slac.models.variants import FactoredVAEModel, FilteringModel, PlaNetModel, VAEModel

MODELS: dict[str, type[LatentModel]] = {
    "slac": SlacModel,
    "partially-stochastic": PartiallyStochasticModel,
    "deterministic": DeterministicModel,
    "filtering": FilteringModel,
    "vae": VAEModel,
    "factored-vae": FactoredVAEModel,
    "planet": PlaNetModel,
}


def build_model(name: str, action_dim: int, config: Config) -> LatentModel:
    return MODELS[name](action_dim, config)


__all__ = ["MODELS", "LatentModel", "Latents", "SlacModel", "build_model"]
