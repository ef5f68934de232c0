"""Pictures of what the agent sees and what its model imagines: videos, rollout grids and GIFs.

`model_rollouts` gives, for one recorded sequence, the rows of the paper's appendix figure:
the ground-truth frames, reconstructions of posterior samples, open-loop predictions of the
prior given only the first frame, and samples of the prior alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

ROW_LABELS = ("ground truth", "posterior", "prior | frame 1", "prior only")
LABEL_WIDTH = 112  # pixels of the label column in a grid


def write_video(path: str | Path, frames: list[np.ndarray], fps: int = 30, scale: int = 4) -> Path:
    """Write (3, H, W) uint8 frames as a video (mp4 via imageio-ffmpeg, or gif), upscaled `scale` times."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = [upscale(f.transpose(1, 2, 0), scale) for f in frames]
    if path.suffix == ".gif":
        imageio.mimsave(path, images, duration=1 / fps, loop=0)
    else:
        imageio.mimsave(path, images, fps=fps, macro_block_size=1)
    return path


def upscale(image: np.ndarray, scale: int) -> np.ndarray:
    """(H, W, C) -> (H * scale, W * scale, C), nearest neighbour."""
    return np.repeat(np.repeat(image, scale, 0), scale, 1) if scale > 1 else image


def side_by_side(observation: np.ndarray, view: np.ndarray) -> np.ndarray:
    """The agent's (3, 64, 64) input upscaled to the height of `view` (S, S, 3), left of it: (3, S, 2S)."""
    size = view.shape[0]
    left = upscale(observation.transpose(1, 2, 0), max(size // observation.shape[1], 1))
    pad = np.zeros((size, size, 3), np.uint8)
    pad[: left.shape[0], : left.shape[1]] = left[:size, :size]
    return np.concatenate([pad, view], axis=1).transpose(2, 0, 1)


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


@torch.no_grad()
def model_rollouts(agent, frames: np.ndarray, actions: np.ndarray) -> list[np.ndarray]:
    """Rows of ROW_LABELS for one sequence: frames (T+1, 3, 64, 64) uint8, actions (T, A).
    Each row is (T+1, 3, 64, 64) uint8. Posterior: z_t ~ q(z_t | x_1:t, a_1:t-1), decoded. Prior
    given frame 1: z_1 from the posterior, then z_t+1 ~ p(z_t+1 | z_t, a_t) open loop. Prior only:
    z_1 ~ p(z_1), then the same transitions."""
    model, device = agent.model, agent.device
    pixels = torch.as_tensor(frames, device=device)[None]
    action_t = torch.as_tensor(np.asarray(actions, np.float32), device=device)[None]
    resets = torch.zeros(1, pixels.shape[1], dtype=torch.bool, device=device)
    resets[:, 0] = True
    posterior = model.posterior(model.encode_pixels(pixels), action_t, resets).z
    open_loop = model.prior(action_t, first=posterior[:, 0])
    prior_only = model.prior(action_t)
    decoded = [_to_uint8(model.decode(z)[0]) for z in (posterior, open_loop, prior_only)]
    return [np.asarray(frames, np.uint8), *decoded]


def rollout_grid(episodes: list[list[np.ndarray]], scale: int = 1, labels: tuple[str, ...] = ROW_LABELS) -> np.ndarray:
    """One (H, W, 3) uint8 picture: for each episode its rows of frames, labelled on the left.
    Size: height = rows * 64 * scale (+ 4 px between episodes), width = LABEL_WIDTH + frames * 64 * scale."""
    blocks = []
    for rows in episodes:
        strip = np.concatenate([np.concatenate([upscale(f.transpose(1, 2, 0), scale) for f in row], axis=1)
                                for row in rows], axis=0)
        blocks.append(np.concatenate([_label_column(labels[: len(rows)], strip.shape[0]), strip], axis=1))
    gap = np.full((4, blocks[0].shape[1], 3), 255, np.uint8)
    parts = []
    for block in blocks:
        parts += [block, gap]
    return np.concatenate(parts[:-1], axis=0)


def rollout_gif_frames(episodes: list[list[np.ndarray]], scale: int = 2) -> list[np.ndarray]:
    """Frames of an animation: at time t, each episode's rows side by side as one column per row
    (ground truth | posterior | prior | frame 1 | prior only), episodes stacked."""
    steps = min(len(rows[0]) for rows in episodes)
    frames = []
    for t in range(steps):
        per_episode = [np.concatenate([upscale(row[t].transpose(1, 2, 0), scale) for row in rows], axis=1)
                       for rows in episodes]
        frames.append(np.concatenate(per_episode, axis=0))
    return frames


def _label_column(labels: tuple[str, ...], height: int) -> np.ndarray:
    from PIL import Image, ImageDraw

    column = Image.new("RGB", (LABEL_WIDTH, height), "white")
    draw = ImageDraw.Draw(column)
    row_height = height // len(labels)
    for i, label in enumerate(labels):
        draw.text((4, i * row_height + row_height // 2 - 6), label, fill="black")
    return np.asarray(column)


def save_rollouts(path: str | Path, episodes: list[list[np.ndarray]], fps: int = 4) -> Path:
    """A .png grid (`rollout_grid`, frames at 2x) or a .gif animation (`rollout_gif_frames`)."""
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".gif":
        imageio.mimsave(path, rollout_gif_frames(episodes), duration=1 / fps, loop=0)
    elif path.suffix == ".png":
        imageio.imwrite(path, rollout_grid(episodes, scale=2))
    else:
        from slac.errors import SlacError

        raise SlacError(f"{path}: write a .png (grid) or a .gif (animation)")
    return path
