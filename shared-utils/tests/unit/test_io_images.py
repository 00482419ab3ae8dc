"""Image IO: float [0, 1] <-> 8-bit files, grayscale/alpha, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared_utils.io.images import (
    ImageFormatError,
    read_image,
    read_mask,
    to_uint8,
    write_image,
)


def test_png_round_trip_exact_on_8bit_grid(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (7, 9, 3)).astype(np.float32) / 255.0
    write_image(tmp_path / "a.png", img)
    back = read_image(tmp_path / "a.png")
    assert back.dtype == np.float32 and back.shape == (7, 9, 3)
    np.testing.assert_array_equal(back, img)


def test_float_is_clipped_and_uint8_passes(tmp_path: Path) -> None:
    img = np.array([[[-0.5, 0.5, 2.0]]], dtype=np.float32)
    np.testing.assert_array_equal(to_uint8(img), [[[0, 128, 255]]])
    write_image(tmp_path / "u.png", np.full((2, 2, 3), 7, np.uint8))
    np.testing.assert_allclose(read_image(tmp_path / "u.png"), 7 / 255.0)


def test_grayscale_and_alpha(tmp_path: Path) -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4) * 20
    Image.fromarray(gray, mode="L").save(tmp_path / "g.png")
    g = read_image(tmp_path / "g.png")
    assert g.shape == (3, 4, 3)
    np.testing.assert_allclose(g[..., 1], gray / 255.0, atol=1e-7)
    rgba = np.random.default_rng(1).integers(0, 256, (5, 6, 4)).astype(np.uint8)
    write_image(tmp_path / "a.png", rgba)
    np.testing.assert_allclose(read_image(tmp_path / "a.png") * 255.0, rgba, atol=1e-4)
    write_image(tmp_path / "w.png", gray)  # 2-D arrays are written as grayscale
    np.testing.assert_allclose(read_image(tmp_path / "w.png")[..., 2] * 255.0, gray, atol=1e-4)


def test_16bit_png(tmp_path: Path) -> None:
    deep = (np.arange(12).reshape(3, 4) * 5000).astype(np.uint16)
    Image.fromarray(deep).save(tmp_path / "d.png")
    img = read_image(tmp_path / "d.png")
    assert img.shape == (3, 4, 3)
    np.testing.assert_allclose(img[..., 0], deep / 65535.0, atol=1e-7)


def test_jpeg_close(tmp_path: Path) -> None:
    x = np.linspace(0, 1, 32, dtype=np.float32)
    img = np.stack([*np.meshgrid(x, x), np.full((32, 32), 0.5, np.float32)], axis=-1)
    write_image(tmp_path / "a.jpg", img)
    assert np.abs(read_image(tmp_path / "a.jpg") - img).mean() < 0.02
    with pytest.raises(ImageFormatError, match="alpha"):
        write_image(tmp_path / "b.jpg", np.zeros((4, 4, 4), np.float32))


def test_missing_and_corrupt_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope\.png"):
        read_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ImageFormatError, match=r"bad\.png"):
        read_image(bad)
    with pytest.raises(ImageFormatError, match="NaN"):
        write_image(tmp_path / "n.png", np.full((2, 2, 3), np.nan))


def test_read_mask_first_channel_and_size_check(tmp_path: Path) -> None:
    mask = np.zeros((4, 6), np.float32)
    mask[1:3, 2:5] = 1.0
    write_image(tmp_path / "grey.png", mask)
    rgb = np.stack([mask, 1 - mask, np.zeros_like(mask)], -1)  # only channel 0 is the mask
    write_image(tmp_path / "rgb.png", rgb)
    for name in ("grey.png", "rgb.png"):
        back = read_mask(tmp_path / name, (4, 6))
        assert back.dtype == np.float32 and back.shape == (4, 6)
        np.testing.assert_array_equal(back, mask)
    with pytest.raises(
        ImageFormatError, match=r"rgb\.png: mask size 6x4 differs from its image 5x4"
    ):
        read_mask(tmp_path / "rgb.png", (4, 5))
