"""The studies in scripts/ that import slac run on a tiny run kept with its evaluation checkpoints:
a change to the package that breaks one fails here, not in a later study."""

import runpy
import sys

import pytest
from helpers import REPO


@pytest.fixture
def study_run(tiny_runs):
    return tiny_runs[0]  # slac, seed 0, evaluation checkpoints at 0, 50 and 100


def run_script(name, args, monkeypatch, capsys) -> str:
    monkeypatch.setattr(sys, "argv", [name, *map(str, args)])
    monkeypatch.syspath_prepend(str(REPO / "scripts"))  # as when run as a script: the studies import each other
    runpy.run_path(str(REPO / "scripts" / name), run_name="__main__")
    return capsys.readouterr().out


def test_dive_study_reads_two_kept_checkpoints(study_run, monkeypatch, capsys):
    kept = study_run / "checkpoints" / "evaluations"
    out = run_script("dive_study.py", [study_run, kept / "step_000000050.pt", kept / "step_000000100.pt", "--windows", 8],
                     monkeypatch, capsys)
    assert "| critic A |" in out and "| critic B |" in out


def test_value_bias_compares_q_with_the_return_at_each_kept_checkpoint(study_run, monkeypatch, capsys):
    out = run_script("value_bias.py", [study_run, "--episodes", 1, "--first", 5, "--fresh"], monkeypatch, capsys)
    assert "| Q - G |" in out and "\n| 50 |" in out


def test_critic_refit_fits_fresh_critics_on_a_frozen_checkpoint(study_run, monkeypatch, capsys):
    checkpoint = study_run / "checkpoints" / "evaluations" / "step_000000100.pt"
    out = run_script("critic_refit.py", [study_run, checkpoint, "--windows", 16, "--updates", 20, "--report-every", 10,
                                         "--draws", 2], monkeypatch, capsys)
    assert "refit on history, 20 updates" in out
