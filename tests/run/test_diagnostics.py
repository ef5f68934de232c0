"""Diagnostics of the falls: the entropy read in parts, and the drift of the
representation on a fixed probe batch."""

import math

import numpy as np
import pytest
import torch
from helpers import TINY, filled_replay, tiny_config

from slac.agents import build_agent
from slac.agents.networks import TanhGaussianActor
from slac.run.drift import DriftProbe
from slac.run.logging import read_csv
from slac.run.trainer import SLAC


def test_entropy_parts_add_up_to_the_entropy_and_read_saturation():
    torch.manual_seed(0)
    actor = TanhGaussianActor(5, 3, hidden=16)
    x = torch.randn(4096, 5)
    _, log_pi, parts = actor.sample_with_parts(x)
    assert torch.allclose(-log_pi.mean(), parts["entropy_gaussian"] + parts["entropy_tanh"], atol=1e-4)
    assert parts["entropy_tanh"] <= 0 and 0 <= parts["saturation"] <= 1
    # A policy whose means sit far out in tanh's flat ends: every sample saturated, a large tanh term.
    with torch.no_grad():
        actor.net[-1].bias[:3] = 5.0
        actor.net[-1].bias[3:] = math.log(0.1)
        actor.net[-1].weight.zero_()
    _, _, parts = actor.sample_with_parts(x)
    assert parts["saturation"] > 0.99 and parts["entropy_tanh"] < -3 * 7
    assert abs(float(parts["log_std"]) - math.log(0.1)) < 1e-5
    # The Gaussian part of a N(mean, 0.1^2) in 3 dimensions: 3 (0.5 log(2 pi e) + log 0.1).
    assert abs(float(parts["entropy_gaussian"]) - 3 * (0.5 * math.log(2 * math.pi * math.e) + math.log(0.1))) < 0.1


def test_drift_is_zero_without_an_update_and_leaves_training_randomness_alone():
    config = tiny_config()
    agent = build_agent(config, 2, "cpu", (3, 64, 64))
    replay = filled_replay()
    probe = DriftProbe(seed=0)
    replay_rng, torch_rng = replay.rng.bit_generator.state, torch.get_rng_state()
    assert probe.measure(agent, replay) == {}  # the first row has nothing to compare with
    unchanged = probe.measure(agent, replay)
    assert set(unchanged) == {"drift_features", "drift_latents", "drift_reward", "drift_q"}
    assert all(value == 0.0 for value in unchanged.values())  # fixed windows, fixed noise
    assert replay.rng.bit_generator.state == replay_rng and torch.equal(torch.get_rng_state(), torch_rng)
    agent.update(replay.sample(config.ac_batch))
    moved = probe.measure(agent, replay)
    assert all(value > 0 for value in moved.values())


