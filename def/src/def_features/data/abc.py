"""ABC dataset items: the features ``.yml`` (parametric curves) and the meshes.

An ABC item ships a triangle mesh (OBJ; here the STL parts are accepted too) and a
features file whose ``curves`` list holds, per curve, ``type`` (Line, Circle, BSpline,
...), ``sharp``, ``vert_indices`` (into the original OBJ) and ``vert_parameters``
(the curve parameter of each of those vertices), plus the type's own fields:

- Line: ``location``, ``direction``;
- Circle: ``location``, ``radius``, ``x_axis``, ``y_axis``, ``z_axis``;
- BSpline: ``degree``, ``knots``, ``poles``, ``weights``, ``rational``, ``closed``.

The parameter interval of a curve is taken from its first and last vertex parameters.
ABC stores the interior parameters of circles scaled by 1000 (the first and last are
in radians, as the arcs' end points and the meshes confirm), so only the end values are
used; a circle whose first and last vertex coincide is a full turn.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from def_features.geometry.curves import BSplineCurve, CircleCurve, Curve, LineCurve


class ABCFormatError(ValueError):
    """A malformed ABC features file; the message names the file and the field."""


@dataclass(frozen=True)
class ABCFeatures:
    """The parsed curves of one item."""

    curves: list[Curve]
    """Curves of the supported types (Line, Circle, BSpline), sharp or not."""
    skipped_types: dict[str, int]
    """Counts of curve types that are not supported (e.g. Ellipse), by name."""
    num_surfaces: int = 0
    """Length of the file's ``surfaces`` list (0 when it has none); the DEF-Scan
    annotation stores it per view."""

    @property
    def sharp_curves(self) -> list[Curve]:
        """Only the sharp ones."""
        return [c for c in self.curves if c.sharp]


def _vec(curve: dict[str, Any], key: str, where: str, size: int = 3) -> np.ndarray:
    if key not in curve:
        raise ABCFormatError(f"{where}: missing field {key!r}")
    try:
        v = np.asarray(curve[key], dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ABCFormatError(f"{where}: field {key!r} is not numeric: {exc}") from exc
    if size and v.shape != (size,):
        raise ABCFormatError(
            f"{where}: field {key!r} must have {size} numbers, got shape {v.shape}"
        )
    return v


def _param_range(curve: dict[str, Any], where: str) -> tuple[float, float, bool]:
    params = curve.get("vert_parameters")
    if not isinstance(params, list) or len(params) < 2:
        raise ABCFormatError(f"{where}: field 'vert_parameters' must list >= 2 numbers")
    idx = curve.get("vert_indices")
    if not isinstance(idx, list) or len(idx) != len(params):
        raise ABCFormatError(
            f"{where}: field 'vert_indices' must match 'vert_parameters' in length"
        )
    closed = len(idx) > 2 and idx[0] == idx[-1]
    return float(params[0]), float(params[-1]), closed


def parse_curve(curve: dict[str, Any], where: str) -> Curve | None:
    """One ``curves`` entry -> a curve object, or None for unsupported types."""
    if not isinstance(curve, dict):
        raise ABCFormatError(f"{where}: a curve must be a mapping, got {type(curve).__name__}")
    kind = curve.get("type")
    if not isinstance(kind, str):
        raise ABCFormatError(f"{where}: missing field 'type'")
    if "sharp" not in curve or not isinstance(curve["sharp"], bool):
        raise ABCFormatError(f"{where}: field 'sharp' must be true or false")
    sharp = bool(curve["sharp"])
    t0, t1, closed = _param_range(curve, where)
    if kind == "Line":
        return LineCurve(
            _vec(curve, "location", where), _vec(curve, "direction", where), (t0, t1), sharp
        )
    if kind == "Circle":
        radius = curve.get("radius")
        if not isinstance(radius, int | float) or radius <= 0:
            raise ABCFormatError(f"{where}: field 'radius' must be a positive number")
        if closed or t1 <= t0:
            t1 = t0 + 2 * math.pi if closed or abs(t1 - t0) < 1e-9 else t1 + 2 * math.pi
        return CircleCurve(
            _vec(curve, "location", where),
            float(radius),
            _vec(curve, "x_axis", where),
            _vec(curve, "y_axis", where),
            (t0, t1),
            sharp,
        )
    if kind == "BSpline":
        degree = curve.get("degree")
        if not isinstance(degree, int) or degree < 1:
            raise ABCFormatError(f"{where}: field 'degree' must be a positive integer")
        knots = _vec(curve, "knots", where, size=0)
        poles = np.asarray(curve.get("poles", []), dtype=np.float64)
        if poles.ndim != 2 or poles.shape[1] != 3:
            raise ABCFormatError(f"{where}: field 'poles' must be a list of 3D points")
        weights = _vec(curve, "weights", where, size=0) if curve.get("rational") else None
        lo, hi = sorted((t0, t1))
        try:
            return BSplineCurve(degree, knots, poles, weights, sharp, (lo, hi) if hi > lo else None)
        except ValueError as exc:
            raise ABCFormatError(f"{where}: {exc}") from exc
    return None


def read_abc_features(path: str | Path) -> ABCFeatures:
    """Parse an ABC ``*_features_*.yml`` file.

    Raises:
        ABCFormatError: naming the file and the offending curve/field.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise ABCFormatError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("curves"), list):
        raise ABCFormatError(f"{path}: missing field 'curves' (a list)")
    curves: list[Curve] = []
    skipped: dict[str, int] = {}
    for i, entry in enumerate(data["curves"]):
        parsed = parse_curve(entry, f"{path}: curves[{i}]")
        if parsed is None:
            skipped[str(entry.get("type"))] = skipped.get(str(entry.get("type")), 0) + 1
        else:
            curves.append(parsed)
    surfaces = data.get("surfaces")
    return ABCFeatures(curves, skipped, len(surfaces) if isinstance(surfaces, list) else 0)


def read_abc_meshes(paths: list[Path], scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the item's mesh files (OBJ/STL/PLY parts) into one (V,3), (F,3) mesh.

    ``scale`` multiplies the vertices: the STL parts of the ABC archive are in metres
    while the OBJ and the features file are in millimetres (use 1000 for STL parts).
    """
    import trimesh

    verts, faces, offset = [], [], 0
    for p in paths:
        m = trimesh.load(p, force="mesh", process=False)
        if not isinstance(m, trimesh.Trimesh) or len(m.faces) == 0:
            raise ABCFormatError(f"{p}: not a triangle mesh")
        verts.append(np.asarray(m.vertices, np.float64) * scale)
        faces.append(np.asarray(m.faces, np.int64) + offset)
        offset += len(m.vertices)
    return np.concatenate(verts), np.concatenate(faces)
