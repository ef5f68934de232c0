import os
import signal
import threading

import numpy as np
from helpers import TINY

from slac.common.checkpoint import list_checkpoints
from slac.common.seeds import EVAL_EPISODES, episode_seed
from slac.envs import make_env
from slac.run.logging import read_csv
from slac.run.trainer import SLAC, random_policy_returns


def test_true_terminals_are_stored_and_cut_windows(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "task": "toy/reach-terminal", "init_steps": 300})
    toy = run.env.unwrapped

    class TowardGoal:  # the collection's "random" actions head for the goal, so episodes end at it
        bit_generator = np.random.default_rng(0).bit_generator  # checkpoints save its state

        def uniform(self, low, high, size):
            return np.clip((toy._goal - toy._pos) / toy.speed, low, high)

    run.rng = TowardGoal()
    run.learn(300, progress=False)
    replay = run.replay
    terminal_frames = np.flatnonzero(replay.terminals[: replay.total])
    assert len(terminal_frames) > 5, "every episode heads for the goal and ends there"
    for frame in terminal_frames:  # a terminal frame is always its episode's last
        assert frame + 1 == replay.total or replay.episode_start[frame + 1] == frame + 1
    ends = replay.sample_ends(2000)
    batch = replay.gather(ends)
    assert batch.terminals[:, :-1].sum() == 0  # a terminal can only be a window's last transition
    np.testing.assert_array_equal(batch.terminals[:, -1].numpy(), replay.terminals[ends].astype(np.float32))


def test_a_users_gymnasium_env_trains(tmp_path):
    env = make_env("toy/reach", seed=0)
    run = SLAC(env, run_dir=tmp_path / "r", **{k: v for k, v in TINY.items() if k != "task"})
    run.learn(160, progress=False)
    assert run.counters["env_steps"] == 160 and run.counters["updates"] == 130
    # No eval env of its own: evaluations wait for episode ends (toy episodes last 50 steps).
    steps = [row["env_step"] for row in read_csv(tmp_path / "r" / "eval.csv")]
    assert steps[:3] == [0, 50, 100] and all(s % 50 == 0 for s in steps)
    episode_starts = np.flatnonzero(run.replay.episode_start[: run.replay.total] == np.arange(run.replay.total))
    assert np.all(np.diff(episode_starts) == 51)  # every training episode ran whole: 50 steps + first frame


def test_sigint_stops_cleanly_with_a_checkpoint(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    timer = threading.Timer(1.5, lambda: os.kill(os.getpid(), signal.SIGINT))
    timer.start()
    run.learn(10**6, progress=False)
    timer.cancel()
    assert run.interrupted
    checkpoints = list_checkpoints(tmp_path / "r")
    assert checkpoints and checkpoints[-1].name == f"step_{run.counters['env_steps']:09d}.pt"
    resumed = SLAC.load(tmp_path / "r")
    assert resumed.counters == run.counters


def test_random_policy_baseline_is_reproducible():
    env = make_env("toy/reach")
    np.testing.assert_array_equal(random_policy_returns(env, 3, 0), random_policy_returns(env, 3, 0))


def _first_observations(env, seed: int, evaluation: int, episodes: int) -> list[np.ndarray]:
    return [env.reset(seed=episode_seed(seed, EVAL_EPISODES, evaluation, k))[0] for k in range(episodes)]


def test_each_evaluation_draws_new_starts_and_the_random_baseline_shares_them(monkeypatch):
    """As the authors' evaluation env, every evaluation sees new episode starts (drawn from the seed
    and the evaluation's env step); the same step gives the same starts, and the random policy's
    baseline for an evaluation runs on that evaluation's starts."""
    env = make_env("toy/reach")
    at_0, at_10k = _first_observations(env, 0, 0, 4), _first_observations(env, 0, 10_000, 4)
    assert all(not np.array_equal(a, b) for a, b in zip(at_0, at_10k))
    assert all(np.array_equal(a, b) for a, b in zip(at_10k, _first_observations(env, 0, 10_000, 4)))

    resets = []
    reset = env.reset
    monkeypatch.setattr(env, "reset", lambda seed=None, **kw: resets.append(seed) or reset(seed=seed, **kw))
    random_policy_returns(env, 3, 0, evaluation=10_000)
    assert resets == [episode_seed(0, EVAL_EPISODES, 10_000, k) for k in range(3)]

    run = SLAC(**{**TINY, "eval_episodes": 3})
    run.eval_env = env
    for step in (0, 10_000):
        resets.clear()
        run.progress.env_steps = step
        run.evaluate()
        assert resets == [episode_seed(0, EVAL_EPISODES, step, k) for k in range(3)]


def test_keep_eval_checkpoints_keeps_the_networks_of_every_evaluation(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "keep_eval_checkpoints": True, "keep_checkpoints": 1,
                                           "checkpoint_interval": 50})
    run.learn(150, progress=False)
    kept = sorted(p.name for p in (tmp_path / "r" / "checkpoints" / "evaluations").glob("*.pt"))
    assert kept == [f"step_{s:09d}.pt" for s in (0, 50, 100, 150)]
    assert len(list_checkpoints(tmp_path / "r")) == 1  # pruning leaves the evaluations' checkpoints alone
    at_100 = SLAC.load(tmp_path / "r", checkpoint=tmp_path / "r" / "checkpoints" / "evaluations" / kept[2],
                       replay=False)
    assert at_100.counters["env_steps"] == 100


def test_progress_is_typed_and_counters_is_its_read_only_view(tmp_path):
    import pytest

    from slac.run.progress import Progress

    run = SLAC(run_dir=tmp_path / "r", **TINY)
    run.learn(60, progress=False)
    assert isinstance(run.progress, Progress) and run.progress.env_steps == 60
    assert dict(run.counters) == run.progress.state()
    with pytest.raises(TypeError):
        run.counters["env_steps"] = 0  # a view: the run's progress changes only through run.progress
    with pytest.raises(ValueError, match="unknown progress counters"):
        Progress().load_state({"env_step": 3})
    run.close()


def test_steps_per_s_counts_neither_pretraining_nor_evaluations(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from slac.run import loop

    now = [0.0]

    def perf_counter() -> float:  # a clock that ticks 10 ms a reading, and 1,000 s in pretraining and evaluations
        now[0] += 0.01
        return now[0]

    def slow(method):
        def wrapped(self):
            method(self)
            now[0] += 1000.0
        return wrapped

    monkeypatch.setattr(loop, "time", SimpleNamespace(perf_counter=perf_counter))
    monkeypatch.setattr(loop.TrainingLoop, "pretrain", slow(loop.TrainingLoop.pretrain))
    monkeypatch.setattr(loop.TrainingLoop, "evaluate", slow(loop.TrainingLoop.evaluate))
    SLAC(run_dir=tmp_path / "r", **TINY).learn(120, progress=False)
    rates = [row["steps_per_s"] for row in read_csv(tmp_path / "r" / "metrics.csv") if row["phase"] == "train"]
    assert len(rates) >= 8 and min(rates) > 10, rates  # 10 env steps over a few clock readings, never 1,000 s
