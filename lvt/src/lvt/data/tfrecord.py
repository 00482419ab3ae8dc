"""TFRecord files and tf.train.Example protobufs, read and written without TensorFlow.

A TFRecord file is a sequence of records, each:

    uint64 length (little endian) | uint32 masked_crc32c(length bytes)
    | data[length]                | uint32 masked_crc32c(data)

with masked_crc(x) = ((crc >> 15) | (crc << 17)) + 0xa282ead8 (mod 2^32) and crc32c the
Castagnoli CRC. ``data`` is a serialised ``tf.train.Example``:

    Example  { Features features = 1; }
    Features { map<string, Feature> feature = 1; }   (map entry: key = 1, value = 2)
    Feature  { oneof { BytesList bytes_list = 1; FloatList float_list = 2; Int64List int64_list = 3; } }
    XList    { repeated X value = 1; }                (floats/int64s may be packed)
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np

Feature = list[bytes] | np.ndarray


class TFRecordFormatError(ValueError):
    """A TFRecord file or an Example inside it is malformed."""


def _crc32c_table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _crc32c_table()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``; crc32c(b"123456789") == 0xE3069283."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC stored in TFRecord files."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def read_records(path: str | Path, *, verify_data_crc: bool = True) -> Iterator[bytes]:
    """Yield the payload of every record of a TFRecord file.

    The length CRC is always checked; the data CRC when ``verify_data_crc`` (pure
    Python, about a few MB/s).

    Raises:
        TFRecordFormatError: truncated file or CRC mismatch, naming the file, record and field.
    """
    path = Path(path)
    with path.open("rb") as f:
        n = 0
        while True:
            head = f.read(12)
            if not head:
                return
            if len(head) < 12:
                raise TFRecordFormatError(
                    f"{path}: record {n}: truncated header ({len(head)} of 12 bytes)"
                )
            length_bytes, (length_crc,) = head[:8], struct.unpack("<I", head[8:])
            if masked_crc32c(length_bytes) != length_crc:
                raise TFRecordFormatError(
                    f"{path}: record {n}: field 'length' fails its CRC (not a TFRecord file?)"
                )
            (length,) = struct.unpack("<Q", length_bytes)
            data = f.read(length)
            if len(data) < length:
                raise TFRecordFormatError(
                    f"{path}: record {n}: truncated data ({len(data)} of {length} bytes)"
                )
            tail = f.read(4)
            if len(tail) < 4:
                raise TFRecordFormatError(f"{path}: record {n}: missing the data CRC")
            if verify_data_crc and masked_crc32c(data) != struct.unpack("<I", tail)[0]:
                raise TFRecordFormatError(f"{path}: record {n}: field 'data' fails its CRC")
            yield data
            n += 1


def write_records(path: str | Path, records: list[bytes]) -> None:
    """Write payloads as a TFRecord file (used by tests and converters)."""
    with Path(path).open("wb") as f:
        for data in records:
            length = struct.pack("<Q", len(data))
            f.write(length + struct.pack("<I", masked_crc32c(length)))
            f.write(data + struct.pack("<I", masked_crc32c(data)))


# --- protobuf wire format ---------------------------------------------------------------


def _varint(buf: bytes, pos: int, where: str) -> tuple[int, int]:
    result, shift = 0, 0
    while True:
        if pos >= len(buf):
            raise TFRecordFormatError(f"{where}: truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise TFRecordFormatError(f"{where}: varint longer than 10 bytes")


def _fields(buf: bytes, where: str) -> Iterator[tuple[int, int, bytes | int]]:
    """Yield (field number, wire type, value) of a message: value is bytes for LEN and
    fixed-size fields, int for varints."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos, where)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, where)
            yield number, wire, value
        elif wire == 2:
            size, pos = _varint(buf, pos, where)
            if pos + size > len(buf):
                raise TFRecordFormatError(f"{where}: field {number} runs past the message end")
            yield number, wire, buf[pos : pos + size]
            pos += size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            if pos + size > len(buf):
                raise TFRecordFormatError(f"{where}: field {number} runs past the message end")
            yield number, wire, buf[pos : pos + size]
            pos += size
        else:
            raise TFRecordFormatError(f"{where}: unsupported wire type {wire} for field {number}")


def _parse_feature(buf: bytes, where: str) -> Feature:
    for number, _, payload in _fields(buf, where):
        assert isinstance(payload, bytes)
        if number == 1:  # BytesList
            return [v for n, w, v in _fields(payload, where) if n == 1 and isinstance(v, bytes)]
        if number == 2:  # FloatList: packed (LEN) or one fixed32 per value
            chunks = [v for n, _, v in _fields(payload, where) if n == 1]
            raw = b"".join(c for c in chunks if isinstance(c, bytes))
            return np.frombuffer(raw, dtype="<f4").copy()
        if number == 3:  # Int64List: packed varints or one varint per value
            values: list[int] = []
            for n, w, v in _fields(payload, where):
                if n != 1:
                    continue
                if w == 0 and isinstance(v, int):
                    values.append(v)
                elif isinstance(v, bytes):
                    p = 0
                    while p < len(v):
                        x, p = _varint(v, p, where)
                        values.append(x)
            arr = np.array(values, dtype=np.uint64).view(np.int64)
            return arr
    return []


def parse_example(data: bytes, *, where: str = "Example") -> dict[str, Feature]:
    """A serialised tf.train.Example -> {key: list of bytes | float32 array | int64 array}."""
    features: dict[str, Feature] = {}
    for number, wire, payload in _fields(data, where):
        if number != 1 or wire != 2:
            continue
        assert isinstance(payload, bytes)
        for n, w, entry in _fields(payload, f"{where}.features"):
            if n != 1 or w != 2:
                continue
            assert isinstance(entry, bytes)
            key, value = None, b""
            for en, _, ev in _fields(entry, f"{where}.features.feature"):
                if en == 1 and isinstance(ev, bytes):
                    key = ev.decode("utf-8", errors="replace")
                elif en == 2 and isinstance(ev, bytes):
                    value = ev
            if key is None:
                raise TFRecordFormatError(f"{where}: a feature map entry has no key")
            features[key] = _parse_feature(value, f"{where}.feature[{key!r}]")
    return features


def _len_field(number: int, payload: bytes) -> bytes:
    return _encode_varint((number << 3) | 2) + _encode_varint(len(payload)) + payload


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def encode_example(features: dict[str, list[bytes] | np.ndarray]) -> bytes:
    """Serialise {key: list of bytes | float array | int array} as a tf.train.Example."""
    entries = b""
    for key, value in features.items():
        if isinstance(value, list):
            inner = _len_field(1, b"".join(_len_field(1, v) for v in value))
        elif np.issubdtype(np.asarray(value).dtype, np.floating):
            inner = _len_field(2, _len_field(1, np.asarray(value, dtype="<f4").tobytes()))
        else:
            packed = b"".join(
                _encode_varint(int(v) & 0xFFFFFFFFFFFFFFFF) for v in np.asarray(value)
            )
            inner = _len_field(3, _len_field(1, packed))
        entry = _len_field(1, key.encode()) + _len_field(2, inner)
        entries += _len_field(1, entry)
    return _len_field(1, entries)
