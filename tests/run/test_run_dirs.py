"""A run directory is one run: a new run never writes into another's, a damaged checkpoint is set
aside and never counted, and the damaged newest checkpoint of a resumed run costs no good one."""

import os
import shutil
import signal

import pytest
from helpers import TINY, built_once

from slac.cli import main
from slac.common.checkpoint import list_checkpoints, load_checkpoint
from slac.errors import SlacError, SlacWarning
from slac.run.trainer import SLAC


def snapshot(run_dir):
    """Every file of a run directory with its bytes."""
    return {p.relative_to(run_dir): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.fixture
def old_run(tmp_path_factory, tmp_path):
    """A copy of one 130-step run (checkpoints at 120 and 130), built once for the session."""
    def build(root):
        SLAC(run_dir=root / "A", **{**TINY, "checkpoint_interval": 40}).learn(130, progress=False).close()

    shutil.copytree(built_once(tmp_path_factory, "old_run", build) / "A", tmp_path / "A")
    return tmp_path / "A"


def test_a_new_run_into_a_directory_holding_a_run_is_refused_and_the_old_run_is_untouched(old_run, capsys):
    before = snapshot(old_run)
    args = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]
    code = main(["train", "--task", "toy/reach", "--steps", "60", "--run-dir", str(old_run), "--no-progress", *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "already holds a run with checkpoints up to env step 130" in err[0]
    assert f"slac train --resume {old_run}" in err[0] and "--run-dir" in err[0]
    with pytest.raises(SlacError, match="already holds a run"):
        SLAC(run_dir=old_run, **TINY)
    assert snapshot(old_run) == before  # no file of the old run changed, commands.txt included


def test_overwrite_moves_the_old_run_aside_whole(old_run, capsys):
    before = snapshot(old_run)
    args = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]
    assert main(["train", "--task", "toy/reach", "--steps", "60", "--run-dir", str(old_run), "--no-progress",
                 "--overwrite", *args]) == 0
    aside = [p for p in old_run.parent.iterdir() if p.name.startswith("A.replaced-")]
    assert len(aside) == 1 and snapshot(aside[0]) == before
    assert f"slac: warning: {old_run} held a run with checkpoints up to env step 130; moved it aside" in capsys.readouterr().err
    assert [int(p.stem.split("_")[1]) for p in list_checkpoints(old_run)] == [30, 60]  # the new run's alone


def test_an_empty_or_missing_directory_is_fine(tmp_path):
    (tmp_path / "empty").mkdir()
    for run_dir in (tmp_path / "empty", tmp_path / "missing"):
        SLAC(run_dir=run_dir, **TINY).close()


def test_a_damaged_newest_checkpoint_then_resume_then_ctrl_c_keeps_the_good_ones(old_run, capsys):
    good = list_checkpoints(old_run)
    assert len(good) == 2
    damaged = good[-1]
    with open(damaged, "r+b") as handle:
        handle.truncate(1000)

    code = main(["train", "--resume", str(old_run), "--steps", "200", "--no-progress"])  # the first resume...
    assert code == 0
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if "does not load" in line]
    assert lines == [f"slac: warning: {damaged.name} does not load; set aside in {old_run / 'checkpoints' / 'damaged'}; "
                     f"using {good[0].name}"]
    assert "miniz" not in err and "Traceback" not in err
    assert (old_run / "checkpoints" / "damaged" / damaged.name).stat().st_size == 1000
    kept = list_checkpoints(old_run)
    assert len(kept) == 2 and all(load_checkpoint(p) for p in kept)

    with open(kept[-1], "r+b") as handle:  # ...and again, now stopped by Ctrl-C after the resume
        handle.truncate(1000)
    run = SLAC.load(old_run, steps=1_000)
    stopped = {"steps": 0}

    class CtrlC:
        def on_step(self, run):
            stopped["steps"] += 1
            if stopped["steps"] == 1:
                os.kill(os.getpid(), signal.SIGINT)  # the handler the loop installs asks it to stop

    run.learn(progress=False, callback=CtrlC(), reset_num_timesteps=False)
    run.close()
    assert run.interrupted
    after = list_checkpoints(old_run)
    assert len(after) == 2 and all(load_checkpoint(p) for p in after)
    assert kept[0] in after  # the good checkpoint the resume started from is still there
    assert sorted(p.name for p in (old_run / "checkpoints" / "damaged").iterdir()) == sorted([damaged.name, kept[-1].name])


def test_pruning_counts_only_checkpoints_that_load(old_run):
    run = SLAC.load(old_run)
    older, newest = list_checkpoints(old_run)
    with open(newest, "r+b") as handle:  # damaged on disk while the run goes on
        handle.truncate(1000)
    with pytest.warns(SlacWarning, match=f"{newest.name} is damaged .*set aside"):
        run.learn(160, progress=False, reset_num_timesteps=False)  # one new checkpoint, at 160
    run.close()
    kept = list_checkpoints(old_run)
    assert older in kept and newest not in kept and len(kept) == 2
    assert all(load_checkpoint(p) for p in kept)


def test_eval_on_a_missing_directory_says_so(tmp_path, capsys):
    assert main(["eval", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().err.strip() == f"slac: error: {tmp_path / 'nope'}: no such run directory"
