import json

import imageio.v2 as imageio
import numpy as np
import pytest
from helpers import TINY

from slac import SLAC, load_policy
from slac.cli import main
from slac.common.checkpoint import list_checkpoints
from slac.errors import CheckpointError
from slac.run.logging import read_csv

TINY_ARGS = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]


def train(tmp_path, *extra):
    run_dir = tmp_path / "run"
    code = main(["train", "--task", "toy/reach", "--steps", "100", "--device", "cpu", "--run-dir", str(run_dir),
                 "--no-progress", *TINY_ARGS, *extra])
    return code, run_dir


def test_train_writes_a_complete_run_directory(tmp_path, capsys):
    code, run_dir = train(tmp_path)
    assert code == 0
    for name in ("config.json", "metrics.csv", "eval.csv", "tb", "checkpoints"):
        assert (run_dir / name).exists(), name
    config = json.loads((run_dir / "config.json").read_text())
    assert config["task"] == "toy/reach" and config["steps"] == 100 and config["z1_dim"] == 4
    assert [row["env_step"] for row in read_csv(run_dir / "eval.csv")] == [0, 50, 100]
    assert "last evaluation, at env step 100: return" in capsys.readouterr().out


def test_resume_continues_a_run(tmp_path):
    _, run_dir = train(tmp_path)
    assert main(["train", "--resume", str(run_dir), "--steps", "150", "--no-progress"]) == 0
    assert [row["env_step"] for row in read_csv(run_dir / "eval.csv")] == [0, 50, 100, 150]


def test_eval_prints_returns_and_writes_a_video(tmp_path, capsys):
    _, run_dir = train(tmp_path)
    capsys.readouterr()
    video = tmp_path / "eval.mp4"
    assert main(["eval", str(run_dir), "--episodes", "2", "--video", str(video)]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["episodes"] == 2 and len(result["returns"]) == 2
    frames = imageio.mimread(video, memtest=False)
    assert len(frames) == 100 and frames[0].shape == (256, 256, 3)


def test_export_writes_a_policy_that_acts_as_the_run_does(tmp_path, capsys):
    _, run_dir = train(tmp_path)
    out = tmp_path / "policy.pt"
    assert main(["export", str(run_dir), "--out", str(out)]) == 0
    assert "slac.load_policy" in capsys.readouterr().out
    run = SLAC.load(run_dir, replay=False)
    policy, reference = load_policy(out), run.policy()
    assert policy.info["env_steps"] == run.counters["env_steps"] == 100
    assert out.stat().st_size < 0.5 * list_checkpoints(run_dir)[-1].stat().st_size  # no critics or optimisers
    obs, _ = run.env.reset(seed=3)
    actions = [policy.reset(obs, deterministic=True)], [reference.reset(obs, deterministic=True)]
    for _ in range(5):
        obs, *_ = run.env.step(actions[1][-1])
        actions[0].append(policy.step(obs, deterministic=True))
        actions[1].append(reference.step(obs, deterministic=True))
    np.testing.assert_array_equal(np.array(actions[0]), np.array(actions[1]))
    with pytest.raises(CheckpointError, match="not an exported policy"):
        load_policy(list_checkpoints(run_dir)[-1])
    run.close()


@pytest.mark.parametrize(
    "argv,message",
    [
        (["train", "--task", "dmc/cheetah-runn", "--no-progress"], "did you mean 'dmc/cheetah-run'"),
        (["train", "--task", "toy/reach", "decoder_varr=0.1"], "did you mean 'decoder_var'"),
        (["train", "--task", "toy/reach", "--config", "missing.yaml"], "does not exist"),
        (["eval", "no/such/run"], "no such run directory"),
        (["train", "--resume", "runs/x", "--task", "toy/reach"], "--resume continues a run with its own config"),
        (["train", "--resume", "runs/x", "--preset", "small"], "--resume continues a run with its own config"),
        (["train", "--resume", "runs/x", "--config", "my.yaml"], "--resume continues a run with its own config"),
        (["train", "--resume", "runs/x", "--overwrite"], "--overwrite starts a new run in --run-dir"),
        (["sweep", "--seeds", "0-1"], "slac sweep needs --tasks A,B"),
        (["reproduce", "--seeds", "0-1"], "slac reproduce needs --tasks A,B"),
    ],
)
def test_bad_input_exits_2_with_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_cuda_request_without_cuda_is_a_clear_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["train", "--task", "toy/reach", "--device", "cuda", "--no-progress"]) == 2
    assert "no CUDA device" in capsys.readouterr().err


def test_tasks_and_presets_list(capsys):
    assert main(["tasks"]) == 0
    tasks = capsys.readouterr().out.split()
    assert "toy/reach" in tasks and "dmc/cheetah-run" in tasks and "gym/Hopper-v5" in tasks
    assert main(["presets"]) == 0
    assert "dmc/walker-walk" in capsys.readouterr().out


def test_bench_takes_train_overrides_and_refuses_unknown_keys(capsys):
    assert main(["bench", "--json", "precison=bf16"]) == 2
    assert "did you mean 'precision'" in capsys.readouterr().err


