"""How far a run's critic overestimates its policy's return, at each kept evaluation checkpoint.

    python scripts/value_bias.py RUN_DIR [--episodes 2] [--first 50] [--fresh]

For SLAC and its `sac-state` baseline. At each evaluation checkpoint C of a run kept with
`keep_eval_checkpoints=true`, the episodes the run collected right after C (the policy of C and the
few hundred updates after it) are read back from the replay; with `--fresh`, new episodes of C's own
policy, fixed, are run on the starts of C's evaluation instead. At each of their first `--first`
transitions (s_t, a_t), C's critic gives min-Q(s_t, a_t) on its own inputs (SLAC: one posterior
sample); the episode gives the soft return that Q estimates, G_t = r_t + sum_k gamma^k (r_t+k -
alpha log pi(a_t+k | h_t+k)) with C's alpha and C's actor (a fresh sample's log pi at each step). An
episode ends at its time limit, so the tail after its last step is bootstrapped with C's own Q there
(weight gamma^(T - t), 0.13 or less at t < 50 of 250 steps); the return without that tail is a lower
bound beside it. A critic whose Q stands far above G of the states its policy reaches is one the
actor can exploit (the clipped double-Q of SAC is there to prevent that).

Reads the run directory without writing (the replay at its latest checkpoint's position).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch
from dive_study import actor_history, critic_input, encode, load_agent, table

from slac.agents import observation_kind
from slac.agents.base import ActorCriticAgent
from slac.common.checkpoint import load_checkpoint
from slac.common.seeds import EVAL_EPISODES, EVALUATION, episode_seed, own_random_stream
from slac.envs import make_env
from slac.policy.history import HistoryPolicy
from slac.replay import SequenceReplay


def latest_replay(run_dir: Path, agent: ActorCriticAgent) -> SequenceReplay:
    """The run's replay at the position of its newest checkpoint (the furthest the files are known good)."""
    newest = max((run_dir / "checkpoints").glob("step_*.pt"))
    _, meta = load_checkpoint(newest)
    position, capacity = meta["replay"], agent.config.replay_capacity
    frame_dtype = np.float32 if observation_kind(agent.config) == "state" else np.uint8
    replay = SequenceReplay(capacity, tuple(meta["observation_shape"]), meta["action_dim"], seq_len=agent.seq_len,
                            slack=int(position["slots"]) - capacity, frame_dtype=frame_dtype)
    replay.restore(run_dir / "replay", position)
    return replay


def episodes_after(replay: SequenceReplay, total: int, count: int) -> list[tuple[int, int]]:
    """(first frame, last frame), absolute indices, of the first `count` complete episodes begun at or after
    frame `total`."""
    frames = np.arange(max(total, replay.oldest), replay.total)
    starts = frames[replay.episode_start[frames % replay.slots] == frames]
    return [(int(a), int(b) - 1) for a, b in zip(starts[:-1], starts[1:])][:count]


@torch.no_grad()
def critic_against_return(agent: ActorCriticAgent, replay: SequenceReplay, episode: tuple[int, int], first: int,
                          seed: int) -> dict[str, np.ndarray]:
    """Q(s_t, a_t), the soft return G_t (tail bootstrapped with Q) and G_t without the tail, for t < `first`."""
    start, last = episode
    batch = replay.gather(np.arange(start + 1, last + 1))  # window j ends with the transition s_t -> s_t+1, t = j - 1
    features = encode(agent, batch)
    q = agent.q_value(critic_input(agent, batch, features, seed), batch.actions[:, -1]).double()
    torch.manual_seed(seed)
    _, log_pi = agent.actor(actor_history(agent, features, batch.actions))
    soft_bonus = -float(agent.alpha) * log_pi.double()  # -alpha log pi(a_t | h_t), t = 0..T-1
    rewards, gamma = batch.rewards[:, -1].double(), agent.config.gamma
    returns = {}
    for name, tail in (("G", q[-1] - rewards[-1]), ("G without tail", 0.0)):
        g = torch.empty_like(q)
        g[-1] = rewards[-1] + tail  # Q(s_T-1, a_T-1) itself when bootstrapped
        for t in range(len(g) - 2, -1, -1):
            g[t] = rewards[t] + gamma * (soft_bonus[t + 1] + g[t + 1])
        returns[name] = g[:first].numpy()
    return {"Q": q[:first].numpy(), **returns, "reward": rewards.numpy()}


