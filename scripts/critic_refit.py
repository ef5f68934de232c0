"""Refit SLAC's critic from scratch on one checkpoint's frozen model and actor, on different inputs.

    python scripts/critic_refit.py RUN_DIR CHECKPOINT.pt [--windows 8192] [--updates 10000] [--seed 0]

The open question of the ball_in_cup dives: SLAC's critic tells actions apart far less than
`sac-state`'s and points to the action box's edges (`scripts/dive_study.py`). Is that a property of
what the critic sees, or of how it was trained online? Here the model, the actor and alpha are
frozen at one checkpoint; on one fixed set of that run's replay windows, fresh twin critics (the
authors' initialisation, Adam 3e-4, batch 256, tau 0.005, gamma 0.99, the loss of eq. 8-9) are
fitted by TD for the same number of updates, each on one input:

- `latent samples`: [z1, z2] samples of the filtering posterior, one of `--draws` kept per window drawn at
  each update (the paper's critic input; the training run draws a new one every time);
- `latent means`: the filter run on its means (no noise anywhere: the `deterministic` model's path);
- `history`: the actor's own input, 8 encoder features and 7 actions (`critic_input=history`).

On 256 held-out windows, each critic's landscape over a 21 x 21 action grid (as dive_study.py: mean
Q, spread max-min of Q, fraction of windows whose best grid action is on the box's boundary) and its
TD error against its own bootstrap, beside the checkpoint's own critic.
Reads the run directory without writing.
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Callable
from pathlib import Path

import torch
from dive_study import action_grid, load_agent, probe_windows, table
from torch import nn

from slac.agents.base import actor_input, soft_update
from slac.agents.losses import critic_loss
from slac.agents.networks import TwinCritic
from slac.models.nets import authors_init
from slac.replay import SequenceBatch


@torch.no_grad()
def encode_windows(agent, batch: SequenceBatch, chunk: int = 256) -> torch.Tensor:
    """Encoder features (B, T+1, F) of every window's frames, in chunks."""
    return torch.cat([agent.model.encode_pixels(batch.images[i:i + chunk]).float()
                      for i in range(0, batch.images.shape[0], chunk)])


@torch.no_grad()
def latent_pair(agent, features: torch.Tensor, batch: SequenceBatch, stochastic: bool,
                chunk: int = 512) -> torch.Tensor:
    """(B, 2, D): z_tau and z_tau+1 of every window, posterior samples or the filter run on its means."""
    model = agent.model
    saved = model.z1_stochastic, model.z2_stochastic
    model.z1_stochastic = model.z2_stochastic = stochastic
    try:
        z = torch.cat([model.latent_samples(features[i:i + chunk], batch.actions[i:i + chunk], batch.resets[i:i + chunk])
                       for i in range(0, features.shape[0], chunk)])
    finally:
        model.z1_stochastic, model.z2_stochastic = saved
    return z[:, -2:]


def history_pair(features: torch.Tensor, batch: SequenceBatch) -> torch.Tensor:
    """(B, 2, H): the actor's histories at tau and tau+1 of every window."""
    return torch.stack([actor_input(features[:, :-1], batch.actions[:, :-1]),
                        actor_input(features[:, 1:], batch.actions[:, 1:])], dim=1)


def critic_inputs(agent, features: torch.Tensor, batch: SequenceBatch, draws: int, seed: int) -> dict:
    """Input name -> (draws, B, 2, D): the critic's inputs at tau and tau+1 of every window, computed once
    (`draws` posterior samples per window for `latent samples`; an update picks one per window)."""
    torch.manual_seed(seed)
    samples = torch.stack([latent_pair(agent, features, batch, True) for _ in range(draws)])
    return {"latent samples": samples, "latent means": latent_pair(agent, features, batch, False)[None],
            "history": history_pair(features, batch)[None]}


