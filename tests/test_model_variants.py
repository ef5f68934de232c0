"""Every latent-model variant computes its loss, backpropagates, learns a fixed batch, and trains."""

import pytest
import torch
from helpers import TINY, filled_replay, tiny_config

from slac.models import MODELS, build_model
from slac.trainer import SLAC


@pytest.mark.parametrize("name", sorted(MODELS))
def test_variant_loss_decreases_on_a_fixed_batch(name):
    torch.manual_seed(0)
    model = build_model(name, 2, tiny_config(model=name))
    assert model.__doc__ and "p(" in model.__doc__  # the factorisation is written down
    batch = filled_replay().sample(4)
    images = batch.images.float() / 255
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def loss():
        latents = model.posterior(model.encode(images), batch.actions, batch.resets)
        assert latents.z.shape == (4, 9, model.latent_dim)
        return model.loss(images, batch.actions, batch.rewards, batch.mask, batch.frame_mask, latents)["model_loss"]

    first = loss().item()
    for _ in range(40):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert loss().item() < 0.9 * first
    assert model.prior(batch.actions).shape == (4, 9, model.latent_dim)


@pytest.mark.parametrize("name", sorted(set(MODELS) - {"slac"}))
def test_variant_trains_a_full_iteration(tmp_path, name):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "model": name})
    run.learn(40, progress=False)
    assert run.counters["updates"] == 10


def test_slac_deterministic_has_no_z2_noise():
    torch.manual_seed(0)
    model = build_model("slac-deterministic", 2, tiny_config())
    features, actions = torch.randn(2, 9, 16), torch.randn(2, 8, 2)
    resets = torch.zeros(2, 9, dtype=torch.bool)
    resets[:, 0] = True
    torch.manual_seed(1)
    a = model.posterior(features, actions, resets).z
    torch.manual_seed(2)
    b = model.posterior(features, actions, resets).z
    assert not torch.equal(a[..., :4], b[..., :4])  # z1 is sampled
    z2_a = model.z2_prior(a[:, 1, :4], a[:, 0, 4:], actions[:, 0])[0]
    torch.testing.assert_close(a[:, 1, 4:], z2_a)  # z2 is its transition's mean
