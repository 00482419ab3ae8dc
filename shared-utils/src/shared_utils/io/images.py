"""Reading and writing images as float32 arrays in [0, 1].

On disk images are 8-bit (PNG, JPEG, BMP, ...) or 16-bit PNG; in memory they are
float32 (H, W, 3) or (H, W, 4) with values in [0, 1]. Grayscale files are expanded to
three channels so callers always get colour; alpha is kept as a fourth channel.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from shared_utils.io.atomic import atomic_path


class ImageFormatError(ValueError):
    """An image file is missing, unreadable or an array cannot be written as an image."""


def read_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an image file as float32 (H, W, 3) or (H, W, 4) in [0, 1].

    Grayscale (L, I;16) becomes three equal channels; grayscale+alpha becomes RGBA;
    palette images are converted to RGB(A). 16-bit files are scaled by 1/65535.

    Raises:
        FileNotFoundError: the file does not exist (the message names it).
        ImageFormatError: the file exists but is not a readable image.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"image file not found: {p}")
    try:
        with Image.open(p) as im:
            im.load()
            mode = im.mode
            if mode in ("I;16", "I;16B", "I;16L", "I"):
                # 16-bit grayscale (older Pillow versions open it as "I")
                gray = (np.asarray(im, dtype=np.float64) / 65535.0).astype(np.float32)
                return np.repeat(gray[..., None], 3, axis=2)
            if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
                rgb = np.asarray(im.convert("RGBA"))
            else:
                rgb = np.asarray(im.convert("RGB"))
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageFormatError(f"cannot read image {p}: {exc}") from exc
    return rgb.astype(np.float32) / 255.0


def to_uint8(img: np.ndarray) -> np.ndarray:
    """Convert an image to uint8: floats are clipped to [0, 1] and rounded; uint8 passes through.

    Args:
        img: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), float in [0, 1] or uint8.
    Returns:
        uint8 array of the same shape (a trailing singleton channel is dropped).
    """
    arr = np.asarray(img)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageFormatError(f"image must be (H, W), (H, W, 3) or (H, W, 4), got {arr.shape}")
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if not np.issubdtype(arr.dtype, np.floating):
        raise ImageFormatError(f"image dtype must be float in [0, 1] or uint8, got {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise ImageFormatError("image contains NaN or Inf values")
    return np.round(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)


def read_mask(path: str | os.PathLike[str], size: tuple[int, int] | None = None) -> np.ndarray:
    """Read a foreground mask file as float32 (H, W) in [0, 1]: its first channel.

    Args:
        path: a grey, RGB or RGBA image file.
        size: (H, W) the mask must have (its image's size); None skips the check.

    Raises:
        FileNotFoundError / ImageFormatError: as :func:`read_image`; ImageFormatError also
            when the size differs (the message names the file and both sizes).
    """
    m = read_image(path)[..., 0]
    if size is not None and m.shape != tuple(size):
        raise ImageFormatError(
            f"{path}: mask size {m.shape[1]}x{m.shape[0]} differs from its image "
            f"{size[1]}x{size[0]}"
        )
    return m


def write_image(path: str | os.PathLike[str], img: np.ndarray, *, quality: int = 95) -> None:
    """Write an image atomically; the format follows the suffix (.png, .jpg, ...).

    Args:
        path: output file; parent folders are created.
        img: (H, W), (H, W, 3) or (H, W, 4) float in [0, 1] (clipped) or uint8.
        quality: JPEG quality (ignored by lossless formats).
    """
    p = Path(path)
    arr = to_uint8(img)
    suffix = p.suffix.lower()
    if suffix in (".jpg", ".jpeg") and arr.ndim == 3 and arr.shape[2] == 4:
        raise ImageFormatError(f"JPEG cannot store an alpha channel: {p}")
    im = Image.fromarray(arr)
    fmt = Image.registered_extensions().get(suffix)
    if fmt is None:
        raise ImageFormatError(f"unknown image format for {p} (suffix {suffix!r})")
    with atomic_path(p) as tmp:
        if fmt == "JPEG":
            im.save(tmp, format=fmt, quality=quality)
        else:
            im.save(tmp, format=fmt)
