"""The real-geometry check: fit a real face scan from one rendered view, error in mm.

The scan (:mod:`multineus.data.face_scan`) is rendered from the frontal camera of the
procedural heads, a meta-trained model fits it from that one view (the same two stages as
any new person), and the error is measured from the scan to the fitted surface in the
face region, in mm, after ICP, next to the mean head's (the fit's starting point).

Two things differ from a procedural held-out head, both because a range scan is partial
(face, ears and a headband; no back of the head, nothing below the chin):

* the distance goes from the scan to the prediction (every scanned face point must lie
  on the reconstruction), not the other way: the prediction's back of the head has
  nothing to be compared with;
* the fit has no silhouette term: the scan's outline is where the scanner stopped, not
  the outline of the head, so only the colours of the scanned pixels are fitted.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from multineus.config import MultiNeuSConfig
from multineus.data.face_scan import FaceScan, render_face_scan
from multineus.data.heads import frontal_cameras
from multineus.data.scenes import SceneViews
from multineus.evaluate import icp_onto, point_to_surface_mm
from multineus.fit import fit_new_scene
from multineus.mesh import Mesh
from multineus.model.multineus import MultiNeuS
from multineus.train import extract_mesh
from shared_utils.geometry.sampling import sample_surface


@dataclass
class ScanCheckResult:
    """Scan -> reconstruction distances in the face region (mm, after ICP)."""

    mean_head_mm: float
    """The mean head (averaged coefficients, before fitting)."""
    fitted_mm: float
    """After fitting the one rendered view."""
    mean_head_fitness: float
    """Fraction of scan points ICP paired with the mean head (within 20 mm)."""
    fitted_fitness: float
    """The same for the fitted head."""
    seconds: float
    """Wall time of the fit and both evaluations."""


def scan_to_mesh_mm(
    scan: FaceScan,
    mesh: Mesh,
    *,
    face_radius_mm: float = 95.0,
    n_points: int = 10000,
    seed: int = 0,
) -> tuple[float, float]:
    """Mean distance (mm) from the scan's face region to ``mesh`` after ICP, and the ICP
    fitness.

    Points are sampled uniformly over the scan's area within ``face_radius_mm`` of its
    nose tip (so the face region is the scan's, fixed before alignment); ICP moves them
    onto samples of the mesh, then each point's exact distance to the mesh surface is
    taken.
    """
    points = sample_surface(scan.mesh.vertices, scan.mesh.faces, 4 * n_points, seed=seed)[0]
    near = np.linalg.norm(points - scan.nose, axis=1) * scan.mm_per_unit < face_radius_mm
    points = points[near][:n_points]
    if len(mesh.faces) == 0:
        raise ValueError("scan_to_mesh_mm: the reconstructed mesh has no faces")
    targets = sample_surface(mesh.vertices, mesh.faces, 4 * n_points, seed=seed + 1)[0]
    T, fitness = icp_onto(points, targets, mm_per_unit=scan.mm_per_unit)
    moved = points @ T[:3, :3].T + T[:3, 3]
    return float(point_to_surface_mm(moved, mesh, mm_per_unit=scan.mm_per_unit).mean()), fitness


def face_scan_views(
    cfg: MultiNeuSConfig, scan: FaceScan, image_size: int | None = None
) -> SceneViews:
    """The scan rendered from the procedural heads' frontal camera (one view; at
    ``image_size`` pixels, the training renders' size by default)."""
    d = cfg.data
    cams = frontal_cameras(
        1,
        image_size=image_size or d.image_size,
        fov_deg=d.fov_deg,
        distance=d.camera_distance,
        seed=0,
    )
    images, masks = render_face_scan(scan, cams)
    return SceneViews.from_arrays(images, masks, cams)


def face_scan_check(
    cfg: MultiNeuSConfig,
    model: MultiNeuS,
    scan: FaceScan,
    out: str | Path,
    *,
    image_size: int | None = None,
    mean_mesh: Mesh | None = None,
) -> tuple[ScanCheckResult, SceneViews, Mesh]:
    """Fit ``scan`` from one rendered view with ``model`` (``cfg.fit``'s schedule and
    priors, no mask term, exact camera); writes ``out/face_scan_{mean_head,fitted}.ply``.

    ``mean_mesh``: the mean head's mesh at ``cfg.mesh_resolution`` when the caller has
    already extracted it (otherwise it is extracted here).

    Returns:
        the result, the input view and the fitted mesh (world units).
    """
    t0 = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = copy.deepcopy(cfg)
    cfg.fit.refine_cameras = False  # the rendering camera is exact
    cfg.fit.mask_weight = 0.0  # the scan's outline is not the head's (see module doc)
    if mean_mesh is None:
        mean_model = copy.deepcopy(model)
        mean_scene = mean_model.add_scene()
        mean_mesh = extract_mesh(mean_model, mean_scene, resolution=cfg.mesh_resolution)
    views = face_scan_views(cfg, scan, image_size)
    fitted_model, scene, _ = fit_new_scene(cfg, model, views, out / "runs" / "face_scan")
    fitted_mesh = extract_mesh(fitted_model, scene, resolution=cfg.mesh_resolution)
    mean_mm, mean_fit = scan_to_mesh_mm(scan, mean_mesh)
    fitted_mm, fitted_fit = scan_to_mesh_mm(scan, fitted_mesh)
    mean_mesh.save(out / "face_scan_mean_head.ply")
    fitted_mesh.save(out / "face_scan_fitted.ply")
    result = ScanCheckResult(mean_mm, fitted_mm, mean_fit, fitted_fit, time.time() - t0)
    return result, views, fitted_mesh
