import pytest
import torch
from helpers import filled_replay, fit_fixed_batch, tiny_config
from torch.distributions import Normal, kl_divergence

from slac.agents.networks import TanhGaussianActor
from slac.models import SlacModel
from slac.models.nets import gaussian_kl, gaussian_log_prob


def test_gaussian_log_prob_and_kl_equal_torch_distributions():
    torch.manual_seed(0)
    x, m1, m2 = torch.randn(3, 5, 7), torch.randn(3, 5, 7), torch.randn(3, 5, 7)
    s1, s2 = torch.rand(3, 5, 7) + 0.1, torch.rand(3, 5, 7) + 0.1
    torch.testing.assert_close(gaussian_log_prob(x, m1, s1), Normal(m1, s1).log_prob(x))
    torch.testing.assert_close(gaussian_log_prob(x, m1, 0.3), Normal(m1, 0.3).log_prob(x))
    torch.testing.assert_close(gaussian_kl(m1, s1, m2, s2), kl_divergence(Normal(m1, s1), Normal(m2, s2)).sum(-1))


def test_tanh_gaussian_log_prob_matches_the_change_of_variables():
    torch.manual_seed(0)
    actor = TanhGaussianActor(6, 3, hidden=8)
    x = torch.randn(1000, 6)
    torch.manual_seed(1)
    action, log_pi = actor(x)
    mean, log_std = actor.net(x).chunk(2, -1)
    u = torch.atanh(action.clamp(-1 + 1e-6, 1 - 1e-6))
    expected = (Normal(mean, log_std.clamp(-20, 2).exp()).log_prob(u) - torch.log(1 - action**2 + 1e-12)).sum(-1)
    close = action.abs().max(-1).values < 0.999  # away from float saturation
    torch.testing.assert_close(log_pi[close], expected[close], atol=1e-3, rtol=1e-3)


@pytest.mark.parametrize("batch,seq_len", [(1, 1), (3, 4), (5, 8)])
def test_posterior_shapes(batch, seq_len):
    config = tiny_config(seq_len=seq_len)
    model = SlacModel(2, config)
    features = torch.randn(batch, seq_len + 1, config.feature_dim)
    actions = torch.randn(batch, seq_len, 2)
    resets = torch.zeros(batch, seq_len + 1, dtype=torch.bool)
    resets[:, 0] = True
    latents = model.posterior(features, actions, resets)
    assert latents.z.shape == (batch, seq_len + 1, config.z1_dim + config.z2_dim)
    assert latents.post_mean.shape == (batch, seq_len + 1, config.z1_dim)
    assert model.decode(latents.z).shape == (batch, seq_len + 1, 3, 64, 64)
    assert model.prior(actions).shape == latents.z.shape


@pytest.mark.parametrize("name", ["slac", "partially-stochastic", "deterministic", "filtering", "planet"])
def test_latent_samples_are_the_posteriors_samples_under_the_same_seed(name):
    from slac.models import build_model

    config = tiny_config()
    model = build_model(name, 2, config)
    features, actions = torch.randn(4, 9, config.feature_dim), torch.randn(4, 8, 2)
    resets = torch.zeros(4, 9, dtype=torch.bool)
    resets[:, 0] = resets[1, 5] = True  # an episode start inside a window
    torch.manual_seed(3)
    expected = model.posterior(features, actions, resets).z
    torch.manual_seed(3)
    torch.testing.assert_close(model.latent_samples(features, actions, resets), expected, rtol=0, atol=0)


def test_model_loss_terms_equal_torch_distributions_by_hand():
    torch.manual_seed(0)
    config = tiny_config()
    model = SlacModel(2, config)
    batch = filled_replay().sample(4)
    images = batch.images.float() / 255
    latents = model.posterior(model.encode(images), batch.actions, batch.resets)
    terms = model.loss(images, batch.actions, batch.rewards, batch.mask, batch.frame_mask, latents)
    z = latents.z
    image_ll = Normal(model.decode(z), config.decoder_var**0.5).log_prob(images).sum((-3, -2, -1))
    r_mean, r_std = model.reward(torch.cat([z[:, :-1], batch.actions, z[:, 1:]], -1))
    reward_ll = Normal(r_mean.squeeze(-1), r_std.squeeze(-1)).log_prob(batch.rewards)
    kl = kl_divergence(Normal(latents.post_mean, latents.post_std), Normal(latents.prior_mean, latents.prior_std)).sum(-1)
    torch.testing.assert_close(terms["image_ll"], (image_ll * batch.frame_mask).sum(1).mean())
    torch.testing.assert_close(terms["reward_ll"], (reward_ll * batch.mask).sum(1).mean())
    torch.testing.assert_close(terms["kl"], (kl * batch.frame_mask).sum(1).mean())
    torch.testing.assert_close(terms["model_loss"], -(terms["image_ll"] + terms["reward_ll"] - terms["kl"]))


