"""Offline study of a policy dive from a run's kept evaluation checkpoints.

    python scripts/dive_study.py RUN_DIR BEFORE.pt AFTER.pt [--windows 256] [--seed 0]

For SLAC and its `sac-state` baseline. On one fixed set of replay windows (drawn from the frames
both checkpoints had seen), for the checkpoint before a dive (A) and the one after it (B):

- the policy, as its entropy estimate -log pi, the fraction of pre-tanh samples with |u| > 2
  (`saturation`) and the mean |action| of the deterministic policy, for each actor on each
  checkpoint's encoder features (A on A, A on B, B on A, B on B). If actor A is saturated on
  B's features the representation moved the policy; if actor B is saturated on A's features,
  the actor's own weights did.
- the critic, on its own checkpoint's inputs (SLAC: latent samples; `sac-state`: the state
  history): min-Q over a grid of actions (21 per dimension for 1-2 dimensional actions, else 1,024
  uniform draws), the fraction of windows whose best grid action lies on the action box's boundary,
  the spread max-min of Q over the grid, how far the policy's deterministic action falls short of
  the grid's best Q, the spread against the temperature alpha (what pulls the actor to the
  edges against the entropy bonus), the std of Q at the policy's action over 8 latent samples of
  the same window (SLAC's posterior noise, beside the spread; 0 for a state critic), and the
  action's share of the first Q-network's input layer: the std of its pre-activations from the
  grid's actions over the std from the windows' critic inputs.

Prints one markdown table per part. Loads the checkpoints read-only and opens the replay files
without writing, so a run may keep training in the same directory while this reads it.
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import numpy as np
import torch

from slac.agents import build_agent, observation_kind
from slac.agents.base import ActorCriticAgent, actor_input
from slac.common.checkpoint import load_checkpoint
from slac.config import Config
from slac.replay import SequenceBatch, SequenceReplay


def load_agent(path: Path) -> tuple[ActorCriticAgent, dict]:
    """The agent of a checkpoint (CPU, eval mode) and its metadata."""
    tensors, meta = load_checkpoint(path)
    config = Config.from_dict({**meta["config"], "device": "cpu"})
    if config.agent not in ("slac", "sac-state") or meta.get("discrete"):
        raise SystemExit(f"{path}: this study reads SLAC and sac-state agents with continuous actions")
    agent = build_agent(config, meta["action_dim"], "cpu", tuple(meta["observation_shape"]))
    agent.load_state_dict(tensors["agent"])
    return agent.eval(), meta


def probe_windows(run_dir: Path, agent: ActorCriticAgent, meta: dict, windows: int, seed: int) -> SequenceBatch:
    """`windows` uniformly drawn replay windows of `agent`'s length among the frames written before
    `meta`'s checkpoint."""
    capacity, position = agent.config.replay_capacity, meta["replay"]
    frame_dtype = np.float32 if observation_kind(agent.config) == "state" else np.uint8
    replay = SequenceReplay(capacity, tuple(meta["observation_shape"]), meta["action_dim"],
                            seq_len=agent.seq_len, slack=int(position["slots"]) - capacity,
                            frame_dtype=frame_dtype)
    replay.restore(run_dir / "replay", position)
    return replay.gather(replay.sample_ends(windows, rng=np.random.default_rng(seed)))


