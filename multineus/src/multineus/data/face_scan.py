"""A real face scan as a geometry check in millimetres.

pymeshlab's wheel ships a structured-light range map of a real face
(``tests/sample_meshes/rangemaps/face000.ply``: ~86k vertices in mm, seen from the
scanner along -z, y up; the face, ears and a headband, no back of the head). No other
registry package we know of ships a real head or face scan. The file is only read; no
pymeshlab code is imported (the package is GPL-3 and optional: ``multineus[face-scan]``).

:func:`load_face_scan` puts the scan into the procedural heads' frame (z up, the face
looking towards -y, 1 unit = ``mm_per_unit`` mm) with its nose tip on the mean head's,
so that a model meta-trained on procedural heads sees it where it expects a face.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from multineus.data.heads import HeadParams, head_nose_tip, render_mesh_views
from multineus.mesh import Mesh
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.io.meshes import read_mesh

FACE_SCAN_IN_PYMESHLAB = Path("tests/sample_meshes/rangemaps/face000.ply")
"""Where the scan lies inside the installed ``pymeshlab`` package."""

NOSE_SMOOTHING_MM = 6.0
"""Radius of the median filter on the height field before the nose tip is picked."""


class FaceScanError(ValueError):
    """The face scan is missing or is not a usable range scan."""


def find_face_scan() -> Path:
    """The path of pymeshlab's face scan, located without importing pymeshlab."""
    spec = importlib.util.find_spec("pymeshlab")
    roots = list(spec.submodule_search_locations or []) if spec is not None else []
    for root in roots:
        path = Path(root) / FACE_SCAN_IN_PYMESHLAB
        if path.is_file():
            return path
    where = (
        f"pymeshlab is installed at {roots[0]} but has no {FACE_SCAN_IN_PYMESHLAB}"
        if roots
        else "pymeshlab is not installed"
    )
    raise FaceScanError(
        f"real face scan not found ({where}); install it with "
        "`pip install 'multineus[face-scan]'` (or `pip install pymeshlab`), or pass the "
        "path of a range scan in mm (.ply/.obj) explicitly"
    )


@dataclass
class FaceScan:
    """A real face scan in the procedural heads' frame."""

    mesh: Mesh
    """The scan's triangles in world units (z up, face towards -y)."""
    nose: np.ndarray
    """(3,) nose tip in world units (the face region's centre)."""
    mm_per_unit: float
    """Millimetres per world unit."""
    source: Path
    """The file it was read from."""


def face_plane(vertices: np.ndarray, facing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scan's least-squares plane: centre (3,) and axes (3, 3), rows the two in-plane
    directions then the normal, oriented along ``facing`` (towards the scanner)."""
    centre = vertices.mean(0)
    axes = np.linalg.svd(vertices - centre, full_matrices=False)[2]
    if axes[2] @ facing < 0:
        axes[2] = -axes[2]
    return centre, axes


def nose_tip(vertices: np.ndarray, facing: np.ndarray) -> np.ndarray:
    """(3,) the point of a frontal face scan that stands out most towards the viewer.

    Heights above the scan's least-squares plane (its normal oriented along ``facing``)
    are median-filtered over :data:`NOSE_SMOOTHING_MM` in that plane, so that a stray
    vertex of the scanner's noise cannot win.

    Args:
        vertices: (N, 3) scan points in mm.
        facing: (3,) rough direction from the face towards the scanner.
    """
    centre, axes = face_plane(vertices, facing)
    height = (vertices - centre) @ axes[2]
    # neighbours in the plane, so that a spike's neighbourhood is the surface below it
    in_plane = (vertices - centre) @ axes[:2].T
    tree = cKDTree(in_plane)
    step = max(1, len(vertices) // 20000)  # candidates: every vertex of scans up to 20k
    candidates = np.arange(0, len(vertices), step)
    neighbours = tree.query_ball_point(in_plane[candidates], NOSE_SMOOTHING_MM)
    smoothed = np.array([np.median(height[n]) for n in neighbours])
    return vertices[candidates[int(np.argmax(smoothed))]]


def head_frame_rotation(vertices: np.ndarray, facing: np.ndarray, up: np.ndarray) -> np.ndarray:
    """(3, 3) rotation taking scan axes to the head frame (face plane normal -> -y, up -> z).

    Args:
        vertices: (N, 3) scan points.
        facing: (3,) rough direction from the face towards the scanner.
        up: (3,) rough up direction of the scan (made orthogonal to the face normal).
    """
    normal = face_plane(vertices, facing)[1][2]
    z = up - (up @ normal) * normal
    if np.linalg.norm(z) < 0.1 * np.linalg.norm(up):  # within ~6 degrees of the normal
        raise FaceScanError("the scan's up direction is (nearly) parallel to its face normal")
    z = z / np.linalg.norm(z)
    y = -normal
    x = np.cross(y, z)
    return np.stack([x, y, z])  # rows: the world axes in scan coordinates


def load_face_scan(
    path: str | Path | None = None,
    *,
    mm_per_unit: float = 250.0,
    facing: tuple[float, float, float] = (0.0, 0.0, 1.0),
    up: tuple[float, float, float] = (0.0, 1.0, 0.0),
) -> FaceScan:
    """Read a frontal face range scan in mm and put it into the head frame.

    Args:
        path: the scan (.ply/.obj/.stl/.off in mm); default: :func:`find_face_scan`.
        mm_per_unit: millimetres per world unit (the procedural heads' 250).
        facing: rough direction from the face towards the scanner, in scan coordinates.
        up: rough up direction, in scan coordinates.
    """
    source = Path(path) if path is not None else find_face_scan()
    raw = read_mesh(source)
    v = np.asarray(raw.vertices, dtype=np.float64)
    if len(raw.faces) == 0 or len(v) < 100:
        raise FaceScanError(
            f"{source}: a face scan needs triangles (got {len(v)} vertices, {len(raw.faces)} faces)"
        )
    if not np.isfinite(v).all():
        raise FaceScanError(f"{source}: vertex positions are not finite")
    extent = np.ptp(v, axis=0).max()
    if not 50.0 < extent < 1000.0:
        raise FaceScanError(f"{source}: extent {extent:.3g} is not that of a face in mm (50-1000)")
    toward = np.asarray(facing, float)
    R = head_frame_rotation(v, toward, np.asarray(up, float))
    nose_mm = nose_tip(v, toward)
    target = head_nose_tip(HeadParams())
    world = (v - nose_mm) @ R.T / mm_per_unit + target
    return FaceScan(Mesh(world, np.asarray(raw.faces, dtype=np.int64)), target, mm_per_unit, source)


def render_face_scan(
    scan: FaceScan,
    cameras: list[PinholeCamera],
    *,
    albedo: tuple[float, float, float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Render the scan as the procedural heads are rendered (same light, on black).

    The scan has no colour: it gets one uniform skin albedo (the mean head's by default),
    so shading is the only cue to its shape.

    Returns:
        images (V, H, W, 3) float32 and masks (V, H, W) bool.
    """
    colour = np.asarray(albedo if albedo is not None else HeadParams().skin, dtype=np.float32)
    colours = np.broadcast_to(colour, scan.mesh.vertices.shape).copy()
    return render_mesh_views(Mesh(scan.mesh.vertices, scan.mesh.faces, colours), cameras)
