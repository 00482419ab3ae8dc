"""Data loaders on tiny files written by the tests in the real formats: a BAIR TFRecord
(framing and tf.train.Example protobuf written by hand here), a folder of frames, an mp4
folder; malformed inputs get errors naming the file and the field."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lvt.data.bair import read_bair_tfrecord
from lvt.data.digits import MovingDigitsConfig, moving_digits
from lvt.data.frames import FramesFormatError, read_frame_folder, video_folders
from lvt.data.mp4 import centre_crop_resize, read_video_file, video_files
from lvt.data.tfrecord import (
    TFRecordFormatError,
    crc32c,
    encode_example,
    parse_example,
    read_records,
    write_records,
)


# --- an independent, bit-by-bit writer of the real formats -------------------------------
def _crc32c_bitwise(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 * (crc & 1))
    return crc ^ 0xFFFFFFFF


def _crc32c_fast(data: bytes) -> int:
    """Byte-at-a-time CRC-32C from a table derived from the bitwise definition above."""
    table = [0] * 256
    for b in range(256):
        crc = b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 * (crc & 1))
        table[b] = crc
    crc = 0xFFFFFFFF
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def _masked(data: bytes) -> int:
    crc = _crc32c_fast(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(v: int) -> bytes:
    out = b""
    while v >= 0x80:
        out += bytes([(v & 0x7F) | 0x80])
        v >>= 7
    return out + bytes([v])


def _ld(field: int, payload: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(payload)) + payload


def _example(features: dict[str, bytes]) -> bytes:
    """features: key -> serialised Feature message."""
    entries = b"".join(_ld(1, _ld(1, k.encode()) + _ld(2, v)) for k, v in features.items())
    return _ld(1, entries)


def _bytes_feature(value: bytes) -> bytes:
    return _ld(1, _ld(1, value))


def _float_feature(values: list[float]) -> bytes:
    return _ld(2, _ld(1, struct.pack(f"<{len(values)}f", *values)))


def _tfrecord(records: list[bytes]) -> bytes:
    out = b""
    for data in records:
        length = struct.pack("<Q", len(data))
        out += length + struct.pack("<I", _masked(length)) + data + struct.pack("<I", _masked(data))
    return out


def _bair_file(path: Path, videos: np.ndarray) -> None:
    records = []
    for video in videos:
        feats = {}
        for i, frame in enumerate(video):
            feats[f"{i}/image_aux1/encoded"] = _bytes_feature(frame.tobytes())
            feats[f"{i}/image_main/encoded"] = _bytes_feature(frame[::-1].tobytes())
            feats[f"{i}/action"] = _float_feature([0.1 * i, -0.5, 0.0, 1.0])
        records.append(_example(feats))
    path.write_bytes(_tfrecord(records))


# --- tests --------------------------------------------------------------------------------
def test_crc32c_known_answer() -> None:
    assert crc32c(b"123456789") == 0xE3069283 == _crc32c_bitwise(b"123456789")
    data = bytes(range(256)) * 3
    assert crc32c(data) == _crc32c_bitwise(data) == _crc32c_fast(data)
    assert crc32c(b"") == 0


def test_bair_tfrecord_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    videos = rng.integers(0, 256, (2, 30, 64, 64, 3), dtype=np.uint8)
    path = tmp_path / "traj_0_to_255.tfrecords"
    _bair_file(path, videos)
    read = list(read_bair_tfrecord(path))
    assert len(read) == 2
    for got, want in zip(read, videos):
        assert got.dtype == np.uint8 and np.array_equal(got, want)


def test_example_parser_reads_every_feature_kind() -> None:
    data = encode_example(
        {"b": [b"xy", b"z"], "f": np.array([1.5, -2.0]), "i": np.array([3, -1, 300])}
    )
    feats = parse_example(data)
    assert feats["b"] == [b"xy", b"z"]
    assert np.array_equal(feats["f"], np.array([1.5, -2.0], dtype=np.float32))
    assert feats["i"].tolist() == [3, -1, 300]
    # the hand-written and the package writers agree byte for byte on bytes features
    assert encode_example({"k": [b"v"]}) == _example({"k": _bytes_feature(b"v")})


def test_png_frames_are_accepted(tmp_path: Path) -> None:
    import io

    frame = np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    feats = {f"{i}/image_aux1/encoded": _bytes_feature(buf.getvalue()) for i in range(3)}
    path = tmp_path / "png.tfrecords"
    path.write_bytes(_tfrecord([_example(feats)]))
    (video,) = read_bair_tfrecord(path, frames=3)
    assert np.array_equal(video[2], frame)


def test_malformed_tfrecords_get_clear_errors(tmp_path: Path) -> None:
    videos = np.zeros((1, 30, 64, 64, 3), dtype=np.uint8)
    good = tmp_path / "good.tfrecords"
    _bair_file(good, videos)
    raw = good.read_bytes()
    cases = {
        "truncated.tfrecords": (raw[:-100], "truncated data"),
        "badcrc.tfrecords": (
            raw[:20] + bytes([raw[20] ^ 1]) + raw[21:],
            "field 'data' fails its CRC",
        ),
        "notrecord.tfrecords": (b"hello world, not a tfrecord", "field 'length' fails its CRC"),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(TFRecordFormatError, match=message) as info:
            list(read_records(path))
        assert name in str(info.value)
    missing = tmp_path / "missing.tfrecords"
    write_records(missing, [encode_example({"0/image_aux1/encoded": [bytes(64 * 64 * 3)]})])
    with pytest.raises(TFRecordFormatError, match="'1/image_aux1/encoded'"):
        list(read_bair_tfrecord(missing))
    wrong = tmp_path / "wrong_size.tfrecords"
    write_records(wrong, [encode_example({f"{i}/image_aux1/encoded": [b"abc"] for i in range(30)})])
    with pytest.raises(TFRecordFormatError, match="neither a raw 64x64"):
        list(read_bair_tfrecord(wrong))


def test_frame_folders(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    video = rng.integers(0, 256, (12, 16, 16, 3), dtype=np.uint8)
    folder = tmp_path / "processed_data" / "test" / "traj_0" / "1"
    folder.mkdir(parents=True)
    for i, frame in enumerate(video):  # 0.png .. 11.png: numeric, not lexicographic order
        Image.fromarray(frame).save(folder / f"{i}.png")
    assert video_folders(tmp_path) == [folder]
    assert np.array_equal(read_frame_folder(folder), video)
    with pytest.raises(FramesFormatError, match="expected"):
        read_frame_folder(folder, size=64)
    Image.fromarray(video[0, :8]).save(folder / "12.png")
    with pytest.raises(FramesFormatError, match=r"12\.png"):
        read_frame_folder(folder)
    (folder / "12.png").unlink()
    (folder / "13.png").write_bytes(b"not an image")
    with pytest.raises(FramesFormatError, match=r"13\.png"):
        read_frame_folder(folder)


def test_mp4_folder_centre_crop_and_resize(tmp_path: Path) -> None:
    from shared_utils.io.video import write_video

    frames = np.zeros((6, 96, 128, 3), dtype=np.uint8)
    frames[:, :, :16] = 255  # a white band on the left, cropped away by the centre crop
    frames[:, 32:64, 48:80] = 200  # a grey square at the centre
    path = tmp_path / "clips" / "a.mp4"
    path.parent.mkdir()
    write_video(path, frames, fps=10)
    assert video_files(tmp_path) == [path]
    video = read_video_file(path, size=64)
    assert video.shape == (6, 64, 64, 3)
    assert video[:, :, :4].mean() < 20  # the band was cropped away
    assert abs(float(video[:, 30:34, 30:34].mean()) - 200) < 15
    bad = tmp_path / "clips" / "b.mp4"
    bad.write_bytes(b"garbage")
    with pytest.raises(ValueError, match=r"b\.mp4"):
        read_video_file(bad)


def test_centre_crop_resize_is_exact_on_blocks() -> None:
    frame = np.kron(np.arange(4, dtype=np.uint8).reshape(2, 2) * 60, np.ones((8, 8), np.uint8))
    frame = np.pad(frame, ((0, 0), (4, 4)))[..., None].repeat(3, 2)  # (16, 24, 3)
    out = centre_crop_resize(frame, 2)
    assert out[..., 0].tolist() == [[0, 60], [120, 180]]


def test_moving_digits_deterministic_and_split() -> None:
    cfg = MovingDigitsConfig(n_videos=3, frames=5, size=32, digit_scale=2, seed=7)
    a, b = moving_digits(cfg), moving_digits(cfg)
    assert a.shape == (3, 5, 32, 32, 3) and np.array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.max() > 0.5
    # digits move: consecutive frames differ
    assert np.abs(a[:, 1:] - a[:, :-1]).mean() > 1e-3
    test = moving_digits(
        MovingDigitsConfig(n_videos=3, frames=5, size=32, digit_scale=2, seed=7, split="test")
    )
    assert not np.array_equal(a, test)
    with pytest.raises(ValueError, match="split"):
        moving_digits(MovingDigitsConfig(split="val"))


def test_digits_splits_draw_from_disjoint_scan_rows() -> None:
    from sklearn.datasets import load_digits

    from lvt.data.digits import digit_scan_rows, moving_digits_with_rows

    images = load_digits().images
    train_rows, test_rows = digit_scan_rows("train"), digit_scan_rows("test")
    # two contiguous index ranges covering the 1797 scans: [0, 1437) and [1437, 1797)
    assert train_rows.tolist() == list(range(1437))
    assert test_rows.tolist() == list(range(1437, len(images)))
    used = {}
    for split in ("train", "test"):
        cfg = MovingDigitsConfig(
            n_videos=40, frames=3, size=32, digit_scale=2, digits_per_video=2, seed=5, split=split
        )
        videos, rows = moving_digits_with_rows(cfg)
        np.testing.assert_array_equal(videos, moving_digits(cfg))
        assert rows.shape == (40, 2)
        used[split] = set(rows.ravel().tolist())
    assert used["train"] <= set(train_rows.tolist()) and used["test"] <= set(test_rows.tolist())
    assert not used["train"] & used["test"]
    # the scans themselves: no held-out digit image equals any training-split image
    train_images = {images[r].tobytes() for r in train_rows}
    assert not any(images[r].tobytes() in train_images for r in used["test"])


def test_unified_sources(tmp_path: Path) -> None:
    from lvt.data.sources import iter_videos

    rng = np.random.default_rng(3)
    videos = rng.integers(0, 256, (2, 30, 64, 64, 3), dtype=np.uint8)
    (tmp_path / "bair" / "train").mkdir(parents=True)
    _bair_file(tmp_path / "bair" / "train" / "traj_0_to_1.tfrecords", videos)
    got = list(iter_videos("bair", tmp_path / "bair", frames=16))
    assert [name for name, _ in got] == ["bair_000000", "bair_000001"]
    assert np.array_equal(got[1][1], videos[1])
    for i, frame in enumerate(videos[0, :5]):
        (tmp_path / "frames" / "clip").mkdir(parents=True, exist_ok=True)
        Image.fromarray(frame).save(tmp_path / "frames" / "clip" / f"{i}.png")
    assert list(iter_videos("frames", tmp_path / "frames", frames=16)) == []  # too short
    ((_, clip),) = list(iter_videos("frames", tmp_path / "frames", frames=5))
    assert np.array_equal(clip, videos[0, :5])
    with pytest.raises(ValueError, match="needs a data root"):
        list(iter_videos("bair"))
    with pytest.raises(ValueError, match="unknown video source"):
        list(iter_videos("youtube", tmp_path))
