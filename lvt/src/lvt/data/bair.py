"""BAIR robot pushing (softmotion30_44k) read from its original TFRecords, no TensorFlow.

Each record is one trajectory: a tf.train.Example with, for frame i in 0..29, the key
``"{i}/image_aux1/encoded"`` holding one bytes value: the 64x64 RGB frame as raw uint8
bytes (what the official LVT converter and SAVP decode), or a PNG/JPEG (accepted too).
Other keys (``{i}/image_main/encoded``, ``{i}/action``, ``{i}/endeffector_pos``) are ignored.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from lvt.data.tfrecord import TFRecordFormatError, parse_example, read_records

BAIR_IMAGE_KEY = "{i}/image_aux1/encoded"
"""Key of frame i in a BAIR example (the 64x64 camera the papers use)."""
BAIR_FRAMES = 30
"""Frames per BAIR trajectory."""


def decode_frame(data: bytes, size: int, where: str) -> np.ndarray:
    """Raw (size*size*3 bytes) or PNG/JPEG bytes -> (size, size, 3) uint8."""
    if len(data) == size * size * 3:
        return np.frombuffer(data, dtype=np.uint8).reshape(size, size, 3).copy()
    if data[:8] == b"\x89PNG\r\n\x1a\n" or data[:2] == b"\xff\xd8":
        img = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
        if img.shape != (size, size, 3):
            raise TFRecordFormatError(
                f"{where}: image is {img.shape}, expected ({size}, {size}, 3)"
            )
        return img
    raise TFRecordFormatError(
        f"{where}: {len(data)} bytes are neither a raw {size}x{size} RGB frame "
        f"({size * size * 3} bytes) nor a PNG/JPEG"
    )


def read_bair_tfrecord(
    path: str | Path,
    *,
    frames: int = BAIR_FRAMES,
    size: int = 64,
    key: str = BAIR_IMAGE_KEY,
    verify_data_crc: bool = True,
) -> Iterator[np.ndarray]:
    """Yield the trajectories of one BAIR TFRecord file as (frames, size, size, 3) uint8.

    Raises:
        TFRecordFormatError: a malformed record, or a missing/bad frame field (named).
    """
    for n, data in enumerate(read_records(path, verify_data_crc=verify_data_crc)):
        where = f"{path}: record {n}"
        feats = parse_example(data, where=where)
        video = []
        for i in range(frames):
            name = key.format(i=i)
            value = feats.get(name)
            if not isinstance(value, list) or not value:
                raise TFRecordFormatError(f"{where}: missing bytes field {name!r}")
            video.append(decode_frame(value[0], size, f"{where}: field {name!r}"))
        yield np.stack(video)


def read_bair_folder(root: str | Path, **kwargs: object) -> Iterator[np.ndarray]:
    """All trajectories of the ``*.tfrecords`` files under ``root``, in sorted file order."""
    files = sorted(Path(root).rglob("*.tfrecords"))
    if not files:
        raise FileNotFoundError(f"no *.tfrecords files under {root}")
    for f in files:
        yield from read_bair_tfrecord(f, **kwargs)  # type: ignore[arg-type]
