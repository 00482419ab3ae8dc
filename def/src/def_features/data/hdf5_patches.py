"""DEF patch files: HDF5 in the official field layout.

One file holds N patches of side S:

=============  ================  =========================================
field          shape / dtype     meaning
=============  ================  =========================================
image          (N,S,S) float32   depth along the view direction; 0 = background
distances      (N,S,S) float32   truncated distance to the nearest sharp curve
directions     (N,S,S,3) f32     unit direction to the closest curve point
normals        (N,S,S,3) f32     surface normals facing the camera
item_id        (N,) string       source shape
camera_pose    (N,4,4) f32       world_from_cam of the orthographic view
mesh_scale     (N,) float32      normalisation scale of the source shape
has_sharp      (N,) bool         a sharp curve passes through the patch
noise_std      (N,) float32      scanner-noise level (optional)
resolution_3d  (N,) float32      pixel size (optional)
=============  ================  =========================================

Files are written atomically with lzf compression through :mod:`shared_utils.io.hdf5`
(the shared HDF5 reader/writer); ``item_id`` is variable-length UTF-8. Reading checks every required field's
presence, shape and dtype kind and raises :class:`PatchFormatError` naming the file
and the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shared_utils.io.hdf5 import HDF5FormatError, read_hdf5, write_hdf5

REQUIRED = (
    "image",
    "distances",
    "directions",
    "normals",
    "item_id",
    "camera_pose",
    "mesh_scale",
    "has_sharp",
)
OPTIONAL = ("noise_std", "resolution_3d")


class PatchFormatError(HDF5FormatError):
    """A malformed patch file; the message names the file and the field."""


def stack_patches(patches: Sequence[dict[str, Any]]) -> dict[str, np.ndarray]:
    """List of single-patch dicts -> dict of stacked arrays."""
    if not patches:
        raise ValueError("stack_patches: no patches")
    out: dict[str, np.ndarray] = {}
    for key in (*REQUIRED, *OPTIONAL):
        if key not in patches[0]:
            continue
        vals = [p[key] for p in patches]
        if key == "item_id":
            out[key] = np.array([str(v) for v in vals], dtype=object)
        elif key == "has_sharp":
            out[key] = np.array(vals, dtype=bool)
        else:
            out[key] = np.stack([np.asarray(v, np.float32) for v in vals])
    return out


def write_patches(path: str | Path, arrays: dict[str, np.ndarray]) -> None:
    """Write stacked patch arrays (see the module table) to ``path`` atomically."""
    out = dict(arrays)
    if "item_id" in out:  # stored as variable-length UTF-8 strings
        out["item_id"] = np.asarray([str(v) for v in out["item_id"]], dtype=str)
    write_hdf5(path, out)


def _check(path: Path, data: dict[str, np.ndarray]) -> None:
    for key in REQUIRED:
        if key not in data:
            raise PatchFormatError(f"{path}: missing field {key!r}")
    image = data["image"]
    if image.ndim != 3 or image.shape[1] != image.shape[2]:
        raise PatchFormatError(f"{path}: field 'image' must be (N, S, S), got {image.shape}")
    n, s = image.shape[0], image.shape[1]
    expected = {
        "distances": (n, s, s),
        "directions": (n, s, s, 3),
        "normals": (n, s, s, 3),
        "item_id": (n,),
        "camera_pose": (n, 4, 4),
        "mesh_scale": (n,),
        "has_sharp": (n,),
    }
    for key, shape in expected.items():
        if data[key].shape != shape:
            raise PatchFormatError(
                f"{path}: field {key!r} must have shape {shape}, got {data[key].shape}"
            )
    for key in ("image", "distances", "directions", "normals", "camera_pose", "mesh_scale"):
        if data[key].dtype.kind != "f":
            raise PatchFormatError(f"{path}: field {key!r} must be floating, got {data[key].dtype}")
        if not np.isfinite(data[key]).all():
            raise PatchFormatError(f"{path}: field {key!r} has non-finite values")


def read_patches(path: str | Path, fields: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Read and validate a patch file; ``fields`` restricts what is returned."""
    path = Path(path)
    try:
        data = read_hdf5(path)
    except FileNotFoundError as exc:
        raise PatchFormatError(f"{path}: no such file") from exc
    except HDF5FormatError as exc:
        raise PatchFormatError(str(exc)) from exc
    if "item_id" in data:  # vlen strings come back as str, fixed-length ones as bytes
        ids = data["item_id"]
        data["item_id"] = np.asarray(
            [v.decode() if isinstance(v, bytes) else str(v) for v in ids], dtype=object
        )
    _check(path, data)
    if fields is not None:
        data = {k: data[k] for k in fields}
    return data
