import pickle

import pytest
import torch
from helpers import TINY

from slac.common.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from slac.errors import CheckpointError
from slac.run.logging import read_csv
from slac.run.trainer import SLAC

VOLATILE = {"steps_per_s", "wall_time_s"}


def tiny_run(run_dir, **changes):
    return SLAC(run_dir=run_dir, **{**TINY, **changes})


def rows(path):
    return [{k: v for k, v in row.items() if k not in VOLATILE} for row in read_csv(path)]


def test_checkpoint_round_trip_is_exact(tmp_path):
    run = tiny_run(tmp_path / "a").learn(75, progress=False)
    path = run.save(tmp_path / "ckpt.pt")
    loaded = SLAC.load(tmp_path / "a", checkpoint=path)
    for (name, a), b in zip(run.agent.state_dict().items(), loaded.agent.state_dict().values()):
        assert torch.equal(a, b), name
    for name in ("model", "actor", "critic", "alpha"):
        sa, sb = run.agent.optimizers[name].state_dict(), loaded.agent.optimizers[name].state_dict()
        for key in sa["state"]:
            for field in sa["state"][key]:
                assert torch.equal(sa["state"][key][field], sb["state"][key][field])
    for key, value in run.replay.state_dict().items():
        other = loaded.replay.state_dict()[key]
        assert torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other
    assert loaded.counters == run.counters
    assert loaded.rng.bit_generator.state == run.rng.bit_generator.state


def test_resumed_run_matches_an_uninterrupted_one_step_for_step(tmp_path):
    tiny_run(tmp_path / "whole").learn(110, progress=False)
    tiny_run(tmp_path / "split").learn(75, progress=False)  # stops mid-episode (50-step episodes)
    SLAC.load(tmp_path / "split").learn(110, progress=False, reset_num_timesteps=False)
    assert rows(tmp_path / "split" / "eval.csv") == rows(tmp_path / "whole" / "eval.csv")
    assert rows(tmp_path / "split" / "metrics.csv") == rows(tmp_path / "whole" / "metrics.csv")
    assert [int(r["env_step"]) for r in rows(tmp_path / "whole" / "eval.csv")] == [0, 50, 100]


def test_checkpoints_are_written_atomically_and_pruned(tmp_path):
    run = tiny_run(tmp_path / "r", checkpoint_interval=40, keep_checkpoints=2).learn(130, progress=False)
    names = sorted(p.name for p in (run.run_dir / "checkpoints").iterdir())
    assert len(names) == 2 and not any(n.endswith(".tmp") for n in names)
    assert latest_checkpoint(run.run_dir).name == "step_000000130.pt"


def test_truncated_checkpoint_gives_a_clear_error(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", {"x": torch.zeros(1000)}, {"a": 1})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"c\.pt: not a readable slac checkpoint"):
        load_checkpoint(path)


def test_foreign_and_other_version_files_are_refused(tmp_path):
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(CheckpointError, match="not a slac checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    torch.save({"format": "slac-checkpoint", "version": 99, "meta": "{}", "state": {}}, tmp_path / "v99.pt")
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(tmp_path / "v99.pt")
    (tmp_path / "text.pt").write_text("hello")
    with pytest.raises(CheckpointError, match="text.pt"):
        load_checkpoint(tmp_path / "text.pt")


class Exploit:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_pickled_code_payload_is_rejected_and_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pt"
    torch.save({"format": "slac-checkpoint", "version": 1, "meta": "{}", "state": {"x": Exploit(str(marker))}}, path)
    assert not marker.exists()
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_checkpoint(path)
    assert not marker.exists()
    with open(tmp_path / "plain.pkl", "wb") as handle:
        pickle.dump(Exploit(str(marker)), handle)
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "plain.pkl")
    assert not marker.exists()
