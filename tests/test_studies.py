"""The studies in scripts/ run here: those that import slac on a tiny run kept with its evaluation
checkpoints (a change to the package that breaks one fails here, not in a later study), those that
read logs on a tiny run's logs or on a small file laid out as the authors' published ones."""

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
    try:
        runpy.run_path(str(REPO / "scripts" / name), run_name="__main__")
    except SystemExit as done:  # a script that ends with its exit status: 0 is success
        if done.code not in (0, None):
            raise
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


def test_reward_shocks_lists_every_row_whose_reward_likelihood_fell(tiny_runs, monkeypatch, capsys):
    import csv

    run = tiny_runs[0]
    with (run / "metrics.csv").open(newline="") as f:
        rl = [r for r in csv.DictReader(f) if r["phase"] != "pretrain" and r["reward_ll"] and r["entropy"]]
    falls = sum(float(a["reward_ll"]) > float(b["reward_ll"]) for a, b in zip(rl, rl[1:]))
    out = run_script("reward_shocks.py", [run, "--drop", 0], monkeypatch, capsys)
    assert len(rl) >= 3 and f"- {run.name}: {falls} shocks" in out
    assert out.count(f"| {run.name} | ") == falls


def test_same_run_tells_a_run_from_another_seed(tiny_runs, monkeypatch, capsys):
    run_script("same_run.py", [tiny_runs[0], tiny_runs[0]], monkeypatch, capsys)  # exit status 0
    with pytest.raises(SystemExit) as other:
        run_script("same_run.py", [tiny_runs[0], tiny_runs[1]], monkeypatch, capsys)
    assert other.value.code == 1


AUTHORS_COLUMNS = ["domain_name", "task_name", "action_repeat", "decoder_var", "trial_id", "OriginalEnvironmentSteps",
                   "AverageReturnEvalPolicy"]


def write_authors_csv(path, runs):
    """A CSV laid out as the authors' per-run files: `runs` maps (decoder variance, trial) to returns
    at 0, 10K, 20K, ..."""
    import csv

    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(AUTHORS_COLUMNS)
        for (decoder_var, trial), returns in runs.items():
            for k, value in enumerate(returns):
                writer.writerow(["cheetah", "run", 4.0, decoder_var, trial, float(k * 10_000), value])
    return path


def test_authors_dips_counts_falls_recoveries_and_lows_after_900(tmp_path, monkeypatch, capsys):
    path = write_authors_csv(tmp_path / "dm_control_cheetah_run_slac.csv", {
        (0.1, 0): [0, 500, 950, 400, 930, 450],  # falls at 30K (back at 40K) and at 50K; two lows after 900
        (0.1, 1): [0, 200, 300, 600, 700, 800],
        (0.4, 0): [0, 100, 50, 20, 10, 5],
    })
    out = run_script("authors_dips.py", [path], monkeypatch, capsys)
    assert "| 0.1 | 2 | 12 (to 50,000) | 2 | 1 | 2 | 2 of 3 |" in out
    assert "| 0.4 | 1 | 6 (to 50,000) | 0 | 0 | 0 | 0 of 0 |" in out


def test_make_reference_table_summarises_each_step_over_the_runs(tmp_path, monkeypatch, capsys):
    write_authors_csv(tmp_path / "dm_control_cheetah_run_slac.csv", {(0.1, 1): [0.0, 30.0], (0.1, 0): [2.0, 10.0]})
    out = tmp_path / "table.csv"
    run_script("make_reference_table.py", [tmp_path, out], monkeypatch, capsys)
    rows = [line for line in out.read_text().splitlines() if not line.startswith("#")]
    assert rows == ["task,action_repeat,decoder_var,env_step,return_mean,return_std,seeds,return_min,return_max,returns",
                    "dmc/cheetah-run,4,0.1,0,1.0,1.0,2,0.0,2.0,2;0",  # each run's return by trial id
                    "dmc/cheetah-run,4,0.1,10000,20.0,10.0,2,10.0,30.0,10;30"]
    shipped = (REPO / "slac" / "tools" / "data" / "paper_slac_official.csv").read_text()
    assert shipped.startswith(out.read_text().split("task,")[0])  # the shipped table carries the same header
