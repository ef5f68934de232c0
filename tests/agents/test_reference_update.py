"""The optimised update computes what a straightforward reading of eq. 7-10 computes.

The reference below uses none of the library's speed-ups or helpers: one encoder pass over all
images in the default memory layout, `torch.distributions` for log-densities and the KL, and
eq. 8-10 written out. It consumes random numbers in the same order as the agent (the model's
windows are filtered first, then the rest; then the critic's, the actor's and alpha's action
samples), so the same seed gives the same samples. Tolerance: rtol 1e-4, atol 1e-5 in float32
(chunked, channels-last convolutions round differently from one plain pass).
"""

import pytest
import torch
from helpers import filled_replay, tiny_config
from torch.distributions import Normal, kl_divergence
from torch.nn import functional as F

from slac.agents.slac import SLACAgent

RTOL, ATOL = 1e-4, 1e-5


def gaussian(head, *inputs):
    mean, raw = head.net(torch.cat(inputs, -1)).chunk(2, -1)
    return Normal(mean, F.softplus(raw) + 1e-5)


def reference_filter(model, features, actions, resets):
    """z_t ~ q(z_t | x_t, z_t-1, a_t-1) over a window, restarting at resets (the paper's Figure 1)."""
    q1 = gaussian(model.z1_first_posterior, features[:, 0])
    z1 = q1.rsample()
    z2 = gaussian(model.z2_first_prior, z1).rsample()
    zs, posts, priors = [torch.cat([z1, z2], -1)], [q1], [Normal(torch.zeros_like(z1), torch.ones_like(z1))]
    for t in range(1, features.shape[1]):
        a, reset = actions[:, t - 1], resets[:, t, None]
        first = gaussian(model.z1_first_posterior, features[:, t])
        post, prior = gaussian(model.z1_posterior, features[:, t], z2, a), gaussian(model.z1_prior, z2, a)
        post = Normal(torch.where(reset, first.mean, post.mean), torch.where(reset, first.stddev, post.stddev))
        prior = Normal(torch.where(reset, 0.0, prior.mean), torch.where(reset, 1.0, prior.stddev))
        z1 = post.rsample()
        z2_next, z2_first = gaussian(model.z2_prior, z1, z2, a), gaussian(model.z2_first_prior, z1)
        z2 = Normal(torch.where(reset, z2_first.mean, z2_next.mean),
                    torch.where(reset, z2_first.stddev, z2_next.stddev)).rsample()
        zs.append(torch.cat([z1, z2], -1))
        posts.append(post)
        priors.append(prior)
    return torch.stack(zs, 1), posts, priors


def reference_model_loss(model, images, actions, rewards, mask, frame_mask, z, posts, priors):
    """Eq. 7: sum over time of -log p(x_t|z_t) - log p(r_t|z_t,a_t,z_t+1) + KL(q(z1_t|.) || p(z1_t|.)); batch mean."""
    image_mean = model.decoder.net(z.reshape(-1, z.shape[-1], 1, 1)).reshape(images.shape)
    image_ll = Normal(image_mean, model.config.decoder_var**0.5).log_prob(images).sum((-3, -2, -1))
    reward_dist = gaussian(model.reward, z[:, :-1], actions, z[:, 1:])
    reward_ll = reward_dist.log_prob(rewards[..., None]).squeeze(-1)
    kl = torch.stack([kl_divergence(q, p).sum(-1) for q, p in zip(posts, priors)], 1)
    return -((image_ll * frame_mask).sum(1) + (reward_ll * mask).sum(1) - (kl * frame_mask).sum(1)).mean()


def tanh_gaussian(actor, x):
    """a = tanh(u), u ~ N(mean, std); log pi(a) by the change of variables."""
    mean, log_std = actor.net(x).chunk(2, -1)
    dist = Normal(mean, log_std.clamp(actor.log_std_min, actor.log_std_max).exp())
    u = dist.rsample()
    a = torch.tanh(u)
    return a, (dist.log_prob(u) - torch.log(1 - a**2 + 1e-12)).sum(-1)


