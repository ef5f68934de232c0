"""slac visualize, per-evaluation videos and TensorBoard rollouts, side-by-side eval videos, from a tiny real run."""

import imageio.v2 as imageio
import numpy as np
import pytest
import torch
from helpers import tiny_config

from slac.cli import main
from slac.run.logging import read_csv
from slac.run.visualize import LABEL_WIDTH, model_rollouts


@pytest.fixture
def run_dir(tiny_runs):
    return tiny_runs[0]


def test_each_evaluation_writes_a_video_of_its_first_episode(run_dir):
    steps = [int(row["env_step"]) for row in read_csv(run_dir / "eval.csv")]
    videos = sorted((run_dir / "videos").glob("*.mp4"))
    assert [int(v.stem.split("_")[1]) for v in videos] == steps
    frames = imageio.mimread(videos[-1], memtest=False)
    assert len(frames) == 50 and frames[0].shape == (256, 256, 3)  # toy/reach: 50 steps, 64 px x 4


def test_each_evaluation_logs_the_model_rollouts_to_tensorboard(run_dir):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tb"), size_guidance={"images": 0}).Reload()
    images = events.Images("model/rollouts")
    assert [im.step for im in images] == [int(row["env_step"]) for row in read_csv(run_dir / "eval.csv")]
    assert (images[0].height, images[0].width) == (4 * 64, LABEL_WIDTH + 17 * 64)  # 4 rows, 2 x seq_len + 1 frames


@pytest.mark.parametrize("episodes,steps", [(1, 16), (2, 5)])
def test_visualize_writes_a_grid_of_every_row_and_frame(run_dir, tmp_path, episodes, steps, capsys):
    out = tmp_path / "rollouts.png"
    assert main(["visualize", str(run_dir), "--episodes", str(episodes), "--steps", str(steps), "--out", str(out)]) == 0
    image = imageio.imread(out)
    frame = 128  # 64 px at 2x
    assert image.shape == (episodes * 4 * frame + 4 * (episodes - 1), LABEL_WIDTH + (steps + 1) * frame, 3)
    assert "prior only" in capsys.readouterr().out


def test_visualize_gif_animates_the_rows_side_by_side(run_dir, tmp_path):
    out = tmp_path / "rollouts.gif"
    assert main(["visualize", str(run_dir), "--episodes", "2", "--steps", "6", "--out", str(out)]) == 0
    frames = imageio.mimread(out, memtest=False)
    assert len(frames) == 7 and frames[0].shape[:2] == (2 * 128, 4 * 128)


def test_visualize_rejects_other_formats(run_dir, tmp_path, capsys):
    assert main(["visualize", str(run_dir), "--out", str(tmp_path / "x.jpg")]) == 2
    assert ".png" in capsys.readouterr().err


def test_eval_side_by_side_video_shows_the_input_beside_a_larger_rendering(run_dir, tmp_path):
    video = tmp_path / "sbs.mp4"
    assert main(["eval", str(run_dir), "--episodes", "1", "--video", str(video), "--side-by-side", "128"]) == 0
    frames = imageio.mimread(video, memtest=False)
    assert len(frames) == 50 and frames[0].shape == (128, 256, 3)
    # The right half is the scene drawn at 128 px: the same discs as the 64 px input, finer.
    # A half that shows only the background fails: the discs (pixels far from the background colour)
    # must sit in the same places in both halves.
    left, right = frames[0][:, :128].astype(float), frames[0][:, 128:].astype(float)
    background = np.median(left.reshape(-1, 3), axis=0)
    drawn_left, drawn_right = (np.abs(half - background).max(-1) > 40 for half in (left, right))
    overlap = (drawn_left & drawn_right).sum() / (drawn_left | drawn_right).sum()
    print(f"disc pixels {drawn_left.mean():.3f} / {drawn_right.mean():.3f}, overlap {overlap:.2f}, "
          f"mean difference {np.abs(left - right).mean():.1f}")
    assert drawn_left.mean() > 0.01 and overlap > 0.6


def test_rollout_rows_reconstruct_the_sequence_shapes():
    from slac.agents.slac import SLACAgent

    torch.manual_seed(0)
    agent = SLACAgent(2, tiny_config())
    frames = np.random.default_rng(0).integers(0, 256, (6, 3, 64, 64), dtype=np.uint8)
    rows = model_rollouts(agent, frames, np.zeros((5, 2), np.float32))
    assert len(rows) == 4 and all(r.shape == frames.shape and r.dtype == np.uint8 for r in rows)
    assert np.array_equal(rows[0], frames)
