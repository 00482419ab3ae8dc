"""HDF5 files of named arrays (h5py), with an optional shape/dtype check on read.

A file is a flat (or ``/``-nested) set of datasets plus root attributes. Writing is
atomic and uses lzf compression by default (fast, always available in h5py). Reading
can validate each field against an expected spec, so a malformed data file fails
early with the file and the field in the message instead of deep inside a model.

A spec is ``{name: FieldSpec}`` or the shorthand ``{name: shape}``, where a shape entry
``None`` matches any length, e.g. ``read_hdf5(path, fields={"image": (None, 64, 64, 3)})``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from shared_utils.io.atomic import atomic_path


class HDF5FormatError(ValueError):
    """An HDF5 file lacks a field or a field has the wrong shape/dtype."""


@dataclass(frozen=True)
class FieldSpec:
    """What a field must look like."""

    shape: tuple[int | None, ...] | None = None
    """Expected shape; ``None`` entries match any size; ``None`` skips the shape check."""
    dtype: str | None = None
    """Expected numpy dtype *kind* or name: "float", "int", "uint", "bool", or e.g.
    "float32"; ``None`` skips the dtype check."""


_KINDS = {"float": "f", "int": "i", "uint": "u", "bool": "b", "complex": "c"}


def _as_spec(spec: FieldSpec | Sequence[int | None] | None) -> FieldSpec:
    if spec is None:
        return FieldSpec()
    if isinstance(spec, FieldSpec):
        return spec
    return FieldSpec(shape=tuple(spec))


def _check_field(path: Path, name: str, dset: h5py.Dataset, spec: FieldSpec) -> None:
    if spec.shape is not None:
        shape = dset.shape
        ok = len(shape) == len(spec.shape) and all(
            want is None or want == got for want, got in zip(spec.shape, shape)
        )
        if not ok:
            raise HDF5FormatError(
                f"{path}: field {name!r} has shape {shape}, expected {spec.shape}"
            )
    if spec.dtype is not None:
        dtype = dset.dtype
        if spec.dtype in _KINDS:
            ok = dtype.kind == _KINDS[spec.dtype]
        else:
            ok = dtype == np.dtype(spec.dtype)
        if not ok:
            raise HDF5FormatError(
                f"{path}: field {name!r} has dtype {dtype}, expected {spec.dtype}"
            )


def write_hdf5(
    path: str | os.PathLike[str],
    arrays: Mapping[str, Any],
    *,
    compression: str | None = "lzf",
    attrs: Mapping[str, Any] | None = None,
) -> None:
    """Write named arrays (and root attributes) to an HDF5 file atomically.

    Args:
        path: output file; parent folders are created.
        arrays: name -> array-like; names may contain ``/`` to make groups. Scalars are
            stored uncompressed (HDF5 cannot chunk them).
        compression: "lzf" (default), "gzip" or None.
        attrs: root attributes (numbers, strings, small arrays).
    """
    p = Path(path)
    with atomic_path(p) as tmp, h5py.File(tmp, "w") as f:
        for name, value in arrays.items():
            data = np.asarray(value)
            if data.dtype.kind == "U":  # h5py stores text as variable-length UTF-8
                data = data.astype(object)
                f.create_dataset(name, data=data, dtype=h5py.string_dtype())
            elif data.ndim == 0 or data.size == 0 or compression is None:
                f.create_dataset(name, data=data)
            else:
                f.create_dataset(name, data=data, compression=compression)
        for key, value in (attrs or {}).items():
            f.attrs[key] = value


def read_hdf5(
    path: str | os.PathLike[str],
    fields: Sequence[str] | Mapping[str, FieldSpec | Sequence[int | None] | None] | None = None,
) -> dict[str, np.ndarray]:
    """Read datasets from an HDF5 file.

    Args:
        path: the file.
        fields: None reads every dataset; a list of names reads those; a mapping
            name -> FieldSpec / shape tuple / None also checks each field.

    Returns:
        name -> numpy array (nested names are ``group/name``).

    Raises:
        FileNotFoundError: no such file.
        HDF5FormatError: not an HDF5 file, a field is missing, or a field does not
            match its spec (the message names the file and the field).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"HDF5 file not found: {p}")
    try:
        f = h5py.File(p, "r")
    except OSError as exc:
        raise HDF5FormatError(f"{p} is not a readable HDF5 file: {exc}") from exc
    out: dict[str, np.ndarray] = {}
    with f:
        if fields is None:
            names: list[str] = []
            f.visititems(lambda n, obj: names.append(n) if isinstance(obj, h5py.Dataset) else None)
            specs: dict[str, FieldSpec] = {n: FieldSpec() for n in names}
        elif isinstance(fields, str):  # a single name, not a sequence of letters
            specs = {fields: FieldSpec()}
        elif isinstance(fields, Mapping):
            specs = {n: _as_spec(s) for n, s in fields.items()}
        else:
            specs = {n: FieldSpec() for n in fields}
        for name, spec in specs.items():
            obj = f.get(name)
            if obj is None:
                raise HDF5FormatError(f"{p}: field {name!r} is missing (has {sorted(f.keys())})")
            if not isinstance(obj, h5py.Dataset):
                raise HDF5FormatError(f"{p}: field {name!r} is a group, not a dataset")
            _check_field(p, name, obj, spec)
            out[name] = obj.asstr()[()] if h5py.check_string_dtype(obj.dtype) else obj[()]
    return out


def read_hdf5_attrs(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read the root attributes of an HDF5 file as a dict."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"HDF5 file not found: {p}")
    try:
        with h5py.File(p, "r") as f:
            return {k: f.attrs[k] for k in f.attrs}
    except OSError as exc:
        raise HDF5FormatError(f"{p} is not a readable HDF5 file: {exc}") from exc
