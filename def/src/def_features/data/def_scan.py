"""DEF-Scan: the paper's real structured-light scans, annotated depth views -> patches.

The authors distribute DEF-Scan as HDF5 files of annotated depth views (their
``AnnotatedViewIO`` layout; ``images_align4mm_fullmesh_whole``), one row per view:

====================  ===============  ==================================================
field                 shape / dtype    meaning
====================  ===============  ==================================================
points                (N,H,W) f64      depth image of the scanner camera (0: no return)
distances             (N,H,W) f64      distance to the nearest sharp curve (mm)
directions            (N,H,W,3) f64    direction to that curve point
extrinsics            (N,4,4) f64      camera_to_world of the view
intrinsics            (N,2,3,3) f64    focal matrix F and sensor matrix S; K = S @ F
obj_scale             (N,) f64         scale of the CAD mesh for this item
item_id               (N,) ascii       printed CAD item
has_sharp             (N,) bool        (optional) a sharp curve is visible
====================  ===============  ==================================================

(plus faces, alignments and annotation bookkeeping, not needed here; such files are
made from the raw scans by :mod:`def_features.data.def_scan_raw`). The views are
perspective, so :func:`views_to_patches` cuts them into the model's square tiles and
writes them in our patch layout (:mod:`def_features.data.hdf5_patches`), where ``def
train`` and ``def eval`` take them like synthetic patches; normals are computed from
the depth image through K.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from def_features.data.hdf5_patches import PatchFormatError
from shared_utils.io.hdf5 import HDF5FormatError, read_hdf5

FIELDS = ("points", "distances", "directions", "extrinsics", "intrinsics", "obj_scale", "item_id")
"""Fields a DEF-Scan view file must hold."""


class ScanFormatError(PatchFormatError):
    """A malformed DEF-Scan file; the message names the file and the field."""


@dataclass(frozen=True)
class ScanView:
    """One annotated real depth view."""

    depth: np.ndarray
    """(H, W) depth along the camera axis, 0 where the scanner saw nothing."""
    distances: np.ndarray
    """(H, W) distance to the nearest sharp curve."""
    directions: np.ndarray
    """(H, W, 3) direction to the closest curve point."""
    camera_to_world: np.ndarray
    """(4, 4) pose of the view."""
    K: np.ndarray
    """(3, 3) pinhole intrinsics (sensor matrix @ focal matrix)."""
    obj_scale: float
    """Scale of the item's CAD mesh."""
    item_id: str
    """Printed CAD item."""

    @property
    def mask(self) -> np.ndarray:
        """(H, W) bool pixels with a depth return."""
        return self.depth > 0


def read_fields(path: Path, fields: Any, error: type[PatchFormatError]) -> dict[str, Any]:
    """``read_hdf5(path, fields)``; a missing file or field raises ``error`` instead."""
    try:
        return read_hdf5(path, fields)
    except FileNotFoundError as exc:
        raise error(f"{path}: no such file") from exc
    except HDF5FormatError as exc:
        raise error(str(exc)) from exc


def read_scan_views(path: str | Path) -> list[ScanView]:
    """Read every view of a DEF-Scan annotated-view HDF5 file (checks names and shapes)."""
    path = Path(path)
    data = read_fields(path, FIELDS, ScanFormatError)
    depth = np.asarray(data["points"])
    if depth.ndim != 3:
        raise ScanFormatError(
            f"{path}: field 'points' must be (N, H, W) depth images, got {depth.shape}"
        )
    n, h, w = depth.shape
    expected = {
        "distances": (n, h, w),
        "directions": (n, h, w, 3),
        "extrinsics": (n, 4, 4),
        "intrinsics": (n, 2, 3, 3),
        "obj_scale": (n,),
        "item_id": (n,),
    }
    for key, shape in expected.items():
        if np.shape(data[key]) != shape:
            raise ScanFormatError(
                f"{path}: field {key!r} must have shape {shape}, got {np.shape(data[key])}"
            )
    for key in ("points", "distances", "directions", "extrinsics", "intrinsics"):
        if not np.isfinite(np.asarray(data[key], np.float64)).all():
            raise ScanFormatError(f"{path}: field {key!r} has non-finite values")
    ids = [v.decode() if isinstance(v, bytes) else str(v) for v in data["item_id"]]
    return [
        ScanView(
            depth=depth[i].astype(np.float64),
            distances=np.asarray(data["distances"][i], np.float64),
            directions=np.asarray(data["directions"][i], np.float64),
            camera_to_world=np.asarray(data["extrinsics"][i], np.float64),
            K=data["intrinsics"][i][1] @ data["intrinsics"][i][0],
            obj_scale=float(data["obj_scale"][i]),
            item_id=ids[i],
        )
        for i in range(n)
    ]


def depth_normals(depth: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit camera-frame normals of a pinhole depth image, facing the camera.

    Pixels are back-projected through K with pixel (row, col) at image coordinates
    (col, row), as the authors' pixelization rounds projected points to the nearest
    integer; the normal is the cross product of central differences, zero where a
    neighbour has no depth.
    """
    h, w = depth.shape
    jj, ii = np.meshgrid(np.arange(w, dtype=np.float64), np.arange(h, dtype=np.float64))
    x = (jj - K[0, 2]) / K[0, 0] * depth
    y = (ii - K[1, 2]) / K[1, 1] * depth
    p = np.stack([x, y, depth], -1)
    valid = depth > 0
    du = np.zeros_like(p)
    dv = np.zeros_like(p)
    du[:, 1:-1] = p[:, 2:] - p[:, :-2]
    dv[1:-1] = p[2:] - p[:-2]
    ok = np.zeros_like(valid)
    ok[1:-1, 1:-1] = (
        valid[1:-1, 1:-1] & valid[1:-1, 2:] & valid[1:-1, :-2] & valid[2:, 1:-1] & valid[:-2, 1:-1]
    )
    n = np.cross(dv, du)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.where(ok[..., None] & (norm > 0), n / np.maximum(norm, 1e-12), 0.0)
    facing = (n * p).sum(-1) > 0  # the camera sits at the origin: normals point back at it
    return np.where(facing[..., None], -n, n)


def views_to_patches(
    views: list[ScanView], tile: int = 64, min_surface: float = 0.1, sharp_threshold: float = 1.0
) -> list[dict[str, Any]]:
    """Cut views into non-overlapping ``tile`` x ``tile`` patches in our patch layout.

    Tiles with less than ``min_surface`` of their pixels on the surface are dropped;
    ``has_sharp`` marks tiles with a surface pixel closer than ``sharp_threshold`` to a
    sharp curve. ``camera_pose`` holds the view's camera_to_world (perspective view).
    """
    out: list[dict[str, Any]] = []
    for view in views:
        normals = depth_normals(view.depth, view.K)
        h, w = view.depth.shape
        for r in range(0, h - tile + 1, tile):
            for c in range(0, w - tile + 1, tile):
                sl = (slice(r, r + tile), slice(c, c + tile))
                mask = view.mask[sl]
                if mask.mean() < min_surface:
                    continue
                dist = view.distances[sl]
                out.append(
                    {
                        "image": np.where(mask, view.depth[sl], 0.0),
                        "distances": dist,
                        "directions": view.directions[sl],
                        "normals": normals[sl],
                        "item_id": view.item_id,
                        "camera_pose": view.camera_to_world,
                        "mesh_scale": view.obj_scale,
                        "has_sharp": bool((dist[mask] < sharp_threshold).any()),
                    }
                )
    return out
