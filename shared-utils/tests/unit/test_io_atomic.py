"""Atomic writes: all-or-nothing, no temporary files left behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared_utils.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text


def test_write_text_and_bytes(tmp_path: Path) -> None:
    atomic_write_text(tmp_path / "sub" / "a.txt", "héllo")
    assert (tmp_path / "sub" / "a.txt").read_text(encoding="utf-8") == "héllo"
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01\x02")
    assert (tmp_path / "b.bin").read_bytes() == b"\x00\x01\x02"
    atomic_write_bytes(tmp_path / "b.bin", b"new")
    assert (tmp_path / "b.bin").read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.bin", "sub"]


def test_exception_mid_write_keeps_old_file_and_no_litter(tmp_path: Path) -> None:
    target = tmp_path / "state.json"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp != target
        tmp.write_text("half-writ")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


def test_atomic_path_keeps_suffix_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "x.png"
    with atomic_path(target) as tmp:
        assert tmp.suffix == ".png"
        tmp.write_bytes(b"abc")
        assert not target.exists()  # nothing visible before success
    assert target.read_bytes() == b"abc"
    assert [p.name for p in tmp_path.iterdir()] == ["x.png"]


def test_permissions_like_a_plain_write(tmp_path: Path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write_text(tmp_path / "atomic.txt", "x")
    assert (tmp_path / "atomic.txt").stat().st_mode == plain.stat().st_mode
    plain.chmod(0o600)
    atomic_write_text(plain, "y")  # an existing file keeps its mode
    assert plain.stat().st_mode & 0o777 == 0o600
