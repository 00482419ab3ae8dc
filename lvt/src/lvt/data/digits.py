"""Embedded default data: moving handwritten digits built from scikit-learn's bundled
real 8x8 digit scans (no download). Each video shows one or two digits, upscaled and
tinted, moving at constant velocity and bouncing off the frame borders. Deterministic
by seed; training and held-out videos use disjoint digit scans."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_COLOURS = np.array(
    [[1.0, 1.0, 1.0], [1.0, 0.4, 0.3], [0.3, 0.8, 1.0], [1.0, 0.85, 0.2], [0.5, 1.0, 0.4]],
    dtype=np.float32,
)


@dataclass(frozen=True)
class MovingDigitsConfig:
    """Parameters of the moving-digits generator."""

    n_videos: int = 64
    """How many videos."""
    frames: int = 16
    """Frames per video."""
    size: int = 64
    """Frame height and width in pixels."""
    digit_scale: int = 3
    """Upscaling of the 8x8 scans (nearest neighbour + a 3x3 blur): 8*scale pixels."""
    digits_per_video: int = 1
    """Digits moving in each video."""
    max_speed: float = 3.0
    """Maximum speed in pixels per frame along each axis."""
    split: str = "train"
    """"train" uses the first 80% of the 1797 scans (by row), "test" the rest."""
    coloured: bool = True
    """Tint each digit with one of five colours (else white digits)."""
    seed: int = 0
    """Random seed."""


TRAIN_FRACTION = 0.8
"""Share of scikit-learn's 1797 scans (the first ones, by row) given to the train split."""


def digit_scan_rows(split: str) -> np.ndarray:
    """Rows of ``sklearn.datasets.load_digits()`` a split draws from: train the first 80%,
    test the rest (disjoint index ranges)."""
    from sklearn.datasets import load_digits

    n = len(load_digits().images)
    cut = int(TRAIN_FRACTION * n)
    if split == "train":
        return np.arange(cut)
    if split == "test":
        return np.arange(cut, n)
    raise ValueError(f"MovingDigitsConfig.split must be 'train' or 'test', got {split!r}")


def _upscale(img: np.ndarray, scale: int) -> np.ndarray:
    big = np.kron(img, np.ones((scale, scale), dtype=np.float32))
    padded = np.pad(big, 1, mode="constant")
    blurred = sum(
        padded[1 + dy : 1 + dy + big.shape[0], 1 + dx : 1 + dx + big.shape[1]]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    )
    return np.clip(blurred / 9.0 * 1.3, 0.0, 1.0)


def moving_digits(cfg: MovingDigitsConfig) -> np.ndarray:
    """Generate the videos.

    Returns:
        (n_videos, frames, size, size, 3) float32 in [0, 1].
    """
    return moving_digits_with_rows(cfg)[0]


def moving_digits_with_rows(cfg: MovingDigitsConfig) -> tuple[np.ndarray, np.ndarray]:
    """The videos of :func:`moving_digits` and the scans drawn in them.

    Returns:
        the videos (n_videos, frames, size, size, 3) float32 in [0, 1], and
        (n_videos, digits_per_video) int: the ``load_digits()`` row of each digit.
    """
    from sklearn.datasets import load_digits

    rng = np.random.default_rng(cfg.seed)
    rows = digit_scan_rows(cfg.split)
    scans = load_digits().images.astype(np.float32) / 16.0
    used = np.zeros((cfg.n_videos, cfg.digits_per_video), dtype=np.int64)
    side = 8 * cfg.digit_scale
    if side > cfg.size:
        raise ValueError(f"digits of {side} pixels do not fit in frames of {cfg.size}")
    span = cfg.size - side
    videos = np.zeros((cfg.n_videos, cfg.frames, cfg.size, cfg.size, 3), dtype=np.float32)
    for v in range(cfg.n_videos):
        for d in range(cfg.digits_per_video):
            used[v, d] = rows[rng.integers(len(rows))]
            digit = _upscale(scans[used[v, d]], cfg.digit_scale)
            colour = _COLOURS[rng.integers(len(_COLOURS))] if cfg.coloured else _COLOURS[0]
            pos = rng.uniform(0, span, size=2)
            vel = rng.uniform(-cfg.max_speed, cfg.max_speed, size=2)
            vel[np.abs(vel) < 0.5] = 0.5
            for t in range(cfg.frames):
                y, x = (round(float(c)) for c in pos)
                patch = videos[v, t, y : y + side, x : x + side]
                np.maximum(patch, digit[..., None] * colour, out=patch)
                pos = pos + vel
                for axis in range(2):  # bounce off the borders
                    if pos[axis] < 0:
                        pos[axis], vel[axis] = -pos[axis], -vel[axis]
                    elif pos[axis] > span:
                        pos[axis], vel[axis] = 2 * span - pos[axis], -vel[axis]
    return videos, used
