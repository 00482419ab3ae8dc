"""HDF5 IO: round trips, attributes, selected fields, spec checks naming file + field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from shared_utils.io.hdf5 import FieldSpec, HDF5FormatError, read_hdf5, read_hdf5_attrs, write_hdf5


def _arrays() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    return {
        "image": rng.random((3, 8, 8)).astype(np.float32),
        "ids": np.arange(5, dtype=np.int64),
        "group/depth": rng.random((2, 4)),
        "scalar": np.array(3.5),
    }


@pytest.mark.parametrize("compression", ["lzf", "gzip", None])
def test_round_trip(tmp_path: Path, compression: str | None) -> None:
    arrays = _arrays()
    write_hdf5(
        tmp_path / "a.h5", arrays, compression=compression, attrs={"fps": 10, "name": "bair"}
    )
    back = read_hdf5(tmp_path / "a.h5")
    assert set(back) == set(arrays)
    for k, v in arrays.items():
        assert back[k].dtype == v.dtype
        np.testing.assert_array_equal(back[k], v)
    attrs = read_hdf5_attrs(tmp_path / "a.h5")
    assert attrs["fps"] == 10 and attrs["name"] == "bair"


def test_lzf_is_the_default(tmp_path: Path) -> None:
    import h5py

    write_hdf5(tmp_path / "a.h5", {"x": np.zeros((64, 64))})
    with h5py.File(tmp_path / "a.h5", "r") as f:
        assert f["x"].compression == "lzf"


def test_selected_fields_and_specs(tmp_path: Path) -> None:
    write_hdf5(tmp_path / "a.h5", _arrays())
    sel = read_hdf5(tmp_path / "a.h5", ["ids"])
    assert list(sel) == ["ids"]
    ok = read_hdf5(
        tmp_path / "a.h5",
        {"image": (None, 8, 8), "ids": FieldSpec(shape=(5,), dtype="int"), "scalar": None},
    )
    assert ok["image"].shape == (3, 8, 8)
    with pytest.raises(HDF5FormatError, match=r"a\.h5.*'image'.*\(3, 8, 8\)"):
        read_hdf5(tmp_path / "a.h5", {"image": (None, 64, 64)})
    with pytest.raises(HDF5FormatError, match=r"a\.h5.*'image'.*dtype float32"):
        read_hdf5(tmp_path / "a.h5", {"image": FieldSpec(dtype="uint8")})
    with pytest.raises(HDF5FormatError, match=r"a\.h5.*'ids'.*float"):
        read_hdf5(tmp_path / "a.h5", {"ids": FieldSpec(dtype="float")})
    with pytest.raises(HDF5FormatError, match=r"a\.h5.*'labels' is missing"):
        read_hdf5(tmp_path / "a.h5", ["labels"])


def test_not_hdf5_and_missing(tmp_path: Path) -> None:
    (tmp_path / "x.h5").write_bytes(b"plain text")
    with pytest.raises(HDF5FormatError, match=r"x\.h5"):
        read_hdf5(tmp_path / "x.h5")
    with pytest.raises(FileNotFoundError, match=r"y\.h5"):
        read_hdf5(tmp_path / "y.h5")
