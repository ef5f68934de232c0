import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from slac.replay import SequenceReplay

FRAME = (3, 4, 4)


def frame(value: int) -> np.ndarray:
    """A frame whose pixels encode a number (mod 256) so windows can be traced back."""
    return np.full(FRAME, value % 256, np.uint8)


def fill(buffer: SequenceReplay, episode_lengths, terminal_last=False):
    """Write episodes; frame k of the whole stream has value k, action k, reward k."""
    k = 0
    for length in episode_lengths:
        buffer.start_episode(frame(k))
        k += 1
        for t in range(length):
            buffer.add(np.full(buffer.action_dim, k, np.float32), float(k), frame(k), terminal_last and t == length - 1)
            k += 1
    return k


def test_sample_shapes_and_dtypes():
    buffer = SequenceReplay(100, (3, 64, 64), action_dim=6, seq_len=8, seed=0)
    buffer.start_episode(np.zeros((3, 64, 64), np.uint8))
    for _ in range(30):
        buffer.add(np.zeros(6, np.float32), 1.0, np.zeros((3, 64, 64), np.uint8), False)
    batch = buffer.sample(5)
    assert batch.images.shape == (5, 9, 3, 64, 64) and batch.images.dtype == torch.uint8
    assert batch.actions.shape == (5, 8, 6) and batch.rewards.shape == (5, 8)
    assert batch.terminals.shape == (5, 8) and batch.mask.shape == (5, 8) and batch.frame_mask.shape == (5, 9)


def check_window(buffer: SequenceReplay, batch, ends):
    """Every invariant of a sampled window, traced through the frame values."""
    for b, end in enumerate(ends):
        start = buffer.episode_start[end % buffer.capacity]
        values = batch.images[b, :, 0, 0, 0].numpy().astype(int)
        absolute = np.arange(end - buffer.seq_len, end + 1)
        expected = np.maximum(absolute, start) % 256
        np.testing.assert_array_equal(values, expected)  # one episode, padded with its first frame
        assert absolute.max() < buffer.total and np.maximum(absolute, start).min() >= buffer.oldest
        real = absolute[1:] > start
        np.testing.assert_array_equal(batch.mask[b].numpy(), real.astype(np.float32))
        np.testing.assert_array_equal(batch.frame_mask[b].numpy(), (absolute >= start).astype(np.float32))
        assert batch.mask[b, -1] == 1, "the last transition is always real"
        np.testing.assert_array_equal(batch.actions[b, :, 0].numpy(), np.where(real, absolute[1:], 0))
        np.testing.assert_array_equal(batch.rewards[b].numpy(), np.where(real, absolute[1:], 0))


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 30), min_size=1, max_size=12),
    capacity=st.integers(10, 80),
    seed=st.integers(0, 1000),
)
def test_windows_never_cross_episodes_or_the_write_position(lengths, capacity, seed):
    buffer = SequenceReplay(capacity, FRAME, action_dim=2, seq_len=8, seed=seed)
    fill(buffer, lengths)
    try:
        ends = buffer.sample_ends(64)
    except ValueError:
        # Only legitimate when no window fits in what the ring still holds.
        candidates = np.arange(buffer.oldest, buffer.total)
        assert not buffer.valid(candidates).any()
        return
    check_window(buffer, buffer.gather(ends), ends)


def test_wraparound_overwrites_the_oldest_frames():
    buffer = SequenceReplay(20, FRAME, action_dim=1, seq_len=3, seed=0)
    fill(buffer, [50])
    assert buffer.size == 20 and buffer.oldest == 31
    ends = buffer.sample_ends(500)
    assert ends.min() >= buffer.oldest + 3  # the first frame was overwritten: no padding possible
    check_window(buffer, buffer.gather(ends), ends)


def test_window_at_an_episode_start_is_padded_with_the_first_frame_and_zero_actions():
    buffer = SequenceReplay(100, FRAME, action_dim=1, seq_len=8, seed=0)
    fill(buffer, [10, 10])
    end = 11 + 2  # second episode starts at frame 11; two transitions in
    batch = buffer.gather(np.array([end]))
    np.testing.assert_array_equal(batch.images[0, :, 0, 0, 0].numpy(), [11] * 7 + [12, 13])
    np.testing.assert_array_equal(batch.mask[0].numpy(), [0] * 6 + [1, 1])
    np.testing.assert_array_equal(batch.actions[0, :, 0].numpy(), [0] * 6 + [12, 13])
    np.testing.assert_array_equal(batch.resets[0].numpy(), [True] * 7 + [False, False])


def test_terminal_flags_come_back_only_on_the_terminal_transition():
    buffer = SequenceReplay(200, FRAME, action_dim=1, seq_len=8, seed=0)
    fill(buffer, [12, 12, 12], terminal_last=True)
    ends = buffer.sample_ends(256)
    batch = buffer.gather(ends)
    is_terminal_end = np.isin(ends, [12, 25, 38])
    np.testing.assert_array_equal(batch.terminals[:, -1].numpy(), is_terminal_end.astype(np.float32))
    assert batch.terminals[:, :-1].sum() == 0


def test_sampling_is_uniform_over_transitions():
    buffer = SequenceReplay(1000, FRAME, action_dim=1, seq_len=8, seed=0)
    fill(buffer, [99])
    counts = np.bincount(buffer.sample_ends(99_000), minlength=100)[1:]
    assert counts.min() > 800 and counts.max() < 1200


def test_state_dict_round_trip_gives_identical_samples():
    a = SequenceReplay(30, FRAME, action_dim=2, seq_len=4, seed=7)
    fill(a, [12, 9, 20])
    b = SequenceReplay(30, FRAME, action_dim=2, seq_len=4, seed=7)
    b.load_state_dict(a.state_dict())
    ends = a.sample_ends(32)
    for x, y in zip(vars(a.gather(ends)).values(), vars(b.gather(ends)).values()):
        assert torch.equal(x, y)
    assert b.total == a.total and b.num_transitions() == a.num_transitions()


def test_bad_input_gets_clear_errors():
    buffer = SequenceReplay(20, FRAME, action_dim=1, seq_len=3)
    with pytest.raises(RuntimeError, match="start_episode"):
        buffer.add(np.zeros(1), 0.0, frame(0), False)
    with pytest.raises(ValueError, match="empty"):
        buffer.sample(2)
    with pytest.raises(ValueError, match="uint8 frame of shape"):
        buffer.start_episode(np.zeros((3, 5, 5), np.uint8))
    with pytest.raises(ValueError, match="capacity"):
        SequenceReplay(4, FRAME, action_dim=1, seq_len=8)


def test_memory_per_transition_is_within_two_percent_of_the_frame_and_its_transition():
    buffer = SequenceReplay(1000, (3, 64, 64), action_dim=6, seq_len=8)
    essential = 3 * 64 * 64 + 6 * 4 + 4 + 1  # frame + action + reward + terminal flag
    assert buffer.nbytes / buffer.capacity <= 1.02 * essential
