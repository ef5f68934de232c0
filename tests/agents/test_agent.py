import copy

import numpy as np
import pytest
import torch
from helpers import filled_replay, tiny_config

from slac.agents.base import actor_input
from slac.agents.losses import alpha_loss, critic_loss
from slac.agents.slac import SLACAgent
from slac.policy.history import HistoryPolicy, act_on_history


def make_agent(**changes):
    torch.manual_seed(0)
    return SLACAgent(2, tiny_config(**changes))


def grads_of(module):
    return [p.grad for p in module.parameters()]


def test_actor_and_critic_losses_do_not_touch_model_parameters():
    agent = make_agent()
    terms = agent.compute_losses(filled_replay().sample(8))
    for name in ("critic_loss", "actor_loss", "alpha_loss"):
        agent.zero_grad(set_to_none=True)
        terms[name].backward(retain_graph=True)
        assert all(g is None or torch.all(g == 0) for g in grads_of(agent.model)), name
    agent.zero_grad(set_to_none=True)
    terms["model_loss"].backward()
    assert all(g is None for g in grads_of(agent.actor)) and all(g is None for g in grads_of(agent.critic))
    assert agent.log_alpha.grad is None
    assert any(g is not None and g.abs().sum() > 0 for g in grads_of(agent.model.encoder))


def test_one_update_computes_every_loss_at_the_pre_update_parameters():
    agent = make_agent()
    batch = filled_replay().sample(8)
    reference = copy.deepcopy(agent)
    torch.manual_seed(123)
    returned = agent.update(batch)
    # By hand, on the saved copy: the same losses at the old parameters, each optimiser stepped
    # on its own loss's gradient, then the target update.
    torch.manual_seed(123)
    terms = reference.compute_losses(batch)
    for name, value in terms.items():
        torch.testing.assert_close(returned[name], value.detach(), msg=name)
    groups = [("model_loss", list(reference.model.parameters()), "model"),
              ("critic_loss", list(reference.critic.parameters()), "critic"),
              ("actor_loss", list(reference.actor.parameters()), "actor"),
              ("alpha_loss", [reference.log_alpha], "alpha")]
    for loss, params, _ in groups:
        for p, g in zip(params, torch.autograd.grad(terms[loss], params, retain_graph=True, allow_unused=True)):
            p.grad = g
    for _, _, opt in groups:
        reference.optimizers[opt].step()
    with torch.no_grad():
        for t, s in zip(reference.critic_target.parameters(), reference.critic.parameters()):
            t.mul_(1 - reference.config.tau).add_(reference.config.tau * s)
    for (name, a), b in zip(agent.state_dict().items(), reference.state_dict().values()):
        torch.testing.assert_close(a, b, msg=name)


def test_target_critics_move_by_exactly_tau():
    agent = make_agent(tau=0.25)
    before_target = [p.clone() for p in agent.critic_target.parameters()]
    agent.update(filled_replay().sample(8))
    for old, new, online in zip(before_target, agent.critic_target.parameters(), agent.critic.parameters()):
        torch.testing.assert_close(new, 0.75 * old + 0.25 * online)


def test_alpha_moves_toward_the_target_entropy():
    log_alpha = torch.zeros((), requires_grad=True)
    # Entropy (= -log pi) above the target: alpha should fall, i.e. the gradient is positive.
    alpha_loss(log_alpha, torch.full((10,), -5.0), target_entropy=-2.0)["alpha_loss"].backward()
    assert log_alpha.grad > 0
    log_alpha.grad = None
    alpha_loss(log_alpha, torch.full((10,), 5.0), target_entropy=-2.0)["alpha_loss"].backward()
    assert log_alpha.grad < 0


