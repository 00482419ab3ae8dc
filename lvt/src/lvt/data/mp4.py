"""Folders of video files (Kinetics-style mp4): decoded with imageio/ffmpeg, each frame
centre-cropped to a square and resized to ``size`` (64 in the paper)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

VIDEO_SUFFIXES = (".mp4", ".avi", ".webm", ".mkv", ".mov", ".gif")


class VideoFolderError(ValueError):
    """A video file cannot be decoded or has no frames."""


def centre_crop_resize(frame: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) uint8 -> (size, size, 3) uint8: the largest centred square, area-resized."""
    h, w = frame.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = frame[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(square)
    return np.asarray(Image.fromarray(square).resize((size, size), Image.Resampling.BOX))


def read_video_file(
    path: str | Path, *, size: int = 64, max_frames: int | None = None
) -> np.ndarray:
    """A video file -> (T, size, size, 3) uint8."""
    import imageio.v3 as iio

    path = Path(path)
    frames = []
    try:
        for frame in iio.imiter(path):
            frame = np.asarray(frame)
            if frame.ndim == 2:
                frame = np.repeat(frame[..., None], 3, axis=2)
            frames.append(centre_crop_resize(frame[..., :3], size))
            if max_frames is not None and len(frames) >= max_frames:
                break
    except Exception as exc:  # imageio/ffmpeg raise several types
        raise VideoFolderError(f"{path}: cannot decode video ({exc})") from exc
    if not frames:
        raise VideoFolderError(f"{path}: no frames")
    return np.stack(frames)


def video_files(root: str | Path) -> list[Path]:
    """Sorted video files under ``root``."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"video root {root} is not a folder")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES)
    if not files:
        raise VideoFolderError(f"{root}: no video files ({', '.join(VIDEO_SUFFIXES)})")
    return files
