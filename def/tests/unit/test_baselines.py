"""PCA and VCM sharpness on known geometry; the monotone calibration."""

from __future__ import annotations

import numpy as np
import trimesh

from def_features.baselines.calibration import fit_calibration
from def_features.baselines.pca import pca_sharpness
from def_features.baselines.vcm import vcm_sharpness
from def_features.data.scan import make_scene, scan, view_looking_at


def _edge_scan():
    box = trimesh.creation.box(extents=(4.0, 4.0, 4.0))
    view = view_looking_at(np.array([2.0, 0.0, 2.0]), np.array([-1.0, 0.2, -1.0]), 8.0, 0.05, 32)
    sc = scan(make_scene(np.asarray(box.vertices), np.asarray(box.faces)), view)
    # Distance of each hit to the edge x = 2, z = 2.
    d = np.hypot(sc.points[..., 0] - 2.0, sc.points[..., 2] - 2.0)
    return sc, d


def test_pca_flat_is_zero_and_edge_is_sharp() -> None:
    sc, d = _edge_scan()
    assert sc.mask.all()
    s = pca_sharpness(sc.points, sc.mask, window=5)
    near, far = d < 0.06, d > 0.3
    assert np.nanmax(s[far]) < 1e-8  # planar neighbourhoods
    assert np.nanmin(s[near]) > 0.02
    # Background handling: NaN off the surface.
    mask = sc.mask.copy()
    mask[:, :4] = False
    s2 = pca_sharpness(sc.points, mask, window=5)
    assert np.isnan(s2[:, :4]).all() and np.isfinite(s2[:, 8:]).all()


def test_vcm_edge_beats_flat() -> None:
    sc, d = _edge_scan()
    pts, dd = sc.points.reshape(-1, 3), d.reshape(-1)
    s = vcm_sharpness(pts, 0.15, 0.15, samples=64, seed=0)
    interior = np.abs(sc.points[..., 1]).reshape(-1) < 0.5  # away from the patch border
    near, far = (dd < 0.05) & interior, (dd > 0.4) & interior
    assert near.sum() > 5 and far.sum() > 50
    assert np.median(s[near]) > 3 * np.median(s[far])


def test_calibration_is_monotone_and_fits_a_monotone_relation() -> None:
    rng = np.random.default_rng(0)
    score = rng.random(5000)
    dist = np.clip(1.0 - score + 0.05 * rng.normal(size=5000), 0, 1)
    cal = fit_calibration(score, dist, n_bins=20)
    assert (np.diff(cal.distance_knots) <= 0).all()
    grid = np.linspace(0.05, 0.95, 10)
    assert np.abs(cal(grid) - (1 - grid)).max() < 0.06
