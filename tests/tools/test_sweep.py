"""slac sweep on a local Ray: two tiny runs complete, and a run whose worker is killed resumes from its checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

import ray  # noqa: F401  installed by the make targets: a broken install fails here
from helpers import TINY

from slac.cli import main
from slac.run.logging import read_csv

SETTINGS = [f"--set={k}={v}" for k, v in TINY.items() if k not in ("task", "device")]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def attempts(run_dir):
    log = run_dir / "sweep_worker.jsonl"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.is_file() else []


def sweep_command(out, *extra):
    return [sys.executable, "-m", "slac.cli", "sweep", "--tasks", "toy/reach", "--steps", "100", "--out", str(out),
            "--max-retries", "2", *SETTINGS, *extra]


def test_tune_sweep_retries_killed_and_terminated_trials_from_their_checkpoints_and_a_rerun_trains_nothing(tmp_path,
                                                                                                          capsys):
    out = tmp_path / "sweep"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    sweep = subprocess.Popen(sweep_command(out, "--seeds", "0-1"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, env=env)
    runs = [out / "runs" / f"toy_reach-slac-s{seed}" for seed in (0, 1)]
    try:
        for run_dir, sig in zip(runs, (signal.SIGKILL, signal.SIGTERM)):  # preempted, and stopped politely
            wait_for(lambda r=run_dir: list((r / "checkpoints").glob("*.pt")) and attempts(r), 240,
                     f"the first checkpoint of {run_dir.name}")
            os.kill(attempts(run_dir)[0]["pid"], sig)
        stdout, stderr = sweep.communicate(timeout=400)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, stderr[-2000:]
    for run_dir in runs:
        assert [int(r["env_step"]) for r in read_csv(run_dir / "eval.csv")] == list(range(0, 101, 50))
        tries = attempts(run_dir)
        assert len(tries) == 2 and tries[1]["resumed_from"] > 0 and tries[1]["pid"] != tries[0]["pid"]
        assert (run_dir / "worker.log").is_file()
    assert "2/2 runs done" in stdout
    assert (out / "tune").is_dir()  # Tune's experiment state

    rerun = subprocess.run(sweep_command(out, "--seeds", "0-1"), capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "all 2 runs" in rerun.stderr and "nothing to train" in rerun.stderr  # and Ray never started
    assert [len(attempts(r)) for r in runs] == [2, 2]  # nothing trained again
    capsys.readouterr()
    assert main(["sweep", "--status", str(out)]) == 0
    status = capsys.readouterr().out
    assert "toy_reach-slac-s0" in status and "100/100 (100%)" in status and "2/2 runs done" in status


def test_a_trial_that_fails_with_a_slac_error_is_not_retried(tmp_path):
    out = tmp_path / "sweep"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    result = subprocess.run(sweep_command(out, "--seeds", "0", "--set=decoder_var=1e-300"), capture_output=True,
                            text=True, env=env, timeout=300)
    assert result.returncode == 1
    run_dir = out / "runs" / "toy_reach-slac-s0"
    assert len(attempts(run_dir)) == 1  # a NaN is not transient: one attempt of the three allowed
    assert "NumericalError: non-finite loss at update 0" in (run_dir / "worker.log").read_text()
    assert "failed" in result.stdout and "NumericalError" in result.stdout


def test_sweep_errors_are_one_line(tmp_path, capsys):
    assert main(["sweep", "--status", str(tmp_path)]) == 2
    assert "not a sweep directory" in capsys.readouterr().err
    assert main(["sweep", "--tasks", "toy/reachh", "--out", str(tmp_path / "s")]) == 2
    assert "did you mean 'toy/reach'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # nothing starts before every run's config is valid


def test_each_trial_renders_on_its_own_gpu():
    from slac.tools.sweep import renderer_env

    assert renderer_env([3, 1]) == {"MUJOCO_EGL_DEVICE_ID": "3"}  # dm_control's EGL ignores CUDA_VISIBLE_DEVICES
    assert renderer_env([]) == {}  # a CPU trial leaves the renderer alone
