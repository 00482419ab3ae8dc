"""Iterative closest point through open3d (point-to-point or point-to-plane)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shared_utils.o3d import open3d


@dataclass(frozen=True)
class IcpResult:
    """The outcome of an ICP registration."""

    transform: np.ndarray
    """(4, 4) rigid transform mapping source points onto the target."""
    fitness: float
    """Fraction of source points with a target point within the correspondence distance."""
    inlier_rmse: float
    """RMS distance over those inlier correspondences."""


def icp(
    source: np.ndarray,
    target: np.ndarray,
    *,
    init: np.ndarray | None = None,
    max_correspondence_distance: float,
    point_to_plane: bool = False,
    max_iterations: int = 50,
    normal_knn: int = 30,
    target_normals: np.ndarray | None = None,
) -> IcpResult:
    """Rigidly register ``source`` onto ``target``.

    Args:
        source: (N, 3) points to move.
        target: (M, 3) fixed points.
        init: (4, 4) initial source->target transform (identity by default).
        max_correspondence_distance: pairs farther apart than this are ignored.
        point_to_plane: minimise distances to the target's tangent planes (faster
            convergence on smooth surfaces) instead of point-to-point distances.
        max_iterations: ICP iteration cap.
        normal_knn: neighbours used to estimate target normals for point-to-plane.
        target_normals: (M, 3) known target normals (skips the estimation).

    Returns:
        IcpResult with the transform, fitness and inlier RMSE.
    """
    o3d = open3d()
    src = np.asarray(source, dtype=np.float64)
    tgt = np.asarray(target, dtype=np.float64)
    for name, arr in (("source", src), ("target", tgt)):
        if arr.ndim != 2 or arr.shape[1] != 3 or arr.shape[0] == 0:
            raise ValueError(f"icp: {name} must be a non-empty (N, 3) array, got {arr.shape}")
    T0 = np.eye(4) if init is None else np.asarray(init, dtype=np.float64)
    if T0.shape != (4, 4):
        raise ValueError(f"icp: init must be (4, 4), got {T0.shape}")

    pcd_src = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(src))
    pcd_tgt = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(tgt))
    reg = o3d.pipelines.registration
    if point_to_plane:
        if target_normals is not None:
            pcd_tgt.normals = o3d.utility.Vector3dVector(
                np.asarray(target_normals, dtype=np.float64)
            )
        else:
            pcd_tgt.estimate_normals(o3d.geometry.KDTreeSearchParamKNN(knn=normal_knn))
        estimation = reg.TransformationEstimationPointToPlane()
    else:
        estimation = reg.TransformationEstimationPointToPoint()
    criteria = reg.ICPConvergenceCriteria(
        relative_fitness=1e-10, relative_rmse=1e-10, max_iteration=max_iterations
    )
    result = reg.registration_icp(
        pcd_src, pcd_tgt, float(max_correspondence_distance), T0, estimation, criteria
    )
    return IcpResult(
        transform=np.asarray(result.transformation, dtype=np.float64).copy(),
        fitness=float(result.fitness),
        inlier_rmse=float(result.inlier_rmse),
    )
