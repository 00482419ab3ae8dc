"""Shapes with sharp curves, normalised: procedural parts, ABC items, plain meshes.

Every source ends as a :class:`ShapeItem`: the normalised mesh and the sharp curves as
polyline segments in the same frame (normalisation: largest extent 10, then the 25 %
quantile of sharp-curve lengths scaled to 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from def_features.config import DataConfig
from def_features.data.abc import read_abc_features, read_abc_meshes
from def_features.data.normalize import apply, normalisation
from def_features.data.patches import ShapeItem
from def_features.data.procedural import make_part
from def_features.data.sharp_edges import sharp_polylines
from def_features.geometry.curves import curves_to_segments


def item_from_polylines(
    item_id: str,
    vertices: np.ndarray,
    faces: np.ndarray,
    polylines: list[np.ndarray],
    cfg: DataConfig,
) -> ShapeItem:
    """Normalise a mesh and its sharp polylines (raw frame) into a ShapeItem."""
    t, s = normalisation(
        vertices, polylines, cfg.shape_extent, cfg.curve_length_quantile, cfg.curve_length_target
    )
    a, b = curves_to_segments([apply(p, t, s) for p in polylines], cfg.curve_sample_spacing)
    return ShapeItem(item_id, apply(vertices, t, s), np.asarray(faces, np.int64), a, b, s)


def procedural_item(seed: int, cfg: DataConfig) -> ShapeItem:
    """A procedural part with its by-construction sharp curves."""
    part = make_part(seed)
    lines = sharp_polylines(part.vertices, part.faces, cfg.sharp_angle_deg)
    return item_from_polylines(part.name, part.vertices, part.faces, lines, cfg)


def mesh_item(path: str | Path, cfg: DataConfig) -> ShapeItem:
    """Any triangle mesh file (obj/ply/stl/off) with angle-based sharp edges."""
    verts, faces = read_abc_meshes([Path(path)])
    lines = sharp_polylines(verts, faces, cfg.sharp_angle_deg)
    return item_from_polylines(Path(path).stem, verts, faces, lines, cfg)


def abc_item(
    features: str | Path, meshes: list[Path], cfg: DataConfig, mesh_scale: float = 1.0
) -> ShapeItem:
    """An ABC item: mesh parts plus the sharp parametric curves of its features file.

    ``mesh_scale`` converts the mesh files to the features' units (1000 for the STL
    parts of the ABC archive, which are in metres).
    """
    feats = read_abc_features(features)
    verts, faces = read_abc_meshes(meshes, scale=mesh_scale)
    # Sample curves finely in the raw frame; the spacing is in normalised units.
    extent = float((verts.max(0) - verts.min(0)).max())
    raw_spacing = cfg.curve_sample_spacing * extent / cfg.shape_extent
    lines = [c.sample(raw_spacing) for c in feats.sharp_curves]
    return item_from_polylines(Path(features).stem.split("_")[0], verts, faces, lines, cfg)
