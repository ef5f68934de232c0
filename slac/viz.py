"""Videos of evaluation episodes."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def write_video(path: str | Path, frames: list[np.ndarray], fps: int = 30, scale: int = 4) -> Path:
    """Write (3, H, W) uint8 frames as a video (mp4 via imageio-ffmpeg, or gif), upscaled `scale` times."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [np.repeat(np.repeat(f.transpose(1, 2, 0), scale, 0), scale, 1) for f in frames]
    if path.suffix == ".gif":
        imageio.mimsave(path, images, duration=1 / fps)
    else:
        imageio.mimsave(path, images, fps=fps, macro_block_size=1)
    return path
