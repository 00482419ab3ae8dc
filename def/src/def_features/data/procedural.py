"""Procedural CAD-like parts: the embedded default data of DEF.

Each part is a constructive solid (boxes and cylinders combined with union, difference
and chamfer cuts by manifold3d), so its exact boundary has only planar faces and
cylindrical faces tessellated with ``segments`` facets per turn. The sharp curves are
therefore known by construction: an edge of the exact tessellation is a feature edge
iff the dihedral angle across it is larger than the facet angle ``360 / segments``
(5 degrees for 72 segments); any threshold between that and the smallest designed
angle (45 degrees at chamfers) recovers exactly the designed curves.
"""

from __future__ import annotations

from dataclasses import dataclass

import manifold3d as m3
import numpy as np

#: Part families, one construction each.
PART_KINDS: tuple[str, ...] = (
    "plate_with_holes",
    "l_bracket",
    "stepped_shaft",
    "slotted_block",
    "chamfered_block",
)


@dataclass(frozen=True)
class Part:
    """A procedural part."""

    name: str
    """Family and seed, e.g. ``l_bracket-0003``."""
    vertices: np.ndarray
    """(V, 3) float64 vertex positions."""
    faces: np.ndarray
    """(F, 3) int64 triangles (outward, counter-clockwise)."""


def _box(size: np.ndarray, at: np.ndarray | tuple[float, float, float] = (0, 0, 0)) -> m3.Manifold:
    return m3.Manifold.cube(list(map(float, size)), True).translate(list(map(float, at)))


def _cyl(radius: float, height: float, segments: int, at=(0, 0, 0), axis: str = "z") -> m3.Manifold:
    c = m3.Manifold.cylinder(float(height), float(radius), float(radius), segments, True)
    if axis == "x":
        c = c.rotate([0.0, 90.0, 0.0])
    elif axis == "y":
        c = c.rotate([90.0, 0.0, 0.0])
    return c.translate(list(map(float, at)))


def _build(kind: str, rng: np.random.Generator, segments: int) -> m3.Manifold:
    u = rng.uniform
    if kind == "plate_with_holes":
        size = np.array([u(6, 10), u(4, 7), u(1.0, 2.5)])
        solid = _box(size)
        holes: list[tuple[float, float, float]] = []
        for _ in range(int(rng.integers(1, 4))):
            r = u(0.4, 0.25 * min(size[:2]))
            cx = u(-size[0] / 2 + r + 0.3, size[0] / 2 - r - 0.3)
            cy = u(-size[1] / 2 + r + 0.3, size[1] / 2 - r - 0.3)
            # Holes stay apart so that no new (non-designed) intersection curves appear.
            if all(np.hypot(cx - x, cy - y) > r + q + 0.3 for x, y, q in holes):
                holes.append((cx, cy, r))
                solid = solid - _cyl(r, size[2] * 2, segments, (cx, cy, 0))
        return solid
    if kind == "l_bracket":
        a = np.array([u(6, 9), u(3, 5), u(1.0, 2.0)])
        b = np.array([u(1.0, 2.0), a[1], u(3, 6)])
        base = _box(a)
        wall = _box(b, (-a[0] / 2 + b[0] / 2, 0, a[2] / 2 + b[2] / 2 - 1e-3))
        solid = base + wall
        r = u(0.3, 0.45 * min(a[1], a[0] - b[0]) / 2)
        return solid - _cyl(r, a[2] * 2, segments, (a[0] / 4, 0, 0))
    if kind == "stepped_shaft":
        r1, r2 = u(2.0, 3.0), u(0.8, 1.8)
        h1, h2 = u(1.5, 3.0), u(2.0, 4.0)
        solid = _cyl(r1, h1, segments) + _cyl(r2, h2, segments, (0, 0, h1 / 2 + h2 / 2 - 1e-3))
        key = _box(np.array([2 * r2, u(0.3, 0.6), u(0.3, 0.6)]), (0, 0, h1 / 2 + h2 - 0.1))
        return solid - key
    if kind == "slotted_block":
        size = np.array([u(5, 9), u(4, 7), u(2.0, 4.0)])
        w, d = u(0.8, 0.4 * size[1]), u(0.5, 0.6 * size[2])
        slot = _box(np.array([size[0] * 2, w, d * 2]), (0, u(-0.5, 0.5), size[2] / 2))
        return _box(size) - slot
    if kind == "chamfered_block":
        size = np.array([u(5, 9), u(4, 7), u(2.0, 4.0)])
        c = u(0.5, 0.35 * min(size[1:]))
        solid = _box(size)
        for sy in (-1.0, 1.0):
            if rng.random() < 0.7 or sy > 0:
                cut = _box(np.array([size[0] * 2, 2 * c, 2 * c])).rotate([45.0, 0.0, 0.0])
                solid = solid - cut.translate([0.0, sy * size[1] / 2, size[2] / 2])
        return solid - _cyl(u(0.3, 0.8), size[2] * 2, segments, (u(-1, 1), 0, 0))
    raise ValueError(f"unknown part kind {kind!r}; known: {PART_KINDS}")


def make_part(seed: int, kind: str | None = None, segments: int = 72) -> Part:
    """The part of a seed (its family cycles with the seed unless ``kind`` is given)."""
    rng = np.random.default_rng(seed)
    kind = kind or PART_KINDS[seed % len(PART_KINDS)]
    solid = _build(kind, rng, segments)
    mesh = solid.to_mesh()
    v = np.asarray(mesh.vert_properties, np.float64)[:, :3]
    f = np.asarray(mesh.tri_verts, np.int64)
    if len(f) == 0:
        raise RuntimeError(f"procedural part {kind} (seed {seed}) came out empty")
    return Part(f"{kind}-{seed:04d}", v, f)
