"""Video IO: GIF round trip is exact, MP4 (H.264 yuv420p) is close; fps survives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared_utils.io.video import VideoFormatError, read_video, write_video


def _smooth_frames(t: int, h: int, w: int) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    frames = [
        np.stack([np.sin(3 * x + 0.2 * k) * 0.4 + 0.5, y, np.full_like(x, 0.3)], axis=-1)
        for k in range(t)
    ]
    return np.stack(frames).astype(np.float32)


def test_gif_round_trip_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frames = (rng.integers(0, 4, (5, 17, 23, 3)) * 80).astype(np.uint8)  # 64 colours
    write_video(tmp_path / "a.gif", frames, fps=10)
    back, fps = read_video(tmp_path / "a.gif")
    np.testing.assert_array_equal(back, frames)
    assert fps == pytest.approx(10.0)


def test_mp4_round_trip_psnr(tmp_path: Path) -> None:
    frames = _smooth_frames(6, 32, 48)
    write_video(tmp_path / "a.mp4", frames, fps=12)
    back, fps = read_video(tmp_path / "a.mp4")
    assert back.shape == (6, 32, 48, 3) and back.dtype == np.uint8
    assert fps == pytest.approx(12.0)
    mse = np.mean((back / 255.0 - frames) ** 2)
    assert 10 * np.log10(1.0 / mse) > 30.0
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]


def test_mp4_odd_size_is_padded_to_even(tmp_path: Path) -> None:
    frames = _smooth_frames(3, 31, 45)
    write_video(tmp_path / "odd.mp4", frames, fps=5)
    back, _ = read_video(tmp_path / "odd.mp4")
    assert back.shape == (3, 32, 46, 3)
    mse = np.mean((back[:, :31, :45] / 255.0 - frames) ** 2)
    assert 10 * np.log10(1.0 / mse) > 30.0


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(VideoFormatError, match="avi"):
        write_video(tmp_path / "a.avi", np.zeros((2, 4, 4, 3)), fps=5)
    with pytest.raises(VideoFormatError, match=r"\(T, H, W, 3\)"):
        write_video(tmp_path / "a.mp4", np.zeros((2, 4, 4, 5)), fps=5)
    with pytest.raises(FileNotFoundError, match=r"none\.mp4"):
        read_video(tmp_path / "none.mp4")
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(VideoFormatError, match=r"bad\.mp4"):
        read_video(bad)
    assert not (tmp_path / "a.avi").exists()
