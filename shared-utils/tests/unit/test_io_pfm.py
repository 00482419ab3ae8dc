"""PFM float maps: byte order, bottom-to-top rows, round trips and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared_utils.io.pfm import PFMFormatError, read_pfm, write_pfm


def test_big_endian_file_written_by_hand_reads_top_row_first(tmp_path: Path) -> None:
    # 2 x 3 grey map, positive scale = big-endian; the file stores the bottom row first
    rows_bottom_up = np.array([[4.0, 5.0], [2.0, 3.0], [0.0, np.inf]], dtype=">f4")
    path = tmp_path / "d.pfm"
    path.write_bytes(b"Pf\n2 3\n1.0\n" + rows_bottom_up.tobytes())
    got = read_pfm(path)
    assert got.dtype == np.float32 and got.shape == (3, 2)
    np.testing.assert_array_equal(got, [[0.0, np.inf], [2.0, 3.0], [4.0, 5.0]])


@pytest.mark.parametrize("shape", [(5, 7), (4, 3, 3)])
def test_round_trip_keeps_values_and_inf(tmp_path: Path, shape: tuple[int, ...]) -> None:
    rng = np.random.default_rng(0)
    image = rng.normal(size=shape).astype(np.float32)
    image[1, 2] = np.inf
    write_pfm(tmp_path / "x.pfm", image)
    data = (tmp_path / "x.pfm").read_bytes()
    assert data.startswith(b"PF\n" if len(shape) == 3 else b"Pf\n")
    np.testing.assert_array_equal(read_pfm(tmp_path / "x.pfm"), image)


@pytest.mark.parametrize(
    ("content", "field"),
    [
        (b"P6\n2 2\n-1.0\n" + bytes(16), "magic"),
        (b"Pf\n2 x\n-1.0\n" + bytes(16), "header"),
        (b"Pf\n2 2\n0\n" + bytes(16), "scale"),
        (b"Pf\n0 2\n-1.0\n", "size"),
        (b"Pf\n2 2\n-1.0\n" + bytes(12), "data"),
    ],
)
def test_bad_files_name_the_file_and_field(tmp_path: Path, content: bytes, field: str) -> None:
    path = tmp_path / "bad.pfm"
    path.write_bytes(content)
    with pytest.raises(PFMFormatError, match=rf"bad\.pfm: field '{field}'"):
        read_pfm(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(PFMFormatError, match="does not exist"):
        read_pfm(tmp_path / "none.pfm")