def reference_losses(agent, batch):
    model, config, m = agent.model, agent.config, agent.config.model_batch
    images = batch.images.float() / 255
    features = model.encoder.net(images.reshape(-1, 3, 64, 64).contiguous()).reshape(*images.shape[:2], -1)
    resets = torch.cat([torch.ones_like(batch.mask[:, :1], dtype=torch.bool), batch.mask == 0], 1)
    z_m, posts, priors = reference_filter(model, features[:m], batch.actions[:m], resets[:m])
    model_loss = reference_model_loss(model, images[:m], batch.actions[:m], batch.rewards[:m], batch.mask[:m],
                                      batch.frame_mask[:m], z_m, posts, priors)
    with torch.no_grad():
        z_r, _, _ = reference_filter(model, features[m:], batch.actions[m:], resets[m:])
    z, f, a = torch.cat([z_m, z_r]).detach(), features.detach(), batch.actions
    history = torch.cat([f[:, :-1].flatten(1), a[:, :-1].flatten(1)], -1)  # x_1:tau, a_1:tau-1
    next_history = torch.cat([f[:, 1:].flatten(1), a[:, 1:].flatten(1)], -1)
    alpha = agent.log_alpha.exp().detach()

    def q(critic, z_, a_):
        return critic.net(torch.cat([z_, a_], -1)).squeeze(-1)

    with torch.no_grad():  # eq. 9: soft value of z_tau+1 under the target critics
        next_a, next_log_pi = tanh_gaussian(agent.actor, next_history)
        next_q = torch.min(q(agent.critic_target.q1, z[:, -1], next_a), q(agent.critic_target.q2, z[:, -1], next_a))
        v = next_q - alpha * next_log_pi
        target = batch.rewards[:, -1] + config.gamma * (1 - batch.terminals[:, -1]) * v
    critic_loss = sum(0.5 * ((q(c, z[:, -2], a[:, -1]) - target) ** 2).mean()  # eq. 8
                      for c in (agent.critic.q1, agent.critic.q2))
    new_a, log_pi = tanh_gaussian(agent.actor, history)  # eq. 10
    actor_loss = (alpha * log_pi - torch.min(q(agent.critic.q1, z[:, -2], new_a), q(agent.critic.q2, z[:, -2], new_a))).mean()
    _, fresh_log_pi = tanh_gaussian(agent.actor, history)
    alpha_loss = (agent.log_alpha * (-fresh_log_pi.detach() - agent.target_entropy)).mean()
    return {"model_loss": model_loss, "critic_loss": critic_loss, "actor_loss": actor_loss, "alpha_loss": alpha_loss}


@pytest.mark.parametrize("encode_chunk", [3, 0])
def test_optimised_update_equals_a_straightforward_computation_of_eq_7_to_10(encode_chunk):
    torch.manual_seed(0)
    agent = SLACAgent(2, tiny_config(channels_last=True, encode_chunk=encode_chunk))
    batch = filled_replay(terminal_last=True).sample(8)
    torch.manual_seed(7)
    ours = agent.compute_losses(batch)
    torch.manual_seed(7)
    ref = reference_losses(agent, batch)
    for name, value in ref.items():
        torch.testing.assert_close(ours[name], value, rtol=RTOL, atol=ATOL, msg=lambda text, n=name: f"{n}: {text}")
    # The model's gradient (what its optimiser steps on) agrees too.
    ours_grad = torch.autograd.grad(ours["model_loss"], list(agent.model.parameters()), allow_unused=True)
    ref_grad = torch.autograd.grad(ref["model_loss"], list(agent.model.parameters()), allow_unused=True)
    for g_ours, g_ref in zip(ours_grad, ref_grad):
        if g_ref is None:
            assert g_ours is None or torch.all(g_ours == 0)
        else:
            torch.testing.assert_close(g_ours, g_ref, rtol=1e-3, atol=1e-5)


def test_bf16_option_changes_the_losses_only_by_rounding():
    torch.manual_seed(0)
    fp32 = SLACAgent(2, tiny_config())
    bf16 = SLACAgent(2, tiny_config(precision="bf16"))
    bf16.load_state_dict(fp32.state_dict())
    batch = filled_replay().sample(8)
    torch.manual_seed(7)
    exact = fp32.compute_losses(batch)
    torch.manual_seed(7)
    rounded = bf16.compute_losses(batch)
    for name in ("model_loss", "critic_loss", "actor_loss"):
        assert torch.isfinite(rounded[name])
        torch.testing.assert_close(rounded[name], exact[name], rtol=0.05, atol=0.05)
