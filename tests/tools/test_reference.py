import csv
import statistics

import pytest
from helpers import REPO

from slac.errors import TaskError
from slac.tools.reference import paper_curve

RAW = REPO.parent / "shared" / "reference" / "slac-official"


def test_every_published_task_has_a_curve_at_its_presets_decoder_variance():
    for task in ["dmc/cheetah-run", "dmc/walker-walk", "dmc/ball_in_cup-catch", "dmc/finger-spin",
                 "dmc/cartpole-swingup", "dmc/reacher-easy"]:
        curve = paper_curve(task)
        assert curve[0]["env_step"] == 0 and curve[1]["env_step"] == 10_000
        assert all(1 <= r["seeds"] <= 10 for r in curve) and curve[0]["seeds"] == 10


@pytest.mark.skipif(not RAW.is_dir(), reason="the authors' raw CSVs are not beside this checkout")
def test_table_matches_the_authors_raw_numbers():
    with open(RAW / "dm_control_walker_walk_slac.csv", newline="") as handle:
        values = [float(r["AverageReturnEvalPolicy"]) for r in csv.DictReader(handle)
                  if float(r["decoder_var"]) == 0.4 and int(float(r["OriginalEnvironmentSteps"])) == 100_000]
    row = next(r for r in paper_curve("dmc/walker-walk") if r["env_step"] == 100_000)
    assert row["return_mean"] == pytest.approx(statistics.fmean(values), abs=1e-3)
    assert row["return_std"] == pytest.approx(statistics.pstdev(values), abs=1e-3)


def test_unknown_task_or_variance_is_a_clear_error():
    with pytest.raises(TaskError, match="no published curve"):
        paper_curve("gym/Hopper-v5")
    with pytest.raises(TaskError, match="decoder_var"):
        paper_curve("dmc/cheetah-run", decoder_var=0.3)
