"""Parametric feature curves (line, circle, B-spline) and their polyline samples.

The ABC annotations describe every feature curve parametrically; DEF needs them as
polylines (pairs of segment end points) for the point-to-segment distance kernel.
Each curve here knows its parameter interval and samples itself at a roughly uniform
arc-length spacing; :func:`polyline_segments` turns a polyline into segments.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import BSpline


def _uniform_arclength(points: np.ndarray, params: np.ndarray, spacing: float) -> np.ndarray:
    """Parameters at about ``spacing`` arc length apart, from a dense sampling (K,3)/(K,)."""
    seg = np.linalg.norm(np.diff(points, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    count = max(math.ceil(s[-1] / spacing), 1) + 1
    return np.interp(np.linspace(0.0, s[-1], count), s, params)


@dataclass(frozen=True)
class LineCurve:
    """The segment ``location + t * direction`` for t in ``t_range``."""

    location: np.ndarray
    """(3,) a point of the line."""
    direction: np.ndarray
    """(3,) direction (the parameter scale; unit in ABC)."""
    t_range: tuple[float, float]
    """Parameter interval."""
    sharp: bool = True
    """Whether the curve is a sharp feature."""

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        """(K,) -> (K, 3)."""
        return self.location[None] + np.asarray(t, float)[:, None] * self.direction[None]

    def sample(self, spacing: float) -> np.ndarray:
        """(K, 3) polyline: a line needs only its two end points."""
        return self.evaluate(np.array(self.t_range, float))


@dataclass(frozen=True)
class CircleCurve:
    """The arc ``center + r (cos t x_axis + sin t y_axis)`` for t in ``t_range``."""

    center: np.ndarray
    """(3,) centre."""
    radius: float
    """Radius."""
    x_axis: np.ndarray
    """(3,) unit vector of angle 0."""
    y_axis: np.ndarray
    """(3,) unit vector of angle pi/2."""
    t_range: tuple[float, float]
    """Angular interval in radians (t1 > t0; a full circle spans 2 pi)."""
    sharp: bool = True
    """Whether the curve is a sharp feature."""

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        """(K,) angles -> (K, 3)."""
        t = np.asarray(t, float)[:, None]
        return self.center[None] + self.radius * (
            np.cos(t) * self.x_axis[None] + np.sin(t) * self.y_axis[None]
        )

    def sample(self, spacing: float) -> np.ndarray:
        """(K, 3) polyline with chords of length <= ``spacing``."""
        t0, t1 = self.t_range
        count = max(math.ceil(abs(t1 - t0) * self.radius / spacing), 1) + 1
        return self.evaluate(np.linspace(t0, t1, count))


@dataclass(frozen=True)
class BSplineCurve:
    """A (possibly rational) B-spline with a full (clamped or not) knot vector."""

    degree: int
    """Polynomial degree p."""
    knots: np.ndarray
    """(n + p + 1,) non-decreasing knots."""
    poles: np.ndarray
    """(n, 3) control points."""
    weights: np.ndarray | None = None
    """(n,) weights of a rational spline, or None."""
    sharp: bool = True
    """Whether the curve is a sharp feature."""
    t_range: tuple[float, float] | None = field(default=None)
    """Parameter interval; the knot vector's valid domain when None."""

    def __post_init__(self) -> None:
        n = len(self.poles)
        if len(self.knots) != n + self.degree + 1:
            raise ValueError(
                f"B-spline: {len(self.knots)} knots for {n} poles of degree {self.degree}; "
                f"need {n + self.degree + 1}"
            )
        if self.weights is not None and len(self.weights) != n:
            raise ValueError(f"B-spline: {len(self.weights)} weights for {n} poles")

    @property
    def domain(self) -> tuple[float, float]:
        """Parameter interval used for sampling."""
        if self.t_range is not None:
            return self.t_range
        return float(self.knots[self.degree]), float(self.knots[-self.degree - 1])

    def evaluate(self, t: np.ndarray) -> np.ndarray:
        """(K,) parameters -> (K, 3) points (homogeneous division when rational)."""
        t = np.asarray(t, float)
        if self.weights is None:
            return BSpline(self.knots, self.poles, self.degree)(t)
        w = np.asarray(self.weights, float)
        hom = BSpline(
            self.knots, np.concatenate([self.poles * w[:, None], w[:, None]], 1), self.degree
        )
        v = hom(t)
        return v[:, :3] / v[:, 3:]

    def sample(self, spacing: float) -> np.ndarray:
        """(K, 3) polyline, roughly uniform in arc length."""
        t0, t1 = self.domain
        dense_t = np.linspace(t0, t1, max(64 * len(self.poles), 512))
        t = _uniform_arclength(self.evaluate(dense_t), dense_t, spacing)
        return self.evaluate(t)


Curve = LineCurve | CircleCurve | BSplineCurve


def polyline_segments(polyline: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, 3) polyline -> segment starts (K-1, 3) and ends (K-1, 3)."""
    poly = np.asarray(polyline, float)
    if poly.ndim != 2 or poly.shape[1] != 3 or len(poly) < 2:
        raise ValueError(f"polyline must be (K>=2, 3), got {poly.shape}")
    return poly[:-1].copy(), poly[1:].copy()


def curves_to_segments(
    curves: Sequence[Curve | np.ndarray], spacing: float
) -> tuple[np.ndarray, np.ndarray]:
    """Segments of many curves (or raw polylines) stacked: (M, 3), (M, 3)."""
    starts, ends = [], []
    for c in curves:
        poly = c if isinstance(c, np.ndarray) else c.sample(spacing)
        a, b = polyline_segments(poly)
        starts.append(a)
        ends.append(b)
    if not starts:
        return np.zeros((0, 3)), np.zeros((0, 3))
    return np.concatenate(starts), np.concatenate(ends)


def polyline_length(polyline: np.ndarray) -> float:
    """Total length of a (K, 3) polyline."""
    return float(np.linalg.norm(np.diff(polyline, axis=0), axis=1).sum())
