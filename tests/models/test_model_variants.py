"""Every latent-model variant computes its loss, backpropagates, learns a fixed batch, and trains."""

import math

import pytest
import torch
from helpers import TINY, filled_replay, fit_fixed_batch, tiny_config

from slac.config import Config
from slac.models import MODELS, build_model
from slac.run.trainer import SLAC


@pytest.mark.parametrize("name", sorted(MODELS))
def test_variant_loss_decreases_on_a_fixed_batch(name):
    torch.manual_seed(0)
    model = build_model(name, 2, tiny_config(model=name))
    assert model.__doc__ and "p(" in model.__doc__  # the factorisation is written down
    batch = filled_replay().sample(4)

    def check(latents):
        assert latents.z.shape == (4, 9, model.latent_dim)

    first, last = fit_fixed_batch(model, batch, check=check)
    assert last < 0.9 * first
    assert model.prior(batch.actions).shape == (4, 9, model.latent_dim)


@pytest.mark.parametrize("name", sorted(set(MODELS) - {"slac"}))
def test_variant_trains_a_full_iteration(tmp_path, name):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "model": name})
    run.learn(40, progress=False)
    assert run.counters["updates"] == 10


def _window(seed=0):
    torch.manual_seed(seed)
    features, actions = torch.randn(2, 9, 16), torch.randn(2, 8, 2)
    resets = torch.zeros(2, 9, dtype=torch.bool)
    resets[:, 0] = True
    return features, actions, resets


def test_partially_stochastic_has_no_z2_noise():
    torch.manual_seed(0)
    model = build_model("partially-stochastic", 2, tiny_config())
    features, actions, resets = _window()
    torch.manual_seed(1)
    a = model.posterior(features, actions, resets)
    torch.manual_seed(2)
    b = model.posterior(features, actions, resets).z
    assert not torch.equal(a.z[..., :4], b[..., :4])  # z1 is sampled
    z2_a = model.z2_prior(a.z[:, 1, :4], a.z[:, 0, 4:], actions[:, 0])[0]
    torch.testing.assert_close(a.z[:, 1, 4:], z2_a)  # z2 is its transition's mean
    assert torch.all(a.post_std > 0)  # z1 still has a posterior distribution and a KL term


def test_deterministic_model_has_no_noise_and_a_unit_variance_prior_cost():
    torch.manual_seed(0)
    model = build_model("deterministic", 2, tiny_config())
    features, actions, resets = _window()
    resets[1, :3] = True  # window 1: two padded positions, its episode starts at position 2
    torch.manual_seed(1)
    a = model.posterior(features, actions, resets)
    torch.manual_seed(2)
    b = model.posterior(features, actions, resets)
    torch.testing.assert_close(a.z, b.z, rtol=0, atol=0)  # nothing random in the transitions
    z1 = a.z[..., :4]
    torch.testing.assert_close(z1, a.post_mean)
    first_mean = model.z1_first_posterior(features[:, 0])[0]
    torch.testing.assert_close(z1[:, 0], first_mean)  # z1_1 = mean of q(z1_1 | x_1)
    frame_mask = torch.ones(2, 9)
    frame_mask[1, :2] = 0.0  # padding
    cost = model.latent_cost(a, frame_mask)
    prior_mean = model.z1_prior(a.z[0, 0, 4:], actions[0, 0])[0]
    expected = 0.5 * ((z1[0, 1] - prior_mean) ** 2).sum() + z1.shape[-1] * 0.5 * math.log(2 * math.pi)
    torch.testing.assert_close(cost[0, 1], expected)  # -log N(z1_2; mean(z2_1, a_1), I)
    assert cost[0, 0] == 0 and torch.all(cost[1, :3] == 0)  # first steps and padding add nothing
    assert torch.all(cost[1, 3:] > 0)
    terms = model.loss(torch.rand(2, 9, 3, 64, 64), actions, torch.zeros(2, 8), torch.ones(2, 8), frame_mask, a)
    torch.testing.assert_close(terms["kl"], (cost * frame_mask).sum(1).mean())


@pytest.mark.parametrize("name", ["filtering", "vae"])
def test_single_latent_models_use_one_z2_sized_latent(name):
    model = build_model(name, 2, tiny_config(z2_dim=12))
    assert model.latent_dim == 12
    assert build_model(name, 2, Config()).latent_dim == 256  # the authors' simple-filtering / simple-VAE size
