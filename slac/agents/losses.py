"""The actor-critic losses of SLAC (eq. 8-10) and the temperature's, as pure functions: tensors in,
named tensors out. Every agent (SLAC and the SAC baselines) computes its terms with these; for
discrete actions, the same equations with expectations over the policy's probabilities
(Christodoulou 2019, "Soft Actor-Critic for Discrete Action Settings")."""

from __future__ import annotations

import torch

from slac.agents.networks import CategoricalActor, DiscreteTwinCritic, TanhGaussianActor, TwinCritic


def critic_loss(
    critic: TwinCritic,
    critic_target: TwinCritic,
    actor: TanhGaussianActor,
    z: torch.Tensor,
    action: torch.Tensor,
    reward: torch.Tensor,
    terminal: torch.Tensor,
    next_z: torch.Tensor,
    next_history: torch.Tensor,
    alpha: torch.Tensor,
    gamma: float,
) -> dict[str, torch.Tensor]:
    """Eq. 8-9: 1/2 (Q(z_tau, a_tau) - (r_tau + gamma V(z_tau+1)))^2 for each critic, summed;
    V(z_tau+1) = E_{a ~ pi(.|x_1:tau+1, a_1:tau)}[min_i Q'_i(z_tau+1, a) - alpha log pi(a|.)].

    z, next_z are consecutive samples of one filtered sequence (detached); a true terminal cuts
    the bootstrap, a time limit does not.
    """
    with torch.no_grad():
        next_action, next_log_pi = actor(next_history)
        next_q = torch.min(*critic_target(next_z, next_action))
        next_value = next_q - alpha * next_log_pi
        target = reward + gamma * (1.0 - terminal) * next_value
    q1, q2 = critic(z, action)
    loss = 0.5 * ((q1 - target) ** 2).mean() + 0.5 * ((q2 - target) ** 2).mean()
    return {"critic_loss": loss, "q1": q1.detach().mean(), "q2": q2.detach().mean(), "target_q": target.mean()}


def actor_loss(
    actor: TanhGaussianActor, critic: TwinCritic, z: torch.Tensor, history: torch.Tensor, alpha: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Eq. 10: E_{a ~ pi(.|x_1:tau, a_1:tau-1)}[alpha log pi(a|.) - min_i Q_i(z_tau, a)] (reparameterised).
    Also the entropy estimate -log pi of these samples and its parts (TanhGaussianActor.sample_with_parts)."""
    action, log_pi, parts = actor.sample_with_parts(history)
    q = torch.min(*critic(z, action))
    loss = (alpha * log_pi - q).mean()
    return {"actor_loss": loss, "entropy": -log_pi.detach().mean(), **parts}


def alpha_loss(log_alpha: torch.Tensor, log_pi: torch.Tensor, target_entropy: float) -> dict[str, torch.Tensor]:
    """Temperature: log_alpha * stopgrad(-log pi(a|h) - target_entropy), so alpha rises when the
    policy's entropy is below the target and falls when above."""
    loss = (log_alpha * (-log_pi.detach() - target_entropy)).mean()
    return {"alpha_loss": loss}


def discrete_critic_loss(
    critic: DiscreteTwinCritic,
    critic_target: DiscreteTwinCritic,
    actor: CategoricalActor,
    z: torch.Tensor,
    action: torch.Tensor,
    reward: torch.Tensor,
    terminal: torch.Tensor,
    next_z: torch.Tensor,
    next_history: torch.Tensor,
    alpha: torch.Tensor,
    gamma: float,
) -> dict[str, torch.Tensor]:
    """Eq. 8-9 for discrete actions (Christodoulou 2019): the soft value is an expectation over the
    policy's probabilities instead of a sample, V(z_tau+1) = sum_a pi(a|.) [min_i Q'_i(z_tau+1)_a
    - alpha log pi(a|.)]; the critic is read at the one-hot action taken, Q_i(z_tau)_a_tau."""
    with torch.no_grad():
        probs, log_probs = actor.distribution(next_history)
        next_q = torch.min(*critic_target(next_z))  # (B, n)
        next_value = (probs * (next_q - alpha * log_probs)).sum(-1)
        target = reward + gamma * (1.0 - terminal) * next_value
    q1, q2 = ((q * action).sum(-1) for q in critic(z))
    loss = 0.5 * ((q1 - target) ** 2).mean() + 0.5 * ((q2 - target) ** 2).mean()
    return {"critic_loss": loss, "q1": q1.detach().mean(), "q2": q2.detach().mean(), "target_q": target.mean()}


def discrete_actor_loss(
    actor: CategoricalActor, critic: DiscreteTwinCritic, z: torch.Tensor, history: torch.Tensor, alpha: torch.Tensor
) -> dict[str, torch.Tensor]:
    """Eq. 10 for discrete actions: sum_a pi(a|x_1:tau, a_1:tau-1) [alpha log pi(a|.) - min_i Q_i(z_tau)_a],
    the expectation computed exactly (no sample, no reparameterisation); Q is a constant here. Also
    the policy's entropy -sum_a pi log pi, per history (B,) for the temperature and as a mean."""
    probs, log_probs = actor.distribution(history)
    with torch.no_grad():
        q = torch.min(*critic(z))
    loss = (probs * (alpha * log_probs - q)).sum(-1).mean()
    entropy = -(probs * log_probs).sum(-1).detach()
    return {"actor_loss": loss, "entropy": entropy.mean(), "entropy_per_history": entropy}
