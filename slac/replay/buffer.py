"""Sequence replay buffer: every frame stored once (uint8, one preallocated ring), windows sampled
by index arithmetic.

Slot i holds frame x_i and the transition that led into it: the action a taken in the previous
frame, the reward r received, and whether x_i is a true terminal. An episode's first frame has
no incoming transition (zero action and reward). Each slot also records the absolute index of
its episode's first frame, which makes episode boundaries O(1) to find.

A window of `seq_len` transitions ending at frame e holds frames e-L..e. When it reaches back
before its episode's first frame s, those positions repeat x_s with zero actions and are masked
(the authors' `filter_before_first_step`): the actor trains on the same padded histories that
`act()` builds at the start of an episode. Windows never hold two episodes, never reach frames
the ring has overwritten, and always end with a real transition.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch

from slac.errors import CheckpointError
from slac.replay import files as replay_files


@dataclass
class SequenceBatch:
    """A batch of B windows of L transitions (L + 1 frames)."""

    images: torch.Tensor  # (B, L+1, 3, H, W) uint8 (or (B, L+1, S) float32 states for sac-state)
    actions: torch.Tensor  # (B, L, A) float32; actions[:, t] is taken in frame t, leads to frame t+1
    rewards: torch.Tensor  # (B, L) float32
    terminals: torch.Tensor  # (B, L) float32; 1 where frame t+1 is a true terminal
    mask: torch.Tensor  # (B, L) float32; 1 where transition t is real (not padding)
    frame_mask: torch.Tensor  # (B, L+1) float32; 1 where frame t is real

    def to(self, device: torch.device | str, non_blocking: bool = False) -> SequenceBatch:
        return SequenceBatch(**{f.name: getattr(self, f.name).to(device, non_blocking=non_blocking) for f in fields(self)})

    def __getitem__(self, index) -> SequenceBatch:
        return SequenceBatch(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @property
    def resets(self) -> torch.Tensor:
        """(B, L+1) bool: where the filter starts afresh (padding and each episode's first frame)."""
        first = torch.ones_like(self.frame_mask[:, :1], dtype=torch.bool)
        return torch.cat([first, self.mask == 0], dim=1)


class SequenceReplay:
    """Ring buffer of frames with vectorised sampling of fixed-length windows.

    In memory by default; `persist(directory)` moves it into memory-mapped files (slac.replay.files),
    where it lives for the rest of the run: `flush()` makes what was written durable and returns
    the position a checkpoint records, and `restore(directory, position)` reopens it there. The
    ring then has `slack` slots beyond `capacity`: windows come from the newest `capacity` frames,
    and the `slack` frames after them still hold what older checkpoints need, so frames written
    after a checkpoint never overwrite what it resumes from.
    """

    def __init__(
        self,
        capacity: int,
        frame_shape: tuple[int, ...],
        action_dim: int,
        seq_len: int = 8,
        seed: int | None = None,
        pin_memory: bool = False,
        slack: int = 0,
        frame_dtype: type = np.uint8,
    ) -> None:
        if capacity < seq_len + 2:
            raise ValueError(f"capacity must be at least seq_len + 2 = {seq_len + 2}, got {capacity}")
        self.capacity = capacity
        self.slots = capacity + slack  # physical ring size
        self.seq_len = seq_len
        self.frame_shape = tuple(frame_shape)
        self.frame_dtype = np.dtype(frame_dtype)  # uint8 frames; float32 for state vectors
        self.action_dim = action_dim
        # The arrays of replay_files.layout as attributes (self.frames, self.actions, ...). np.zeros
        # maps pages lazily: memory is used as the buffer fills.
        self._set_arrays({name: np.zeros(shape, dtype) for name, (dtype, shape)
                          in replay_files.layout(self.slots, self.frame_shape, action_dim, self.frame_dtype).items()})
        self.index[:] = -1
        self.total = 0  # frames ever written (absolute index of the next one)
        self.flushed = 0  # `total` at the last flush
        self._current_start = -1
        self.directory: Path | None = None
        self.rng = np.random.default_rng(seed)
        self.pin_memory = pin_memory  # sampled frames in page-locked memory (for a CUDA learner)

    @property
    def slack(self) -> int:
        return self.slots - self.capacity

    def _arrays(self) -> dict[str, np.ndarray]:
        return {name: getattr(self, name) for name in replay_files.ARRAYS}

    def _set_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for name, array in arrays.items():
            setattr(self, name, array)
        self.slots = len(self.frames)

    # ------------------------------------------------------------------ files
    def persist(self, directory: str | Path) -> None:
        """Move the buffer into memory-mapped files in `directory` (new files; held frames copied)."""
        directory = Path(directory)
        if self.directory == directory:
            return
        held = np.arange(self.oldest, self.total) % self.slots
        self.crc[held] = [zlib.crc32(self.frames[slot]) for slot in held]
        self._set_arrays(replay_files.create(directory, self._arrays(), held))
        self.directory = directory
        self.flush()

    def flush(self) -> dict[str, int]:
        """Make every written frame durable; return the position a checkpoint records."""
        if self.directory is not None:
            replay_files.flush(self._arrays())
        self.flushed = self.total
        return self.position

    @property
    def position(self) -> dict[str, int]:
        return {"total": self.total, "current_start": self._current_start, "capacity": self.capacity,
                "slots": self.slots}

    @property
    def unflushed(self) -> int:
        """Frames written since the last flush (a checkpoint is due before `slack` of them)."""
        return self.total - self.flushed

    def restore(self, directory: str | Path, position: dict[str, int]) -> None:
        """Reopen the files in `directory` at a checkpoint's `position` (checked by
        `replay_files.verify` first: frames still there and intact)."""
        if int(position["capacity"]) != self.capacity:
            raise CheckpointError(f"the run's replay holds {position['capacity']} frames; this config asks for "
                                  f"replay_capacity={self.capacity}, which a resumed run cannot change")
        directory = Path(directory)
        self._set_arrays(replay_files.open_arrays(directory, self.frame_shape, self.action_dim, int(position["slots"]),
                                                  frame_dtype=self.frame_dtype))
        self.directory = directory
        self.total = self.flushed = int(position["total"])
        self._current_start = int(position["current_start"])

    # ------------------------------------------------------------------ writing
    def start_episode(self, frame: np.ndarray) -> None:
        """Store an episode's first frame."""
        self._current_start = self.total
        self._write(frame, np.zeros(self.action_dim, np.float32), 0.0, False)

    def add(self, action: np.ndarray, reward: float, next_frame: np.ndarray, terminal: bool) -> None:
        """Store one transition: `action` taken in the last stored frame gave `reward` and `next_frame`."""
        if self._current_start < 0:
            raise RuntimeError("call start_episode(first_frame) before add()")
        self._write(next_frame, action, reward, terminal)

    def _write(self, frame: np.ndarray, action, reward: float, terminal: bool) -> None:
        if frame.shape != self.frame_shape or frame.dtype != self.frame_dtype:
            raise ValueError(f"expected a {self.frame_dtype} frame of shape {self.frame_shape}, got {frame.dtype} {frame.shape}")
        slot = self.total % self.slots
        self.frames[slot] = frame
        self.actions[slot] = action
        self.rewards[slot] = reward
        self.terminals[slot] = terminal
        self.episode_start[slot] = self._current_start
        self.index[slot] = self.total
        if self.directory is not None:
            self.crc[slot] = zlib.crc32(self.frames[slot])
        self.total += 1

    # ------------------------------------------------------------------ reading
    @property
    def size(self) -> int:
        """Frames held now."""
        return min(self.total, self.capacity)

    @property
    def oldest(self) -> int:
        return self.total - self.size

    @property
    def nbytes(self) -> int:
        """Bytes of the preallocated arrays at full capacity (slack slots included)."""
        return sum(a.nbytes for a in self._arrays().values())

    def num_transitions(self) -> int:
        """Stored transitions (frames other than episodes' first)."""
        if self.total == 0:
            return 0
        absolute = np.arange(self.oldest, self.total)
        return int(np.count_nonzero(absolute != self.episode_start[absolute % self.slots]))

    def valid(self, ends: np.ndarray) -> np.ndarray:
        """Which window ends are usable: a real last transition, every frame still in the ring."""
        start = self.episode_start[ends % self.slots]
        return (ends > start) & (np.maximum(ends - self.seq_len, start) >= self.oldest)

    def sample_ends(self, batch_size: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """Uniformly random valid window ends (absolute indices), by vectorised rejection; drawn with
        the buffer's own generator unless `rng` is given."""
        rng = self.rng if rng is None else rng
        if self.total == 0:
            raise ValueError("the replay buffer is empty")
        ends = rng.integers(self.oldest, self.total, size=batch_size)
        for _ in range(32):
            bad = ~self.valid(ends)
            if not bad.any():
                return ends
            ends[bad] = rng.integers(self.oldest, self.total, size=int(bad.sum()))
        candidates = np.arange(self.oldest, self.total)
        candidates = candidates[self.valid(candidates)]
        if len(candidates) == 0:
            raise ValueError("the replay buffer holds no complete transition to sample yet")
        bad = ~self.valid(ends)
        ends[bad] = rng.choice(candidates, size=int(bad.sum()))
        return ends

    def sample(self, batch_size: int, seq_len: int | None = None) -> SequenceBatch:
        """`batch_size` windows of `seq_len` transitions (seq_len + 1 frames), as CPU tensors."""
        if seq_len is not None and seq_len != self.seq_len:
            raise ValueError(f"this buffer samples windows of seq_len={self.seq_len}, asked for {seq_len}")
        return self.gather(self.sample_ends(batch_size))

    def gather(self, ends: np.ndarray) -> SequenceBatch:
        """The windows ending at the absolute frame indices `ends`."""
        L = self.seq_len
        start = self.episode_start[ends % self.slots][:, None]  # (B, 1)
        absolute = ends[:, None] + np.arange(-L, 1)  # (B, L+1)
        frame_real = absolute >= start
        step_real = absolute[:, 1:] > start  # transition into frame t+1 is real
        frame_slots = np.maximum(absolute, start) % self.slots
        step_slots = absolute[:, 1:] % self.slots
        step_mask = step_real.astype(np.float32)
        return SequenceBatch(
            images=self._gather_frames(frame_slots),
            actions=torch.from_numpy(self.actions[step_slots] * step_mask[..., None]),
            rewards=torch.from_numpy(self.rewards[step_slots] * step_mask),
            terminals=torch.from_numpy(self.terminals[step_slots] & step_real).float(),
            mask=torch.from_numpy(step_mask),
            frame_mask=torch.from_numpy(frame_real.astype(np.float32)),
        )

    def _gather_frames(self, slots: np.ndarray) -> torch.Tensor:
        """Frames at `slots`, gathered in one indexing pass; straight into page-locked memory when
        `pin_memory` (a CUDA learner then copies the batch asynchronously)."""
        if not self.pin_memory:
            return torch.from_numpy(self.frames[slots])
        dtype = torch.from_numpy(self.frames[:0]).dtype
        out = torch.empty((*slots.shape, *self.frames.shape[1:]), dtype=dtype, pin_memory=True)
        np.take(self.frames, slots, axis=0, out=out.numpy())
        return out

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, torch.Tensor | int]:
        """What is stored, oldest first, as tensors (no pickled objects)."""
        order = np.arange(self.oldest, self.total) % self.slots
        return {
            "frames": torch.from_numpy(self.frames[order]),
            "actions": torch.from_numpy(self.actions[order]),
            "rewards": torch.from_numpy(self.rewards[order]),
            "terminals": torch.from_numpy(self.terminals[order]),
            "episode_start": torch.from_numpy(self.episode_start[order]),
            "total": self.total,
            "current_start": self._current_start,
        }

    def load_state_dict(self, state: dict) -> None:
        total = int(state["total"])
        n = len(state["frames"])
        if n > self.capacity or n != min(total, self.capacity) or tuple(state["frames"].shape[1:]) != self.frame_shape:
            raise ValueError(
                f"replay state of {n} frames {tuple(state['frames'].shape[1:])} does not fit a buffer of "
                f"capacity {self.capacity} with frames {self.frame_shape}"
            )
        order = np.arange(total - n, total) % self.slots
        self.frames[order] = state["frames"].numpy()
        self.actions[order] = state["actions"].numpy()
        self.rewards[order] = state["rewards"].numpy()
        self.terminals[order] = state["terminals"].numpy()
        self.episode_start[order] = state["episode_start"].numpy()
        self.index[order] = np.arange(total - n, total)
        self.total = self.flushed = total
        self._current_start = int(state["current_start"])
