"""Folder-of-frames videos: ``root/<...>/<video>/<i>.png`` (the layout the official BAIR
converter writes: ``processed_data/<split>/<file>/<k>/<i>.png``). A video folder is any
folder holding image files; frames are ordered by the number in their names."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")


class FramesFormatError(ValueError):
    """A frame folder is empty, unreadable or has frames of different sizes."""


def _frame_number(path: Path) -> tuple[int, str]:
    digits = re.findall(r"\d+", path.stem)
    return (int(digits[-1]) if digits else -1, path.name)


def video_folders(root: str | Path) -> list[Path]:
    """Sorted folders under ``root`` (itself included) that directly contain images."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"frame root {root} is not a folder")
    found = sorted(
        {p.parent for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()}
    )
    if not found:
        raise FramesFormatError(f"{root}: no image files ({', '.join(IMAGE_SUFFIXES)}) found")
    return found


def read_frame_folder(folder: str | Path, *, size: int | None = None) -> np.ndarray:
    """One video folder -> (T, H, W, 3) uint8, frames in numeric order.

    Args:
        size: if given, every frame must be size x size (clear error otherwise).
    """
    folder = Path(folder)
    files = sorted(
        (p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_frame_number
    )
    if not files:
        raise FramesFormatError(f"{folder}: no frames")
    frames: list[np.ndarray] = []
    for f in files:
        try:
            img = np.asarray(Image.open(f).convert("RGB"))
        except Exception as exc:  # PIL raises several types
            raise FramesFormatError(f"{f}: unreadable image ({exc})") from exc
        if frames and img.shape != frames[0].shape:
            raise FramesFormatError(f"{f}: frame size {img.shape} differs from {frames[0].shape}")
        if size is not None and img.shape[:2] != (size, size):
            raise FramesFormatError(f"{f}: frame size {img.shape[:2]}, expected ({size}, {size})")
        frames.append(img)
    return np.stack(frames)
