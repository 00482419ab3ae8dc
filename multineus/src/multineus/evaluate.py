"""Geometry evaluation as in the paper's Table 7: one-way Chamfer (prediction -> ground
truth) in millimetres after rigid ICP alignment, over the face region and the full head.

Both meshes are sampled uniformly by area; the prediction's points are registered onto
the ground truth's by point-to-plane ICP (starting from the identity: both live in the
same canonical frame); then each predicted point's distance to the nearest ground-truth
point is averaged. The face region keeps the points within ``face_radius_mm`` of a face
anchor (H3DS crops around the face the same way; here the anchor is the nose tip).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from multineus.mesh import Mesh
from shared_utils.geometry.chamfer import nearest_distances
from shared_utils.geometry.icp import icp
from shared_utils.geometry.sampling import sample_surface
from shared_utils.o3d import open3d


@dataclass(frozen=True)
class ChamferResult:
    """One-way Chamfer distances in mm."""

    face_mm: float
    """Mean distance over predicted points in the face region."""
    head_mm: float
    """Mean distance over all predicted points."""
    icp_fitness: float
    """Fraction of points with a partner within the ICP correspondence distance."""
    transform: np.ndarray
    """(4, 4) the ICP transform applied to the prediction."""


def chamfer_after_icp(
    pred: Mesh | np.ndarray,
    gt: Mesh | np.ndarray,
    *,
    mm_per_unit: float,
    face_anchor: np.ndarray,
    face_radius_mm: float = 95.0,
    n_points: int = 20000,
    icp_distance_mm: float = 20.0,
    align: bool = True,
    seed: int = 0,
) -> ChamferResult:
    """Chamfer prediction -> ground truth after ICP.

    Args:
        pred, gt: meshes or (N, 3) point sets in world units.
        mm_per_unit: millimetres per world unit.
        face_anchor: (3,) centre of the face region (world units, ground-truth frame).
        face_radius_mm: radius of the face region.
        n_points: surface samples per mesh.
        icp_distance_mm: ICP correspondence cut-off.
        align: run ICP (False: evaluate in place).
        seed: sampling seed.

    Returns:
        :class:`ChamferResult`.
    """
    p = _points(pred, n_points, seed, "pred")
    g = _points(gt, n_points, seed + 1, "gt")
    T, fitness = np.eye(4), 1.0
    if align:
        T, fitness = icp_onto(p, g, mm_per_unit=mm_per_unit, icp_distance_mm=icp_distance_mm)
    p = p @ T[:3, :3].T + T[:3, 3]
    d = nearest_distances(p, g) * mm_per_unit
    face = np.linalg.norm(p - np.asarray(face_anchor, dtype=np.float64), axis=1) * mm_per_unit
    in_face = face < face_radius_mm
    if not in_face.any():
        raise ValueError("chamfer_after_icp: no predicted point lies in the face region")
    return ChamferResult(float(d[in_face].mean()), float(d.mean()), fitness, T)


def icp_onto(
    points: np.ndarray, target: np.ndarray, *, mm_per_unit: float, icp_distance_mm: float = 20.0
) -> tuple[np.ndarray, float]:
    """The evaluation's rigid registration of ``points`` (N, 3) onto ``target`` (M, 3)
    (point-to-plane ICP from the identity): the (4, 4) transform and ICP's fitness."""
    res = icp(
        points,
        target,
        max_correspondence_distance=icp_distance_mm / mm_per_unit,
        point_to_plane=True,
        max_iterations=60,
    )
    return res.transform, res.fitness


def _points(x: Mesh | np.ndarray, n: int, seed: int, name: str) -> np.ndarray:
    if isinstance(x, Mesh):
        if len(x.faces) == 0:
            raise ValueError(f"chamfer_after_icp: {name} mesh has no faces")
        return sample_surface(x.vertices, x.faces, n, seed=seed)[0]
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 3 or len(arr) == 0:
        raise ValueError(f"chamfer_after_icp: {name} must be (N, 3) points, got {arr.shape}")
    return arr


def point_to_surface_mm(points: np.ndarray, mesh: Mesh, *, mm_per_unit: float) -> np.ndarray:
    """(N,) exact distances (mm) from points to a triangle mesh's surface (open3d's
    closest-point query), free of the sampling floor of point-to-sample distances.

    Args:
        points: (N, 3) in world units.
        mesh: the surface, in world units.
    """
    if len(mesh.faces) == 0:
        raise ValueError("point_to_surface_mm: the mesh has no faces")
    o3d = open3d()
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(
        o3d.core.Tensor(np.asarray(mesh.vertices, dtype=np.float32)),
        o3d.core.Tensor(np.asarray(mesh.faces, dtype=np.uint32)),
    )
    query = o3d.core.Tensor(np.asarray(points, dtype=np.float32))
    return scene.compute_distance(query).numpy().astype(np.float64) * mm_per_unit
