"""The replay on disk: a checkpoint records a position, frames written after it never overwrite what
it resumes from, damage is detected, and saving copies nothing."""

import threading

import numpy as np
import pytest
import torch
from helpers import TINY

from slac.errors import CheckpointError
from slac.replay import SequenceReplay
from slac.replay import files as replay_files
from slac.run.trainer import SLAC


def write(buffer: SequenceReplay, frames: int, rng: np.random.Generator, episode: int = 13) -> None:
    for _ in range(frames):
        if buffer.total % episode == 0:
            buffer.start_episode(rng.integers(0, 256, (3, 64, 64), dtype=np.uint8))
        else:
            buffer.add(rng.uniform(-1, 1, 2).astype(np.float32), float(rng.normal()),
                       rng.integers(0, 256, (3, 64, 64), dtype=np.uint8), False)


def test_frames_written_after_a_flush_leave_a_wrapped_ring_resumable_exactly(tmp_path):
    rng = np.random.default_rng(0)
    live = SequenceReplay(40, (3, 64, 64), 2, seq_len=4, seed=1, slack=15)
    live.persist(tmp_path / "replay")
    write(live, 100, rng)  # wrapped twice
    position = live.flush()
    rng_state = live.rng.bit_generator.state
    expected = live.sample(64)
    write(live, 15, rng)  # what a killed run wrote after its last checkpoint: exactly the slack
    replay_files.verify(tmp_path / "replay", position, (3, 64, 64), 2)

    resumed = SequenceReplay(40, (3, 64, 64), 2, seq_len=4, slack=15)
    resumed.restore(tmp_path / "replay", position)
    resumed.rng.bit_generator.state = rng_state
    got = resumed.sample(64)
    for name in ("images", "actions", "rewards", "terminals", "mask", "frame_mask"):
        assert torch.equal(getattr(got, name), getattr(expected, name)), name

    write(live, 1, rng)  # one frame more than the slack: the checkpoint's oldest frame is gone
    live.flush()
    with pytest.raises(CheckpointError, match=r"1 of the 40 frames this checkpoint resumes from were overwritten"):
        replay_files.verify(tmp_path / "replay", position, (3, 64, 64), 2)


def test_missing_or_misshapen_replay_files_are_named(tmp_path):
    buffer = SequenceReplay(20, (3, 64, 64), 2, seq_len=4)
    buffer.persist(tmp_path / "replay")
    position = buffer.flush()
    with pytest.raises(CheckpointError, match=r"actions.npy: holds float32 \(20, 2\), the checkpoint expects float32 \(20, 3\)"):
        replay_files.verify(tmp_path / "replay", position, (3, 64, 64), 3)
    (tmp_path / "replay" / "crc.npy").unlink()
    with pytest.raises(CheckpointError, match=r"crc.npy: replay file missing"):
        replay_files.verify(tmp_path / "replay", position, (3, 64, 64), 2)


def rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096


def test_a_checkpoint_of_a_full_buffer_is_small_and_saving_it_copies_nothing(tmp_path):
    run = SLAC(run_dir=tmp_path / "r", **{**TINY, "replay_capacity": 5_000})
    run.open_logs()
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (3, 64, 64), dtype=np.uint8)
    run.replay.start_episode(frame)
    for _ in range(5_200):
        run.replay.add(np.zeros(run.action_dim, np.float32), 0.0, frame, False)
    run.save()  # the first save imports and allocates what every later one reuses
    run.replay.add(np.zeros(run.action_dim, np.float32), 0.0, frame, False)
    base, peak, done = rss(), [0], threading.Event()

    def watch():
        while not done.wait(0.0005):
            peak[0] = max(peak[0], rss())

    watcher = threading.Thread(target=watch)
    watcher.start()
    path = run.save()
    done.set()
    watcher.join()
    buffer = run.replay.capacity * 3 * 64 * 64
    assert max(peak[0], rss()) - base < 0.1 * buffer
    assert path.stat().st_size < 0.02 * buffer
    run.close()
