"""Fault injection: killed runs resume exactly, damaged checkpoints and full disks are handled, NaNs stop
training cleanly, and bad input is refused before any work starts."""

import errno
import os
import platform
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch
from helpers import TINY, built_once
from hypothesis import given, settings
from hypothesis import strategies as st

from slac.common.checkpoint import list_checkpoints, load_checkpoint
from slac.common.host import cpu_has_native_bf16
from slac.config import Config, parse_overrides
from slac.errors import CheckpointError, ConfigError, NumericalError, SlacError, SlacWarning
from slac.run import checks
from slac.run.logging import read_csv
from slac.run.trainer import SLAC

TINY_ARGS = [f"{k}={v}" for k, v in TINY.items()
             if k not in ("task", "device", "log_interval", "eval_interval", "checkpoint_interval")] + [
    "pretrain_checkpoint_interval=2", "log_interval=3", "eval_interval=40", "checkpoint_interval=40"]
VOLATILE = {"steps_per_s", "wall_time_s"}


def rows(path):
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in read_csv(path)]


def train(run_dir, fault=None, resume=False, steps=100, wait=True):
    env = {k: v for k, v in os.environ.items() if k != "SLAC_FAULT"}
    if fault:
        env["SLAC_FAULT"] = fault
    args = ["--resume", str(run_dir)] if resume else ["--task", "toy/reach", "--steps", str(steps), "--device", "cpu",
                                                       "--run-dir", str(run_dir), *TINY_ARGS]
    argv = [sys.executable, "-m", "slac.cli", "train", "--no-progress", *args]
    if not wait:
        return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The run the killed ones must end as; built once and shared by the workers (tests only read it)."""
    def build(root):
        result = train(root / "run")
        assert result.returncode == 0, result.stderr[-2000:]

    return built_once(tmp_path_factory, "uninterrupted", build) / "run"


# Checkpoints of this run: at pretraining updates 2, 4 and 5 (env step 30), then at env steps 40, 80
# and 100; evaluations at 0, 40, 80 and 100, each at the top of the iteration after the checkpoint at
# its step. Kills: in pretraining after the checkpoint at update 2 and the metrics row of update 3
# (which the resumed run writes again: the env step stands still in pretraining); in collection after
# the evaluation at 80 (which the resumed run, from the checkpoint at 80, makes again); in a training
# update between the checkpoints at 40 and 80; half-way through writing the checkpoint at 80.
@pytest.mark.parametrize("fault", [  # make test kills while writing (and, below, during an update); -m slow adds the others
    pytest.param("update:4", id="during-pretraining", marks=pytest.mark.slow),
    pytest.param("env_step:90", id="during-collection", marks=pytest.mark.slow),
    pytest.param("update:50", id="during-an-update", marks=pytest.mark.slow),
    pytest.param("checkpoint_write:5", id="while-writing-a-checkpoint")])
def test_a_run_killed_at_any_point_resumes_to_the_uninterrupted_runs_metrics(uninterrupted, tmp_path, fault):
    run_dir = tmp_path / "run"
    killed = train(run_dir, fault=fault)
    assert killed.returncode == -signal.SIGKILL
    survivors = list_checkpoints(run_dir)
    assert survivors and all(load_checkpoint(p) for p in survivors)  # every complete checkpoint loads
    resumed = train(run_dir, resume=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert rows(run_dir / "eval.csv") == rows(uninterrupted / "eval.csv")
    assert rows(run_dir / "metrics.csv") == rows(uninterrupted / "metrics.csv")
    assert not list((run_dir / "checkpoints").glob("*.tmp"))


def test_a_run_killed_while_resuming_trims_its_logs_atomically_and_resumes_again(uninterrupted, tmp_path):
    """The resumed run rewrites metrics.csv without the rows logged after its checkpoint; killed half-way
    through that, the file is still whole, and the next resume ends with the uninterrupted run's rows.
    The first kill is the one of the test above during an update, whose checks it makes too."""
    run_dir = tmp_path / "run"
    assert train(run_dir, fault="update:50").returncode == -signal.SIGKILL
    survivors = list_checkpoints(run_dir)
    assert survivors and all(load_checkpoint(p) for p in survivors)
    before = (run_dir / "metrics.csv").read_text()
    assert train(run_dir, fault="csv_rewrite:1", resume=True).returncode == -signal.SIGKILL
    assert (run_dir / "metrics.csv").read_text() == before
    resumed = train(run_dir, resume=True)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert rows(run_dir / "metrics.csv") == rows(uninterrupted / "metrics.csv")
    assert rows(run_dir / "eval.csv") == rows(uninterrupted / "eval.csv")
    assert not list((run_dir / "checkpoints").glob("*.tmp"))


def test_sigterm_writes_a_final_checkpoint_and_the_run_continues(tmp_path):
    run_dir = tmp_path / "run"
    process = train(run_dir, steps=100_000, wait=False)
    deadline = time.monotonic() + 120  # the signal goes after the first training row (pretraining logs rows too)
    while not (run_dir / "metrics.csv").is_file() or not any(
            row["phase"] == "train" for row in read_csv(run_dir / "metrics.csv")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "--resume" in stderr
    final = list_checkpoints(run_dir)[-1]
    _, meta = load_checkpoint(final)
    assert final.name == f"step_{meta['counters']['env_steps']:09d}.pt"  # written at the step it stopped
    assert meta["counters"]["updates"] > 0
    last = read_csv(run_dir / "eval.csv")[-1]  # the stop message names the real last evaluation
    assert stdout.startswith(f"last evaluation, at env step {int(last['env_step']):,} (the run stopped at "
                             f"{meta['counters']['env_steps']:,}): return {last['return_stochastic']:.2f}")


def test_a_corrupted_checkpoint_or_replay_file_is_named_and_the_checkpoint_before_it_is_used(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "checkpoint_interval": 40, "keep_checkpoints": 2}).learn(130, progress=False)
    run.close()
    older, newest = list_checkpoints(run.run_dir)
    pristine = newest.read_bytes()
    data = bytearray(pristine)
    data[len(data) // 2] ^= 0xFF  # one flipped bit pattern in the middle of the payload
    newest.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=rf"{newest.name}: (checksum mismatch|not a readable)"):
        load_checkpoint(newest)
    with pytest.warns(SlacWarning, match=rf"^{newest.name} does not load; set aside in .*damaged; using {older.name}$"):
        resumed = SLAC.load(run.run_dir)
    assert f"step_{resumed.counters['env_steps']:09d}.pt" == older.name
    assert list_checkpoints(run.run_dir) == [older]  # set aside: never counted again
    assert (run.run_dir / "checkpoints" / "damaged" / newest.name).read_bytes() == bytes(data)
    resumed.close()

    newest.write_bytes(pristine)  # now a frame only the newest checkpoint holds is damaged
    position = load_checkpoint(newest)[1]["replay"]
    frames = np.load(run.run_dir / "replay" / "frames.npy", mmap_mode="r+")
    frames[(position["total"] - 1) % position["slots"], 0, 0, 0] ^= 0xFF
    frames.flush()
    del frames
    damaged = rf"frames.npy: frame {position['total'] - 1} .* fails its checksum.*using .*{older.name}"
    with pytest.warns(UserWarning, match=damaged):
        resumed = SLAC.load(run.run_dir)
    assert f"step_{resumed.counters['env_steps']:09d}.pt" == older.name
    resumed.close()
    path = run.run_dir / "replay" / "frames.npy"
    path.write_bytes(path.read_bytes()[:1000])  # truncated: no checkpoint can resume
    with pytest.raises(CheckpointError, match=r"no checkpoint loads: .*frames.npy: damaged replay file"):
        SLAC.load(run.run_dir)
    SLAC.load(run.run_dir, replay=False).close()  # evaluation reads only the checkpoint


def test_a_full_disk_while_checkpointing_stops_cleanly_with_the_last_checkpoint_intact(tmp_path, monkeypatch):
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    run.learn(100, progress=False)
    good = list_checkpoints(run.run_dir)[-1]

    def disk_full(point):
        if point == "checkpoint_write":
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("slac.common.checkpoint.faults.inject", disk_full)
    with pytest.raises(CheckpointError, match=rf"no space left on the device.*last good checkpoint .*{good.name} is intact"):
        run.learn(200, progress=False, reset_num_timesteps=False)
    assert list_checkpoints(run.run_dir)[-1] == good and not list((run.run_dir / "checkpoints").glob("*.tmp"))
    load_checkpoint(good)


def test_too_little_disk_or_an_unwritable_run_directory_is_refused_before_any_work(tmp_path, monkeypatch):
    import shutil

    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage._replace(free=1_000_000))
    run = SLAC(run_dir=tmp_path / "r", **TINY)
    with pytest.raises(SlacError, match=r"the run needs about .* GiB more .* free"):
        run.learn(100, progress=False)
    assert run.counters["env_steps"] == 0 and not (tmp_path / "r" / "metrics.csv").exists()
    monkeypatch.undo()
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(SlacError, match="is not writable"):
        SLAC(run_dir=tmp_path / "file" / "run", **TINY).learn(100, progress=False)


@pytest.mark.parametrize("native, precision, warned", [
    (False, "bf16", True), (True, "bf16", False), (None, "bf16", False), (False, "fp32", False)])
def test_bf16_on_a_cpu_that_only_emulates_it_is_warned_about_when_training_starts(
        tmp_path, monkeypatch, native, precision, warned):
    monkeypatch.setattr(checks, "cpu_has_native_bf16", lambda: native)
    run = SLAC(run_dir=tmp_path / "r", precision=precision, **TINY)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.learn(1, progress=False)
    messages = [str(w.message) for w in caught if "without bfloat16 instructions" in str(w.message)]
    assert len(messages) == int(warned) and all("use precision=fp32" in m for m in messages)


def test_native_bf16_is_what_the_cpu_flags_say():
    cpuinfo = Path("/proc/cpuinfo")
    if platform.machine() != "x86_64" or not cpuinfo.exists():
        pytest.skip("reads the flags of an x86 Linux CPU")
    flags = set(next(line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")).split())
    assert cpu_has_native_bf16() is bool({"avx512_bf16", "amx_bf16"} & flags)


class NaNRewardAfter(gym.Wrapper):
    def __init__(self, env, step):
        super().__init__(env)
        self.steps, self.bad_step = 0, step

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.steps += 1
        return obs, float("nan") if self.steps == self.bad_step else reward, terminated, truncated, info


def test_a_nan_loss_stops_training_naming_the_term_and_step_without_writing_nan_weights(tmp_path):
    from slac.envs import make_env

    config = Config.from_dict({**TINY, "checkpoint_interval": 40})
    run = SLAC(NaNRewardAfter(make_env("toy/reach"), 120), config, run_dir=tmp_path / "r",
               eval_env=make_env("toy/reach"))
    with pytest.raises(NumericalError, match=r"non-finite loss at update \d+: .*model_loss=nan.*reward_ll=nan.*env step"):
        run.learn(300, progress=False)
    for path in list_checkpoints(run.run_dir):  # every checkpoint predates the NaN and holds finite weights
        state, meta = load_checkpoint(path)
        assert meta["counters"]["env_steps"] < 120 + 50
        assert all(torch.isfinite(t).all() for t in state["agent"].values() if t.is_floating_point())


def test_a_checkpoint_for_another_action_space_is_refused(tmp_path):
    SLAC(run_dir=tmp_path / "r", **TINY).learn(60, progress=False)
    with pytest.raises(CheckpointError, match="2-dimensional actions; this run's env .* has 1"):
        SLAC.load(tmp_path / "r", task="dmc/cartpole-swingup")


def test_a_code_payload_inside_a_valid_checksummed_checkpoint_never_runs(tmp_path):
    import hashlib
    import io

    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    inner = io.BytesIO()
    torch.save({"meta": "{}", "state": {"x": Exploit()}}, inner)
    payload = inner.getvalue()
    torch.save({"format": "slac-checkpoint", "version": 2, "sha256": hashlib.sha256(payload).hexdigest(),
                "payload": torch.frombuffer(bytearray(payload), dtype=torch.uint8)}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_checkpoint(tmp_path / "evil.pt")
    assert not marker.exists()


def test_a_config_file_with_a_code_tag_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    (tmp_path / "evil.yaml").write_text(f"seed: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="evil.yaml"):
        Config.build(file=tmp_path / "evil.yaml")
    assert not marker.exists()


@pytest.mark.parametrize("overrides,message", [
    ({"seq_len": 0}, "seq_len must be > 0"), ({"ac_batch": -1}, "ac_batch must be > 0"),
    ({"image_size": 84}, "image_size 84 is not supported"), ({"precision": "fp16"}, "precision must be"),
    ({"encode_chunk": -3}, "encode_chunk must be >= 0"),
])
def test_out_of_range_values_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        Config.build(task="toy/reach", overrides=overrides)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(codec="ascii", exclude_categories=["Cc"]), max_size=24), max_size=4))
def test_any_command_line_override_either_builds_or_raises_config_error(texts):
    try:
        Config.build(task="toy/reach", overrides=parse_overrides(texts))
    except ConfigError:
        pass
