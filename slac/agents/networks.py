"""The actor and critic networks (the paper's section 5 and appendix): a tanh-Gaussian or
categorical actor and twin Q-functions, MLPs 256-256 with ReLU. They read latent samples or
feature histories; no latent model uses them."""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from slac.models.nets import gaussian_log_prob, mlp


class TanhGaussianActor(nn.Module):
    """pi(a | input): MLP 256-256 ReLU -> mean, log std (clipped); a = tanh(u), u ~ N(mean, std^2)."""

    def __init__(self, in_dim: int, action_dim: int, hidden: int = 256, log_std_min: float = -20.0, log_std_max: float = 2.0):
        super().__init__()
        self.net = mlp(in_dim, 2 * action_dim, hidden)
        self.log_std_min, self.log_std_max = log_std_min, log_std_max

    def forward(self, x: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns (action in (-1, 1), log pi(action)) with the tanh change-of-variables term."""
        if deterministic:
            mean, _ = self.gaussian(x)
            return torch.tanh(mean), torch.zeros_like(mean[..., 0])
        action, gaussian, log_det, _, _ = self._sample(x)
        return action, (gaussian - log_det).sum(-1)

    def sample_with_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """A sampled action, its log pi, and (detached) what makes the entropy -log pi: `entropy_gaussian`
        (-log N(u; mean, std), summed over actions) plus `entropy_tanh` (sum of log(1 - tanh(u)^2) <= 0),
        the mean `log_std`, and the `saturation`: the fraction of pre-tanh samples with |u| > 2. A falling
        entropy then reads as a shrinking std (the first) or as actions pushed into tanh's flat ends."""
        action, gaussian, log_det, log_std, u = self._sample(x)
        log_pi = (gaussian - log_det).sum(-1)
        with torch.no_grad():
            parts = {"entropy_gaussian": -gaussian.sum(-1).mean(), "entropy_tanh": log_det.sum(-1).mean(),
                     "log_std": log_std.mean(), "saturation": (u.abs() > 2.0).float().mean()}
        return action, log_pi, parts

    def gaussian(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gaussian over pre-tanh actions: (mean, log std clipped to [log_std_min, log_std_max])."""
        mean, log_std = self.net(x).chunk(2, dim=-1)
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)

    def with_noise(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Both actions for given standard-normal `noise` (what an ONNX graph computes): tanh(mean),
        tanh(mean + std * noise), and the Gaussian's mean and log std."""
        mean, log_std = self.gaussian(x)
        return torch.tanh(mean), torch.tanh(mean + log_std.exp() * noise), mean, log_std

    def _sample(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """action = tanh(u), u ~ N(mean, std^2) reparameterised; log N(u) and log(1 - tanh(u)^2) per action."""
        mean, log_std = self.gaussian(x)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        # log(1 - tanh(u)^2) = 2 (log 2 - u - softplus(-2u)), numerically stable
        log_det = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))
        return torch.tanh(u), gaussian_log_prob(u, mean, std), log_det, log_std, u


class Critic(nn.Module):
    """Q(input, a): MLP 256-256 ReLU -> scalar."""

    def __init__(self, in_dim: int, action_dim: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = mlp(in_dim + action_dim, 1, hidden)

    def forward(self, x: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([x, action], dim=-1)).squeeze(-1)


class TwinCritic(nn.Module):
    """Two Q-functions on [z1, z2, a] (the clipped double-Q of SAC)."""

    def __init__(self, in_dim: int, action_dim: int, hidden: int) -> None:
        super().__init__()
        self.q1 = Critic(in_dim, action_dim, hidden)
        self.q2 = Critic(in_dim, action_dim, hidden)

    def forward(self, z: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(z, action), self.q2(z, action)


class CategoricalActor(nn.Module):
    """pi(a | input) over n discrete actions: MLP 256-256 ReLU -> logits. Acting returns one-hot
    vectors (what the model, the replay and the history hold), as TanhGaussianActor returns actions."""

    def __init__(self, in_dim: int, n_actions: int, hidden: int = 256) -> None:
        super().__init__()
        self.net = mlp(in_dim, n_actions, hidden)

    def distribution(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities, log-probabilities), each (B, n)."""
        log_probs = F.log_softmax(self.net(x), dim=-1)
        return log_probs.exp(), log_probs

    def forward(self, x: torch.Tensor, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """(one-hot action (B, n): sampled, or the most probable; log pi of it (B,))."""
        probs, log_probs = self.distribution(x)
        index = probs.argmax(-1) if deterministic else torch.multinomial(probs, 1).squeeze(-1)
        one_hot = F.one_hot(index, probs.shape[-1]).to(probs.dtype)
        return one_hot, (log_probs * one_hot).sum(-1)


class DiscreteTwinCritic(nn.Module):
    """Two Q-functions mapping an input to one value per discrete action: Q_i(x) (B, n)."""

    def __init__(self, in_dim: int, n_actions: int, hidden: int) -> None:
        super().__init__()
        self.q1 = mlp(in_dim, n_actions, hidden)
        self.q2 = mlp(in_dim, n_actions, hidden)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q1(x), self.q2(x)
