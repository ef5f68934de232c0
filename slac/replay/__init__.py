"""The replay: a ring of uint8 frames (or state vectors) with actions, rewards and terminal flags,
sampled as windows by array indexing (`buffer.py`), and its memory-mapped files in a run
directory with their checks (`files.py`). Imports nothing of slac's but errors."""

from slac.replay.buffer import SequenceBatch, SequenceReplay

__all__ = ["SequenceBatch", "SequenceReplay"]