def test_bench_prints_every_timing_and_a_flop_count_as_json(capsys):
    argv = ["bench", "--preset", "small", "--repeats", "1", "--json", "model_batch=2", "ac_batch=4", "precision=fp32"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for key in ["model_update_s", "full_update_s", "iteration_s", "act_s", "act_after_update_s",
                "replay_sample_s", "peak_memory_mb"]:
        assert result[key] > 0, key
    # the actor-critic share is the difference (not asserted positive: a loaded machine can invert it)
    assert result["actor_critic_update_s"] == pytest.approx(result["full_update_s"] - result["model_update_s"], abs=2e-4)
    assert result["device"] == "cpu" and result["dtype"] == "float32"
    assert result["iterations_per_s"] == pytest.approx(1 / result["iteration_s"], rel=0.01)
    # The small preset's encoder is 3.1 MFLOP per image: its forward pass over 4 x 9 images alone is 0.11 GFLOP.
    assert result["gflop_per_iteration"] > 0.11
    assert result["gflop_per_s"] == pytest.approx(result["gflop_per_iteration"] / result["iteration_s"], rel=0.05)


def test_fork_copies_a_run_at_an_evaluation_checkpoint_and_resuming_it_repeats_the_run(tmp_path, capsys):
    original, fork = tmp_path / "run", tmp_path / "fork"
    SLAC(run_dir=original, **{**TINY, "keep_eval_checkpoints": True, "keep_checkpoints": 1}).learn(100, progress=False)
    before = {p: p.read_bytes() for p in original.rglob("*") if p.is_file() and "tb" not in p.parts}
    assert main(["fork", str(original), "--at", "50", "--out", str(fork)]) == 0
    assert f"slac train --resume {fork}" in capsys.readouterr().out
    assert [p.name for p in (fork / "checkpoints").iterdir()] == ["step_000000050.pt"]
    assert main(["train", "--resume", str(fork), "--steps", "100", "--no-progress"]) == 0
    volatile = {"steps_per_s", "wall_time_s"}
    for name in ("eval.csv", "metrics.csv"):  # the evaluation at 50 repeats, then every row as the original's
        assert [{k: v for k, v in row.items() if k not in volatile} for row in read_csv(fork / name)] == [
            {k: v for k, v in row.items() if k not in volatile} for row in read_csv(original / name)]
    assert "# forked from" in (fork / "commands.txt").read_text()
    assert before == {p: p.read_bytes() for p in before}  # the original is only read

    capsys.readouterr()
    assert main(["fork", str(original), "--at", "75", "--out", str(tmp_path / "other")]) == 2
    assert "no checkpoint at env step 75; checkpoints at env steps: 0, 50, 100" in capsys.readouterr().err
    assert main(["fork", str(original), "--at", "50", "--out", str(fork)]) == 2
    assert "not empty" in capsys.readouterr().err
    # the replay was copied whole (sparsely), byte for byte
    assert all((fork / "replay" / p.name).read_bytes() == p.read_bytes() for p in (original / "replay").iterdir())
    # refusals, each before anything is written: not a run, a damaged checkpoint, replay frames changed
    assert main(["fork", str(tmp_path / "nothing"), "--at", "50", "--out", str(tmp_path / "a")]) == 2
    assert "not a run directory" in capsys.readouterr().err
    import shutil

    damaged = tmp_path / "damaged"
    shutil.copytree(original, damaged)
    kept = damaged / "checkpoints" / "evaluations" / "step_000000050.pt"
    kept.write_bytes(kept.read_bytes()[:-100])
    assert main(["fork", str(damaged), "--at", "50", "--out", str(tmp_path / "b")]) == 2
    assert "step_000000050.pt" in capsys.readouterr().err and not (tmp_path / "b").exists()
    for name, change in [("frames.npy", "fails its checksum"), ("index.npy", "were overwritten")]:
        changed = tmp_path / f"changed-{name}"
        shutil.copytree(original, changed)
        array = np.load(changed / "replay" / name, mmap_mode="r+")
        array[3] = array[3] + 1
        array.flush()
        del array
        assert main(["fork", str(changed), "--at", "50", "--out", str(tmp_path / f"c-{name}")]) == 2
        assert change in capsys.readouterr().err and not (tmp_path / f"c-{name}").exists()
    # a fork resumed with one setting changed: the same run to the fork's step, then its own
    changed_run = tmp_path / "floor"
    assert main(["fork", str(original), "--at", "50", "--out", str(changed_run)]) == 0
    assert main(["train", "--resume", str(changed_run), "--steps", "70", "--no-progress", "reward_std_min=0.5"]) == 0
    assert json.loads((changed_run / "config.json").read_text())["reward_std_min"] == 0.5
    ours, theirs = read_csv(changed_run / "metrics.csv"), read_csv(original / "metrics.csv")
    shared = [i for i, row in enumerate(ours) if row["env_step"] <= 50]
    assert shared and all(ours[i]["model_loss"] == theirs[i]["model_loss"] for i in shared)
    assert any(a["model_loss"] != b["model_loss"] for a, b in zip(ours, theirs) if a["env_step"] > 50)


def test_commands_that_need_frames_or_a_model_refuse_a_state_run(tmp_path, capsys):
    run_dir = tmp_path / "state"
    args = [f"{k}={v}" for k, v in TINY.items() if k not in ("task", "device")]
    assert main(["train", "--task", "toy/reach", "--agent", "sac-state", "--steps", "40", "--device", "cpu",
                 "--run-dir", str(run_dir), "--no-progress", *args, "pretrain_steps=0"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run_dir), "--episodes", "1", "--video", str(tmp_path / "e.mp4")]) == 2
    assert "trained sac-state, which sees no frames: there is no input to record" in capsys.readouterr().err
    assert not (tmp_path / "e.mp4").exists()
    assert main(["visualize", str(run_dir), "--out", str(tmp_path / "v.png")]) == 2
    assert "trained agent sac-state, which has no latent model to visualise" in capsys.readouterr().err