def test_terminals_cut_the_bootstrap_and_time_limits_do_not():
    agent = make_agent()
    z = torch.randn(4, agent.model.latent_dim)
    history = torch.randn(4, 8 * 16 + 7 * 2)
    action, reward = torch.zeros(4, 2), torch.ones(4)
    for terminal, expect_bootstrap in [(torch.ones(4), False), (torch.zeros(4), True)]:
        torch.manual_seed(0)
        terms = critic_loss(agent.critic, agent.critic_target, agent.actor, z, action, reward, terminal, z,
                            history, agent.alpha, 0.99)
        if expect_bootstrap:
            assert not torch.allclose(terms["target_q"], torch.tensor(1.0))
        else:
            torch.testing.assert_close(terms["target_q"], torch.tensor(1.0))


def test_model_only_update_leaves_actor_critic_and_alpha_alone():
    agent = make_agent()
    before = copy.deepcopy(agent)
    agent.update(filled_replay().sample(4), model_only=True)
    for a, b in zip(agent.actor.parameters(), before.actor.parameters()):
        assert torch.equal(a, b)
    for a, b in zip(agent.critic.parameters(), before.critic.parameters()):
        assert torch.equal(a, b)
    assert torch.equal(agent.log_alpha, before.log_alpha)
    assert any(not torch.equal(a, b) for a, b in zip(agent.model.parameters(), before.model.parameters()))


def test_policy_history_at_episode_start_repeats_the_first_frame_with_zero_actions():
    agent = make_agent()
    policy = HistoryPolicy(agent)
    first = np.random.default_rng(0).integers(0, 256, (3, 64, 64), dtype=np.uint8)
    policy.start(first)
    assert all(np.array_equal(f, first) for f in policy.frames) and len(policy.frames) == 8
    assert all(np.all(a == 0) for a in policy.actions) and len(policy.actions) == 7
    action = policy.act(deterministic=True)
    features = agent.encode_frames(first[None]).repeat(8, 1)
    expected, _ = agent.actor(actor_input(features[None], torch.zeros(1, 7, 2)), deterministic=True)
    expected = expected.detach()
    np.testing.assert_allclose(action, expected[0].numpy(), atol=1e-6)
    np.testing.assert_allclose(act_on_history(agent, np.stack([first] * 8), np.zeros((7, 2)), deterministic=True),
                               expected[0].numpy(), atol=1e-6)


def test_policy_matches_the_padded_training_window_after_a_few_steps_and_after_reset():
    agent = make_agent()
    buffer = filled_replay(episodes=(3,))
    window = buffer.gather(np.array([buffer.total - 1]))  # 3 transitions into the episode
    policy = HistoryPolicy(agent)
    policy.start(buffer.frames[0])
    for t in range(1, 4):
        policy.observe(buffer.actions[t], buffer.frames[t])
    np.testing.assert_array_equal(np.stack(policy.frames), window.images[0, 1:].numpy())
    np.testing.assert_array_equal(np.stack(policy.actions), window.actions[0, 1:].numpy())
    features = agent.encode_frames(window.images[0, 1:].numpy())
    torch.manual_seed(0)
    expected = agent.actor(actor_input(features[None], window.actions[:1, 1:]))[0]
    torch.manual_seed(0)
    np.testing.assert_allclose(policy.act(), expected[0].detach().numpy(), atol=1e-5)
    policy.start(buffer.frames[2])  # a new episode forgets the old history
    assert all(np.array_equal(f, buffer.frames[2]) for f in policy.frames)
    assert all(np.all(a == 0) for a in policy.actions)


def test_policy_encodes_only_new_frames_while_the_model_is_unchanged():
    agent = make_agent()
    calls = []
    original = agent.encode_frames
    agent.encode_frames = lambda frames: calls.append(len(frames)) or original(frames)
    policy = HistoryPolicy(agent)
    frame = np.zeros((3, 64, 64), np.uint8)
    policy.reset(frame)
    policy.step(frame + 1)
    policy.step(frame + 2)
    assert calls == [1, 1, 1]
    agent.model_version += 1  # a model update: the cached features are stale
    policy.step(frame + 3)
    assert calls[-1] == 8


def test_act_rejects_a_wrong_history_shape():
    agent = make_agent()
    with pytest.raises(ValueError, match="8 frames"):
        act_on_history(agent, np.zeros((7, 3, 64, 64), np.uint8), np.zeros((7, 2)))
