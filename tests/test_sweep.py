"""slac sweep on a local Ray: two tiny runs complete, and a run whose worker is killed resumes from its checkpoint."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from helpers import TINY

from slac.cli import main
from slac.logging import read_csv

pytest.importorskip("ray")

SETTINGS = [f"--set={k}={v}" for k, v in TINY.items() if k not in ("task", "device")]


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_two_run_sweep_completes_and_a_killed_run_resumes_from_its_checkpoint(tmp_path, capsys):
    out = tmp_path / "sweep"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    sweep = subprocess.Popen(
        [sys.executable, "-m", "slac.cli", "sweep", "--tasks", "toy/reach", "--seeds", "0-1", "--steps", "300",
         "--out", str(out), "--max-retries", "2", *SETTINGS],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        victim = out / "runs" / "toy_reach-slac-s0"
        wait_for(lambda: list((victim / "checkpoints").glob("*.pt")) and (victim / "sweep_worker.jsonl").is_file(),
                 240, "the first checkpoint of run s0")
        worker = json.loads((victim / "sweep_worker.jsonl").read_text().splitlines()[0])
        os.kill(worker["pid"], signal.SIGKILL)  # preempted mid-run
        stdout, stderr = sweep.communicate(timeout=400)
    finally:
        sweep.kill()
    assert sweep.returncode == 0, stderr[-2000:]
    for seed in (0, 1):
        evals = read_csv(out / "runs" / f"toy_reach-slac-s{seed}" / "eval.csv")
        assert [int(r["env_step"]) for r in evals] == list(range(0, 301, 50))
    attempts = [json.loads(line) for line in (victim / "sweep_worker.jsonl").read_text().splitlines()]
    assert len(attempts) == 2 and attempts[1]["resumed_from"] > 0  # Ray retried it, from its checkpoint
    assert attempts[1]["pid"] != worker["pid"]
    assert "2/2 runs done" in stdout

    capsys.readouterr()
    assert main(["sweep", "--status", str(out)]) == 0
    status = capsys.readouterr().out
    assert "toy_reach-slac-s0" in status and "300/300 (100%)" in status and "2/2 runs done" in status


def test_sweep_errors_are_one_line(tmp_path, capsys):
    assert main(["sweep", "--status", str(tmp_path)]) == 2
    assert "not a sweep directory" in capsys.readouterr().err
    assert main(["sweep", "--tasks", "toy/reachh", "--out", str(tmp_path / "s")]) == 2
    assert "did you mean 'toy/reach'" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()  # nothing starts before every run's config is valid