def fresh_episodes(agent: ActorCriticAgent, env_step: int, count: int) -> tuple[SequenceReplay, list[tuple[int, int]]]:
    """`count` episodes of `agent`'s stochastic policy, fixed, on the starts of its own evaluation at
    `env_step`, in an in-memory replay (so windows are padded as in training), and their (first, last) frames."""
    config = agent.config
    env = make_env(config.task, image_size=config.image_size, action_repeat=config.resolved_action_repeat(),
                   fast_render=config.fast_render, observation=observation_kind(config))
    frame_dtype = np.float32 if observation_kind(config) == "state" else np.uint8
    replay = None
    episodes = []
    with own_random_stream(torch.device("cpu"), episode_seed(config.seed, EVALUATION, env_step)):
        for k in range(count):
            obs, _ = env.reset(seed=episode_seed(config.seed, EVAL_EPISODES, env_step, k))
            if replay is None:
                replay = SequenceReplay(100_000, obs.shape, agent.action_dim, seq_len=agent.seq_len, frame_dtype=frame_dtype)
            policy = HistoryPolicy(agent)
            policy.start(obs)
            replay.start_episode(obs)
            first, done = replay.total - 1, False
            while not done:
                action = policy.act()
                obs, reward, terminated, truncated, _ = env.step(action)
                policy.observe(action, obs)
                replay.add(np.asarray(action, np.float32), float(reward), obs, bool(terminated))
                done = terminated or truncated
            episodes.append((first, replay.total - 1))
    env.close()
    return replay, episodes


def evaluation_returns(run_dir: Path) -> dict[int, float]:
    """env step -> the stochastic evaluation return of eval.csv."""
    with open(run_dir / "eval.csv") as f:
        return {int(row["env_step"]): float(row["return_stochastic"]) for row in csv.DictReader(f)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--episodes", type=int, default=2, help="episodes after each checkpoint")
    parser.add_argument("--first", type=int, default=50, help="transitions from each episode's start")
    parser.add_argument("--fresh", action="store_true",
                        help="run each checkpoint's own policy, fixed, on its evaluation's starts instead of reading "
                             "the replay's next episodes")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    checkpoints = sorted((args.run_dir / "checkpoints" / "evaluations").glob("step_*.pt"))
    if not checkpoints:
        raise SystemExit(f"{args.run_dir}: no evaluation checkpoints (the run needs keep_eval_checkpoints=true)")
    evaluations = evaluation_returns(args.run_dir)
    replay, rows = None, {}
    for path in checkpoints:
        agent, meta = load_agent(path)
        if agent.has_model and agent.config.critic_input != "latent":
            raise SystemExit("this study reads SLAC agents whose critic sees latent samples (the paper's)")
        env_step = int(meta["counters"]["env_steps"])
        if env_step == 0:
            continue
        if args.fresh:
            source, episodes = fresh_episodes(agent, env_step, args.episodes)
        else:
            replay = replay or latest_replay(args.run_dir, agent)
            source, episodes = replay, episodes_after(replay, int(meta["replay"]["total"]), args.episodes)
        if not episodes:
            continue
        parts = [critic_against_return(agent, source, e, args.first, args.seed) for e in episodes]
        joined = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        rows[f"{env_step:,}"] = {
            "evaluation": evaluations.get(env_step, float("nan")), "alpha": float(agent.alpha),
            "episode returns": float(np.mean([p["reward"].sum() for p in parts])), "Q": float(joined["Q"].mean()),
            "G": float(joined["G"].mean()), "G without tail": float(joined["G without tail"].mean()),
            "Q - G": float((joined["Q"] - joined["G"]).mean()),
            "corr(Q, G)": float(np.corrcoef(joined["Q"], joined["G"])[0, 1]),
        }
    source = "fresh episodes of each checkpoint's fixed policy" if args.fresh else "episodes after each checkpoint"
    if not rows:
        raise SystemExit(f"{args.run_dir}: no kept evaluation checkpoint has {args.episodes} whole episode(s) after it "
                         "in the replay; run with --fresh to play new ones")
    print(f"{args.run_dir.name}: the first {args.first} transitions of {args.episodes} {source}\n")
    print(table(rows))


if __name__ == "__main__":
    main()