def test_reward_std_min_floors_the_reward_models_std_and_is_off_by_default():
    torch.manual_seed(0)
    config = tiny_config()
    assert config.reward_std_min == 0.0  # the paper's learned std
    batch = filled_replay().sample(4)
    images = batch.images.float() / 255
    model = SlacModel(2, config)
    floored = SlacModel(2, tiny_config(reward_std_min=1.0))
    floored.load_state_dict(model.state_dict())  # the same weights, and the same checkpoint format
    latents = model.posterior(model.encode(images), batch.actions, batch.resets)
    plain = model.loss(images, batch.actions, batch.rewards, batch.mask, batch.frame_mask, latents)
    terms = floored.loss(images, batch.actions, batch.rewards, batch.mask, batch.frame_mask, latents)
    z = latents.z
    r_mean, r_std = model.reward(torch.cat([z[:, :-1], batch.actions, z[:, 1:]], -1))
    assert (r_std < 1.0).any()  # the floor binds somewhere
    reward_ll = Normal(r_mean.squeeze(-1), r_std.squeeze(-1).clamp(min=1.0)).log_prob(batch.rewards)
    torch.testing.assert_close(terms["reward_ll"], (reward_ll * batch.mask).sum(1).mean())
    torch.testing.assert_close(terms["image_ll"], plain["image_ll"])
    assert not torch.allclose(terms["reward_ll"], plain["reward_ll"])


def test_padded_positions_use_the_first_step_distributions():
    torch.manual_seed(0)
    model = SlacModel(2, tiny_config())
    features = torch.randn(2, 9, 16)
    actions = torch.randn(2, 8, 2)
    resets = torch.zeros(2, 9, dtype=torch.bool)
    resets[:, :4] = True  # 3 padded positions, episode starts at position 3
    latents = model.posterior(features, actions, resets)
    first_mean, first_std = model.z1_first_posterior(features)
    torch.testing.assert_close(latents.post_mean[:, :4], first_mean[:, :4])
    torch.testing.assert_close(latents.prior_mean[:, :4], torch.zeros_like(first_mean[:, :4]))
    torch.testing.assert_close(latents.prior_std[:, :4], torch.ones_like(first_std[:, :4]))
    assert not torch.allclose(latents.post_mean[:, 4:], first_mean[:, 4:])


def test_model_loss_decreases_on_a_fixed_batch():
    torch.manual_seed(0)
    model = SlacModel(2, tiny_config())
    batch = filled_replay().sample(4)
    first, last = fit_fixed_batch(model, batch)
    assert last < 0.8 * first


def test_reward_model_stats_read_the_real_steps_of_a_batch_by_hand():
    """The smallest and median predicted reward std and the worst per-step reward NLL of one batch,
    over its real steps only: a padded step with a tiny std or a huge NLL is never counted."""
    from slac.models.base import reward_model_stats

    std = torch.tensor([[0.5, 0.001, 0.2, 0.3], [0.4, 0.1, 0.6, 0.7]])
    ll = torch.tensor([[-1.0, -900.0, 2.0, -3.0], [0.5, -7.5, 1.0, -2.0]])
    mask = torch.tensor([[1.0, 0.0, 1.0, 1.0], [1.0, 1.0, 1.0, 1.0]])  # the 0.001 / -900 step is padding
    stats = reward_model_stats(std, ll, mask)
    real_std = [0.5, 0.2, 0.3, 0.4, 0.1, 0.6, 0.7]
    assert float(stats["reward_std_min"]) == pytest.approx(0.1)
    assert float(stats["reward_std_median"]) == pytest.approx(sorted(real_std)[3])  # 0.4, the middle of seven
    assert float(stats["reward_nll_max"]) == pytest.approx(7.5)


def test_the_model_loss_reports_the_heads_own_std_and_the_floored_nll():
    """With `reward_std_min` the std statistics stay the head's output (they show what it would do)
    while the NLL is the loss's, floored."""
    torch.manual_seed(0)
    batch = filled_replay().sample(4)
    images = batch.images.float() / 255
    model = SlacModel(2, tiny_config())
    floored = SlacModel(2, tiny_config(reward_std_min=1.0))
    floored.load_state_dict(model.state_dict())
    latents = model.posterior(model.encode(images), batch.actions, batch.resets)
    plain = model.loss(images, batch.actions, batch.rewards, batch.mask, batch.frame_mask, latents)
    terms = floored.loss(images, batch.actions, batch.rewards, batch.mask, batch.frame_mask, latents)
    z = latents.z
    r_mean, r_std = model.reward(torch.cat([z[:, :-1], batch.actions, z[:, 1:]], -1))
    r_mean, r_std = r_mean.squeeze(-1).detach(), r_std.squeeze(-1).detach()
    real = batch.mask > 0
    assert float(terms["reward_std_min"]) == pytest.approx(float(r_std[real].min()))
    assert float(plain["reward_std_min"]) == float(terms["reward_std_min"]) < 1.0
    nll = -Normal(r_mean, r_std.clamp(min=1.0)).log_prob(batch.rewards)
    assert float(terms["reward_nll_max"]) == pytest.approx(float(nll[real].max()), rel=1e-5)
    assert float(plain["reward_nll_max"]) > float(terms["reward_nll_max"])