def test_a_run_logs_entropy_parts_and_drift_from_its_second_training_row(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    run.learn(120, progress=False)
    rows = [r for r in read_csv(tmp_path / "r" / "metrics.csv") if r["phase"] == "train"]
    assert len(rows) >= 3
    assert rows[0]["drift_features"] == ""
    for row in rows[1:]:
        for name in ("drift_features", "drift_latents", "drift_reward", "drift_q"):
            assert np.isfinite(row[name]) and row[name] >= 0
    for row in rows:
        assert abs(row["entropy_gaussian"] + row["entropy_tanh"] - row["entropy"]) < 1e-3


def test_pretraining_scalars_go_to_tensorboard_against_the_pretraining_update(tmp_path):
    """The env step stands still while the model pretrains: TensorBoard draws those rows against
    their update (tb/pretrain/), each value the one metrics.csv holds; training rows stay on tb/."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = SLAC(config=tiny_config(pretrain_steps=6, log_interval=2), run_dir=tmp_path / "run")
    run.learn(32, progress=False)
    rows = read_csv(run.run_dir / "metrics.csv")
    pretraining = [r for r in rows if r["phase"] == "pretrain"]
    assert [r["update"] for r in pretraining] == [2, 4, 6]
    events = EventAccumulator(str(run.run_dir / "tb" / "pretrain")).Reload()
    kl = events.Scalars("pretrain/kl")
    assert [e.step for e in kl] == [2, 4, 6]
    assert np.allclose([e.value for e in kl], [r["kl"] for r in pretraining], rtol=1e-5)
    main_tags = EventAccumulator(str(run.run_dir / "tb")).Reload().Tags()["scalars"]
    assert "train/kl" in main_tags and not any(tag.startswith("pretrain/") for tag in main_tags)


def test_a_resumed_run_keeps_the_tensorboard_scalars_logged_at_its_checkpoints_env_step(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = SLAC(config=tiny_config(), run_dir=tmp_path / "run")
    run.learn(60, progress=False)  # a training row at env step 60, then the final checkpoint there
    assert read_csv(run.run_dir / "metrics.csv")[-1]["env_step"] == 60
    run.close()
    SLAC.load(run.run_dir).learn(80, progress=False, reset_num_timesteps=False)
    steps = [e.step for e in EventAccumulator(str(run.run_dir / "tb")).Reload().Scalars("train/kl")]
    assert steps == [int(r["env_step"]) for r in read_csv(run.run_dir / "metrics.csv") if r["phase"] == "train"]
    assert 60 in steps and steps[-1] == 80


def test_reward_statistics_are_reduced_over_the_whole_interval_not_one_batch():
    from slac.run.logging import IntervalExtremes

    interval = IntervalExtremes()
    for std_min, median, nll in [(0.3, 0.5, 2.0), (0.002, 0.4, 900.0), (0.2, 0.6, 1.0)]:
        interval.add({"reward_std_min": torch.tensor(std_min), "reward_std_median": torch.tensor(median),
                      "reward_nll_max": torch.tensor(nll), "reward_ll": torch.tensor(-1.0)})
    taken = interval.take()
    assert taken == pytest.approx({"reward_std_min": 0.002, "reward_std_median": 0.5, "reward_nll_max": 900.0})
    assert interval.take() == {}  # a new interval starts empty
    interval.add({"reward_nll_max": torch.tensor(3.0)})
    assert interval.take() == {"reward_nll_max": 3.0}


def test_every_row_of_a_run_logs_the_reward_models_std_and_worst_nll(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    run.learn(120, progress=False)
    rows = read_csv(tmp_path / "r" / "metrics.csv")
    assert {row["phase"] for row in rows} == {"pretrain", "train"}
    for row in rows:
        assert 0 < row["reward_std_min"] <= row["reward_std_median"]
        assert math.isfinite(row["reward_nll_max"])


class ScriptedProbe:
    """An agent whose probe outputs are given: one dict of tensors per call, and the windows it saw."""

    device = torch.device("cpu")

    def __init__(self, outputs):
        self.outputs, self.windows = list(outputs), []

    def probe(self, batch):
        self.windows.append(batch.images.clone())
        return self.outputs.pop(0)


def test_drift_is_the_rms_change_relative_for_features_and_latents_and_redraws_overwritten_windows():
    previous = {"features": torch.tensor([[3.0, 4.0], [0.0, 0.0]]), "latents": torch.tensor([0.5, -0.5]),
                "reward": torch.tensor([0.5, 0.5]), "q": torch.tensor([10.0, 20.0])}
    current = {"features": torch.tensor([[3.0, 5.0], [1.0, 0.0]]), "latents": torch.tensor([1.5, -0.5]),
               "reward": torch.tensor([0.5, 1.5]), "q": torch.tensor([13.0, 24.0])}
    agent = ScriptedProbe([previous, current, current, current])
    replay = filled_replay(capacity=200)
    probe = DriftProbe(seed=0)
    assert probe.measure(agent, replay) == {}
    drift = probe.measure(agent, replay)
    # by hand: RMS(change) / RMS(previous) for features and latents, RMS(change) for the rest
    assert drift["drift_features"] == pytest.approx(math.sqrt(2 / 4) / math.sqrt(25 / 4))
    assert drift["drift_latents"] == pytest.approx(math.sqrt(1 / 2) / 0.5)  # a previous size below 1 divides too
    assert drift["drift_reward"] == pytest.approx(math.sqrt(1 / 2))
    assert drift["drift_q"] == pytest.approx(math.sqrt((9 + 16) / 2))
    assert torch.equal(agent.windows[0], agent.windows[1])  # the same windows both times
    # the ring overwrites every probe window: new windows are drawn and nothing is compared across them
    rng = np.random.default_rng(1)
    replay.start_episode(rng.integers(0, 256, (3, 64, 64), dtype=np.uint8))
    for _ in range(250):
        replay.add(rng.uniform(-1, 1, 2).astype(np.float32), 0.0, rng.integers(0, 256, (3, 64, 64), dtype=np.uint8), False)
    assert probe.measure(agent, replay) == {}
    assert not torch.equal(agent.windows[2], agent.windows[1]) and replay.valid(probe.ends).all()
    assert probe.measure(agent, replay) == {f"drift_{name}": 0.0 for name in current}


def test_a_probe_restored_from_its_state_compares_as_the_original_would():
    first = {"features": torch.tensor([[1.0, 2.0]]), "latents": torch.tensor([1.0]), "q": torch.tensor([5.0])}
    second = {"features": torch.tensor([[1.0, 4.0]]), "latents": torch.tensor([3.0]), "q": torch.tensor([8.0])}
    replay = filled_replay(capacity=200)
    original = DriftProbe(seed=4)
    assert DriftProbe(seed=4).state() == ({}, None)  # nothing measured yet
    original.measure(ScriptedProbe([first]), replay)
    tensors, ends = original.state()
    assert ends == [int(e) for e in original.ends] and len(ends) == 32 and all(type(e) is int for e in ends)
    restored = DriftProbe(seed=4)
    restored.load_state(tensors, ends)
    scripted = ScriptedProbe([second])
    expected = original.measure(ScriptedProbe([second]), replay)
    assert restored.measure(scripted, replay) == expected and set(expected) == {"drift_features", "drift_latents", "drift_q"}
    assert torch.equal(scripted.windows[0], replay.gather(original.ends).images)  # the same windows
    empty = DriftProbe(seed=4)
    empty.load_state({}, None)  # a checkpoint from before any measurement: the next row compares nothing
    assert empty.measure(ScriptedProbe([first]), replay) == {}


def test_the_probe_windows_are_drawn_from_the_runs_seed():
    replay = filled_replay(capacity=200)
    outputs = [{"q": torch.tensor([1.0])}]
    ends = {}
    for name, seed in [("a", 0), ("again", 0), ("other", 1)]:
        probe = DriftProbe(seed=seed)
        probe.measure(ScriptedProbe(outputs), replay)
        ends[name] = probe.ends.tolist()
    assert ends["a"] == ends["again"] != ends["other"]  # the same run draws the same windows; another seed others