def fit_critic(agent, inputs: torch.Tensor, next_params: torch.Tensor, batch: SequenceBatch, updates: int,
               seed: int, report_every: int, report: Callable[[TwinCritic, int], None]) -> None:
    """A fresh twin critic fitted by TD (eq. 8-9) against the frozen actor (its outputs on the next
    histories, `next_params`, precomputed) and alpha; `inputs` (draws, B, 2, D). `report(critic, n)`
    after every `report_every` updates."""
    torch.manual_seed(seed)
    cfg = agent.config
    critic = TwinCritic(inputs.shape[-1], agent.action_dim, cfg.ac_hidden_dim)
    if cfg.init == "authors":
        critic.apply(authors_init)
    target = copy.deepcopy(critic).requires_grad_(False)
    optimizer = torch.optim.Adam(critic.parameters(), lr=cfg.critic_lr)
    sampler = copy.deepcopy(agent.actor)
    sampler.net = nn.Identity()  # the frozen actor's distribution from its precomputed outputs
    generator = torch.Generator().manual_seed(seed)
    draws, n = inputs.shape[:2]
    for update in range(1, updates + 1):
        idx = torch.randint(0, n, (cfg.ac_batch,), generator=generator)
        pair = inputs[torch.randint(0, draws, (cfg.ac_batch,), generator=generator), idx]
        loss = critic_loss(critic, target, sampler, pair[:, 0], batch.actions[idx, -1], batch.rewards[idx, -1],
                           batch.terminals[idx, -1], pair[:, 1], next_params[idx], agent.alpha,
                           cfg.gamma)["critic_loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        soft_update(target, critic, cfg.tau)
        if update % report_every == 0 or update == updates:
            report(critic, update)


@torch.no_grad()
def landscape(agent, critic: TwinCritic, pair: torch.Tensor, next_history: torch.Tensor,
              batch: SequenceBatch) -> dict[str, float]:
    """Mean Q, spread over the action grid, best grid action on the boundary, and the rms TD error of
    `critic` on held-out windows, `pair` (B, 2, D) (the bootstrap from the critic itself, one draw of the actor)."""
    now, nxt = pair[:, 0], pair[:, 1]
    grid = action_grid(agent.action_dim, 0)
    b, g = now.shape[0], grid.shape[0]
    q = torch.min(*critic(now.repeat_interleave(g, 0), grid.repeat(b, 1))).view(b, g)
    best = grid[q.argmax(-1)]
    torch.manual_seed(0)
    next_action, next_log_pi = agent.actor(next_history)
    bootstrap = torch.min(*critic(nxt, next_action)) - agent.alpha * next_log_pi
    y = batch.rewards[:, -1] + agent.config.gamma * (1 - batch.terminals[:, -1]) * bootstrap
    q_taken = torch.min(*critic(now, batch.actions[:, -1]))
    return {"mean Q": float(q.mean()), "Q spread": float((q.max(-1).values - q.min(-1).values).mean()),
            "best on boundary": float((best.abs() >= 1 - 1e-6).any(-1).float().mean()),
            "TD error (rms)": float(((q_taken - y) ** 2).mean().sqrt())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--windows", type=int, default=8192)
    parser.add_argument("--updates", type=int, default=15000)
    parser.add_argument("--report-every", type=int, default=5000)
    parser.add_argument("--draws", type=int, default=8, help="posterior samples kept per window")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    agent, meta = load_agent(args.checkpoint)
    if not agent.has_model or agent.config.critic_input != "latent" or agent.config.actor_input != "history":
        raise SystemExit("this study reads SLAC agents with the paper's inputs (latent critic, history actor)")
    agent.requires_grad_(False)
    start = time.time()
    train = probe_windows(args.run_dir, agent, meta, args.windows, args.seed)
    held = probe_windows(args.run_dir, agent, meta, 256, args.seed + 10_000)
    train_features, held_features = encode_windows(agent, train), encode_windows(agent, held)
    train_inputs = critic_inputs(agent, train_features, train, args.draws, args.seed)
    held_inputs = critic_inputs(agent, held_features, held, 1, args.seed)
    with torch.no_grad():
        next_params = agent.actor.net(train_inputs["history"][0, :, 1])
    held_next_history = held_inputs["history"][0, :, 1]
    print(f"{args.checkpoint.name}: alpha {float(agent.alpha):.4f}; {args.windows} training windows "
          f"({args.draws} posterior draws each), 256 held out; inputs in {time.time() - start:.0f} s")
    rows = {"checkpoint's own critic (latent samples)":
            landscape(agent, agent.critic, held_inputs["latent samples"][0], held_next_history, held)}
    for name, inputs in train_inputs.items():
        start = time.time()

        def report(critic: TwinCritic, update: int, name: str = name) -> None:
            label = f"refit on {name}, {update} updates"
            rows[label] = landscape(agent, critic, held_inputs[name][0], held_next_history, held)
            print(f"  {label}: " + ", ".join(f"{k} {v:.3f}" for k, v in rows[label].items()), flush=True)

        fit_critic(agent, inputs, next_params, train, args.updates, args.seed, args.report_every, report)
        print(f"  {name}: {time.time() - start:.0f} s", flush=True)
    print()
    print(table(rows))


if __name__ == "__main__":
    main()
