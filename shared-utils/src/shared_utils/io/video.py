"""Writing and reading short videos: H.264 MP4 (via imageio-ffmpeg) and GIF (via Pillow).

MP4 files use libx264 with the yuv420p pixel format, which every browser and player
decodes. yuv420p needs even frame sizes, so odd heights/widths are padded by repeating
the last row/column (a reader gets the padded size back). GIFs store a palette of at
most 256 colours per frame; frames with at most 256 distinct colours round-trip
exactly, others are quantised. GIF frame delays are stored in 1/100 s, so the fps read
back is 100 / round(100 / fps).
"""

from __future__ import annotations

import os
from pathlib import Path

import imageio_ffmpeg
import numpy as np
from PIL import Image

from shared_utils.io.atomic import atomic_path
from shared_utils.io.images import to_uint8


class VideoFormatError(ValueError):
    """A video file is unreadable or frames have the wrong shape/dtype."""


def _frames_uint8(frames: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """(T, H, W, 3) float [0, 1] or uint8 -> uint8 (T, H, W, 3)."""
    arr = np.asarray(frames)
    if arr.ndim == 3:  # grayscale (T, H, W)
        arr = np.repeat(arr[..., None], 3, axis=3)
    if arr.ndim != 4 or arr.shape[3] not in (1, 3) or arr.shape[0] == 0:
        raise VideoFormatError(f"frames must be (T, H, W, 3) with T >= 1, got {arr.shape}")
    if arr.shape[3] == 1:
        arr = np.repeat(arr, 3, axis=3)
    return np.stack([to_uint8(f) for f in arr])


def _pad_even(frames: np.ndarray) -> np.ndarray:
    """Pad (T, H, W, 3) to even H and W by repeating the last row/column (yuv420p needs it)."""
    _, h, w, _ = frames.shape
    ph, pw = h % 2, w % 2
    if ph or pw:
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
    return frames


def _write_mp4(path: Path, frames: np.ndarray, fps: float, quality: float) -> None:
    frames = _pad_even(frames)
    _, h, w, _ = frames.shape
    writer = imageio_ffmpeg.write_frames(
        str(path),
        (w, h),
        fps=fps,
        codec="libx264",
        pix_fmt_in="rgb24",
        pix_fmt_out="yuv420p",
        quality=quality,
        macro_block_size=1,
        ffmpeg_log_level="error",
        output_params=["-movflags", "+faststart"],
    )
    writer.send(None)  # start the generator
    try:
        for frame in frames:
            writer.send(np.ascontiguousarray(frame))
    finally:
        writer.close()


def _palette_frame(frame: np.ndarray) -> Image.Image:
    """An exact palette image when the frame has <= 256 colours, else a quantised one."""
    flat = frame.reshape(-1, 3)
    colours, index = np.unique(flat, axis=0, return_inverse=True)
    if len(colours) <= 256:
        im = Image.fromarray(index.reshape(frame.shape[:2]).astype(np.uint8), mode="P")
        palette = np.zeros((256, 3), dtype=np.uint8)
        palette[: len(colours)] = colours
        im.putpalette(palette.reshape(-1).tolist())
        return im
    return Image.fromarray(frame).quantize(256, dither=Image.Dither.NONE)


def _write_gif(path: Path, frames: np.ndarray, fps: float) -> None:
    images = [_palette_frame(f) for f in frames]
    duration_ms = 10 * max(1, round(100.0 / fps))
    images[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=images[1:],
        duration=duration_ms,
        loop=0,
        optimize=False,
        disposal=1,
    )


def write_video(
    path: str | os.PathLike[str],
    frames: np.ndarray | list[np.ndarray],
    fps: float = 10.0,
    *,
    quality: float = 8.0,
) -> None:
    """Write frames to ``path`` (.mp4 or .gif) atomically.

    Args:
        path: output file; the suffix picks the format.
        frames: (T, H, W, 3) float in [0, 1] (clipped) or uint8; (T, H, W) is grayscale.
        fps: frames per second (> 0).
        quality: imageio-ffmpeg quality 0..10 for MP4 (10 is best).
    """
    p = Path(path)
    if fps <= 0:
        raise VideoFormatError(f"fps must be positive, got {fps} (writing {p})")
    data = _frames_uint8(frames)
    suffix = p.suffix.lower()
    with atomic_path(p) as tmp:
        if suffix == ".mp4":
            _write_mp4(tmp, data, fps, quality)
        elif suffix == ".gif":
            _write_gif(tmp, data, fps)
        else:
            raise VideoFormatError(
                f"unsupported video suffix {suffix!r} for {p} (use .mp4 or .gif)"
            )


def _read_gif(path: Path) -> tuple[np.ndarray, float]:
    frames = []
    durations = []
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            frames.append(np.asarray(im.convert("RGB")))
            durations.append(im.info.get("duration", 100))
    mean_ms = float(np.mean(durations)) if durations else 100.0
    fps = 1000.0 / mean_ms if mean_ms > 0 else 10.0
    return np.stack(frames), fps


def _read_ffmpeg(path: Path) -> tuple[np.ndarray, float]:
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    meta = reader.__next__()
    w, h = meta["size"]
    frames = [np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3) for buf in reader]
    if not frames:
        raise VideoFormatError(f"video {path} has no frames")
    return np.stack(frames), float(meta["fps"])


def read_video(path: str | os.PathLike[str]) -> tuple[np.ndarray, float]:
    """Read a video file.

    Returns:
        frames: uint8 (T, H, W, 3).
        fps: frames per second stored in the file.

    Raises:
        FileNotFoundError: the file does not exist.
        VideoFormatError: the file cannot be decoded (the message names it).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"video file not found: {p}")
    try:
        if p.suffix.lower() == ".gif":
            return _read_gif(p)
        return _read_ffmpeg(p)
    except VideoFormatError:
        raise
    except (OSError, RuntimeError, ValueError, StopIteration) as exc:
        raise VideoFormatError(f"cannot read video {p}: {exc}") from exc
