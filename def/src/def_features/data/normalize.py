"""Shape normalisation of DEF-Sim.

Two steps, as in the official pipeline: centre the shape and scale its largest
bounding-box extent to ``shape_extent`` (10), then scale it again so that the chosen
quantile (25 %) of its sharp-curve lengths equals ``curve_length_target`` (1.0). The
second step fixes the size of features relative to the truncation radius and the
pixel sizes; the first makes shapes without sharp curves comparable.
"""

from __future__ import annotations

import numpy as np

from def_features.geometry.curves import polyline_length


def normalisation(
    vertices: np.ndarray,
    polylines: list[np.ndarray],
    shape_extent: float = 10.0,
    quantile: float = 0.25,
    target_length: float = 1.0,
) -> tuple[np.ndarray, float]:
    """Translation (3,) and scale s mapping x to ``(x + translation) * s``."""
    v = np.asarray(vertices, np.float64)
    lo, hi = v.min(0), v.max(0)
    extent = float((hi - lo).max())
    if extent <= 0:
        raise ValueError("normalisation: the mesh has zero extent")
    translation = -(lo + hi) / 2
    scale = shape_extent / extent
    lengths = np.array([polyline_length(p) for p in polylines]) * scale
    lengths = lengths[lengths > 0]
    if len(lengths):
        scale *= target_length / float(np.quantile(lengths, quantile))
    return translation, scale


def apply(points: np.ndarray, translation: np.ndarray, scale: float) -> np.ndarray:
    """``(points + translation) * scale`` for (..., 3) points."""
    return (np.asarray(points, np.float64) + translation) * scale
