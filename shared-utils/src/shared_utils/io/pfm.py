"""Portable float maps (PFM): the float image format of the Middlebury and SceneFlow
disparity maps.

A PFM file is a text header (``PF`` for 3 channels or ``Pf`` for 1, ``width height``,
then a scale whose sign is the byte order: negative = little-endian) followed by raw
float32 rows stored bottom-to-top. Middlebury writes ``inf`` where a disparity is unknown.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from shared_utils.io.atomic import atomic_write_bytes


class PFMFormatError(ValueError):
    """A PFM file that cannot be read; the message names the file and the field."""


def _header_token(data: bytes, pos: int) -> tuple[str, int]:
    """The next whitespace-delimited header token and the position after it."""
    while pos < len(data) and data[pos : pos + 1].isspace():
        pos += 1
    end = pos
    while end < len(data) and not data[end : end + 1].isspace():
        end += 1
    return data[pos:end].decode("ascii", errors="replace"), end


def read_pfm(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a PFM file.

    Returns:
        (H, W) float32 for ``Pf`` files, (H, W, 3) float32 for ``PF``; row 0 is the top
        of the image (the file's bottom-to-top order is undone).

    Raises:
        PFMFormatError: a missing file, a bad header field or too few data bytes.
    """
    path = Path(path)
    if not path.is_file():
        raise PFMFormatError(f"{path}: file does not exist")
    data = path.read_bytes()
    kind, pos = _header_token(data, 0)
    if kind not in ("PF", "Pf"):
        raise PFMFormatError(f"{path}: field 'magic': expected 'PF' or 'Pf', got {kind!r}")
    tokens = []
    for field in ("width", "height", "scale"):
        tok, pos = _header_token(data, pos)
        tokens.append((field, tok))
    try:
        width, height = int(tokens[0][1]), int(tokens[1][1])
        scale = float(tokens[2][1])
    except ValueError as exc:
        raise PFMFormatError(f"{path}: field 'header': {tokens} are not numbers") from exc
    if width <= 0 or height <= 0:
        raise PFMFormatError(f"{path}: field 'size': {width}x{height} is not a valid size")
    if scale == 0.0:
        raise PFMFormatError(
            f"{path}: field 'scale': must be non-zero (its sign is the byte order)"
        )
    pos += 1  # exactly one whitespace byte ends the header
    channels = 3 if kind == "PF" else 1
    count = width * height * channels
    dtype = np.dtype("<f4" if scale < 0 else ">f4")
    if len(data) - pos < count * 4:
        raise PFMFormatError(
            f"{path}: field 'data': {width}x{height}x{channels} floats need {count * 4} bytes, "
            f"the file has {len(data) - pos}"
        )
    values = np.frombuffer(data, dtype=dtype, count=count, offset=pos).astype(np.float32)
    shape = (height, width, 3) if channels == 3 else (height, width)
    return np.ascontiguousarray(values.reshape(shape)[::-1])


def write_pfm(path: str | os.PathLike[str], image: np.ndarray) -> None:
    """Write (H, W) or (H, W, 3) floats atomically as a little-endian PFM (row 0 = top)."""
    arr = np.asarray(image, dtype=np.float32)
    if arr.ndim == 3 and arr.shape[2] == 3:
        kind = "PF"
    elif arr.ndim == 2:
        kind = "Pf"
    else:
        raise ValueError(f"write_pfm: image must be (H, W) or (H, W, 3), got {arr.shape}")
    header = f"{kind}\n{arr.shape[1]} {arr.shape[0]}\n-1.0\n".encode("ascii")
    body = np.ascontiguousarray(arr[::-1]).astype("<f4").tobytes()
    atomic_write_bytes(path, header + body)