def action_grid(action_dim: int, seed: int) -> torch.Tensor:
    """(G, A) actions covering [-1, 1]^A: a 21-point grid per dimension up to 2 dimensions, else random."""
    if action_dim <= 2:
        ticks = np.linspace(-1.0, 1.0, 21)
        return torch.tensor(list(itertools.product(ticks, repeat=action_dim)), dtype=torch.float32)
    return torch.rand(1024, action_dim, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@torch.no_grad()
def encode(agent: ActorCriticAgent, batch: SequenceBatch) -> torch.Tensor:
    """Per-frame features (B, T+1, F): SLAC's encoder, or sac-state's state as floats."""
    if agent.has_model:
        return agent.model.encode_pixels(batch.images).float()
    return agent.features(batch.images)


def actor_history(agent: ActorCriticAgent, features: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """The actor's input at tau as in training: SLAC's x_1:tau and a_1:tau-1, sac-state's o_1:tau."""
    if agent.has_model:
        if agent.config.actor_input != "history":
            raise SystemExit("this study reads SLAC agents whose actor sees the history (the paper's)")
        return actor_input(features[:, :-1], actions[:, :-1])
    return features[:, :-1].flatten(1)


@torch.no_grad()
def critic_input(agent: ActorCriticAgent, batch: SequenceBatch, features: torch.Tensor, seed: int) -> torch.Tensor:
    """The critic's input at tau: SLAC's latent sample z_tau (fixed noise), sac-state's o_1:tau."""
    if not agent.has_model:
        return features[:, :-1].flatten(1)
    if agent.config.critic_input != "latent":
        raise SystemExit("this study reads SLAC agents whose critic sees latent samples (the paper's)")
    torch.manual_seed(seed)
    return agent.model.latent_samples(features, batch.actions, batch.resets)[:, -2]


@torch.no_grad()
def policy_stats(agent: ActorCriticAgent, features: torch.Tensor, actions: torch.Tensor, seed: int) -> dict[str, float]:
    """Entropy estimate, saturation and mean |deterministic action| of `agent`'s actor on histories
    of these features (B, T+1, F) and actions (B, T, A)."""
    history = actor_history(agent, features, actions)
    torch.manual_seed(seed)
    _, log_pi, parts = agent.actor.sample_with_parts(history)
    mean_action, _ = agent.actor(history, deterministic=True)
    return {"entropy": float(-log_pi.mean()), "saturation": float(parts["saturation"]),
            "|mean action|": float(mean_action.abs().mean())}


@torch.no_grad()
def critic_stats(agent: ActorCriticAgent, batch: SequenceBatch, features: torch.Tensor, seed: int) -> dict[str, float]:
    """The critic's landscape over actions on its own inputs, and the temperature beside it."""
    x = critic_input(agent, batch, features, seed)  # (B, D)
    grid = action_grid(agent.action_dim, seed)  # (G, A)
    b, g = x.shape[0], grid.shape[0]
    q = agent.q_value(x.repeat_interleave(g, 0), grid.repeat(b, 1)).view(b, g)
    best = q.argmax(-1)
    on_boundary = (grid[best].abs() >= 1.0 - 1e-6).any(-1).float()
    mean_action, _ = agent.actor(actor_history(agent, features, batch.actions), deterministic=True)
    q_policy = agent.q_value(x, mean_action)
    spread = q.max(-1).values - q.min(-1).values
    alpha = float(agent.alpha)
    # How much Q moves with the latent sample alone (SLAC's posterior noise; none for a state critic).
    redrawn = torch.stack([agent.q_value(critic_input(agent, batch, features, seed + k), mean_action) for k in range(8)])
    first = agent.critic.q1.net[0].weight  # (H, D + A): the input layer of the first Q-network
    from_input = (x @ first[:, :-agent.action_dim].T).std(0).mean()
    from_action = (grid @ first[:, -agent.action_dim:].T).std(0).mean()
    return {"mean Q": float(q.mean()), "best on boundary": float(on_boundary.mean()), "Q spread": float(spread.mean()),
            "best Q - Q(policy)": float((q.max(-1).values - q_policy).mean()), "alpha": alpha,
            "spread / alpha": float(spread.mean()) / alpha,
            "Q std over z samples": float(redrawn.std(0).mean()), "action share": float(from_action / from_input)}


def table(rows: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(rows.values())))
    lines = ["| | " + " | ".join(names) + " |", "| --- " * (len(names) + 1) + "|"]
    lines += [f"| {label} | " + " | ".join(f"{row[n]:.3f}" for n in names) + " |" for label, row in rows.items()]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--windows", type=int, default=256)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    agents = {}
    for label, path in (("A", args.before), ("B", args.after)):
        agents[label], meta = load_agent(path)
    batch = probe_windows(args.run_dir, agents["B"], meta, args.windows, args.seed)
    features = {label: encode(agent, batch) for label, agent in agents.items()}
    print(f"A = {args.before.name}, B = {args.after.name}; {args.windows} windows of the replay before B\n")
    print(table({f"actor {a} on features {f}": policy_stats(agents[a], features[f], batch.actions, args.seed)
                 for a in agents for f in agents}))
    print()
    print(table({f"critic {a}": critic_stats(agents[a], batch, features[a], args.seed) for a in agents}))


if __name__ == "__main__":
    main()
