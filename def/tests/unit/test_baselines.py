"""PCA and VCM sharpness on known geometry; the monotone calibration."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

import def_features.eval as eval_module
from def_features.baselines.calibration import (
    ScoreCalibration,
    best_f1_threshold,
    fit_calibration,
)
from def_features.baselines.pca import pca_sharpness
from def_features.baselines.run import baseline_scores, fit_baseline, predict_baseline
from def_features.baselines.vcm import vcm_sharpness
from def_features.data.scan import make_scene, scan, view_looking_at
from def_features.metrics import patch_metrics


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


def test_best_f1_threshold_known_answers() -> None:
    s_star, f1, called = best_f1_threshold(
        np.array([0.9, 0.1, 0.8, 0.7]), np.array([True, False, True, False])
    )
    assert s_star == 0.8 and f1 == 1.0 and called.tolist() == [True, False, True, False]
    # One positive among three: calling the top two gives 2*1/(2+1), calling one gives 1.
    s_star, f1, _ = best_f1_threshold(np.array([0.5, 0.9, 0.2]), np.array([False, True, False]))
    assert s_star == 0.9 and f1 == 1.0
    # Ties are called together: cutting inside the tie is not allowed.
    s_star, f1, _ = best_f1_threshold(np.array([0.5, 0.5, 0.1]), np.array([True, False, False]))
    assert s_star == 0.5 and f1 == pytest.approx(2 / 3)
    # No positive: detection off.
    s_star, f1, called = best_f1_threshold(np.array([0.3, 0.2]), np.array([False, False]))
    assert s_star == float("inf") and f1 == 0.0 and not called.any()


def _edge_patches(directions: list[tuple[float, float, float]], pixel_size: float = 0.02):
    """Patches (HDF5 layout) of the edge x = z = 2 of a 4-unit box seen from ``directions``."""
    box = trimesh.creation.box(extents=(4.0, 4.0, 4.0))
    scene = make_scene(np.asarray(box.vertices), np.asarray(box.faces))
    out: dict[str, list] = {"image": [], "distances": [], "camera_pose": [], "resolution_3d": []}
    for k, direction in enumerate(directions):
        target = np.array([2.0, 0.1 * k, 2.0])
        view = view_looking_at(target, np.array(direction), 8.0, pixel_size, 32)
        sc = scan(scene, view)
        d = np.hypot(sc.points[..., 0] - 2.0, sc.points[..., 2] - 2.0)
        out["image"].append(np.where(sc.mask, sc.depth, 0.0))
        out["distances"].append(np.where(sc.mask, np.minimum(d, 1.0), 1.0))
        out["camera_pose"].append(np.linalg.inv(view.cam_from_world))
        out["resolution_3d"].append(pixel_size)
    return {k: np.asarray(v, np.float32) for k, v in out.items()}


def test_calibration_predicts_near_sharp_points_on_an_edge() -> None:
    train = _edge_patches([(-1.0, 0.2, -1.0), (-1.0, -0.3, -0.7)])
    test = _edge_patches([(-0.7, 0.1, -1.0)])
    calib = fit_baseline("pca", train, 0.02)
    assert calib.detect_score < np.inf and calib.detect_distance < 0.02
    assert calib.train_f1 > 0.3
    grid = np.linspace(0, 1 / 3, 200)  # still non-increasing in the score
    assert (np.diff(calib(grid)) <= 1e-12).all()
    pred = predict_baseline("pca", calib, test, 0.02)
    mask = test["image"] > 0
    m = patch_metrics(pred, test["distances"], mask, 0.02)
    assert m.recall > 0.5 and m.fpr < 0.1, m
    # The detection part only lowers distances: never fewer hits than the bin-mean map.
    plain = ScoreCalibration(calib.score_knots, calib.distance_knots)
    scores = baseline_scores("pca", test, 0.02)
    old = np.where(np.isfinite(scores), plain(np.nan_to_num(scores, nan=-1.0)), 1.0)
    assert (pred <= old).all()
    assert m.recall >= patch_metrics(old, test["distances"], mask, 0.02).recall


def test_detection_recovers_near_points_that_bin_means_hide() -> None:
    # 3 % of the pixels score high; two thirds of those are near a curve (d = 0.01), the
    # rest far (d = 0.5); the other 97 % are far and score low. Each of the 32 quantile
    # bins holds ~3 % of the pixels, so the top bin's mean is ~0.17: above 0.02.
    rng = np.random.default_rng(1)
    n = 20_000
    high = np.zeros(n, bool)
    high[: int(0.03 * n)] = True
    near = high & (rng.random(n) < 2 / 3)
    score = np.where(high, rng.uniform(0.9, 1.0, n), rng.uniform(0.0, 0.8, n))
    dist = np.where(near, 0.01, np.where(high, 0.5, rng.uniform(0.1, 1.0, n)))
    calib = fit_calibration(score, dist, n_bins=32, threshold=0.02)
    plain = ScoreCalibration(calib.score_knots, calib.distance_knots)
    assert plain(score).min() > 0.1  # bin means: Recall 0 by construction
    # Detection: the best F1 calls (almost) the whole high group, where the near points
    # are spread; it may stop just above the lowest far ones.
    assert 0.9 <= calib.detect_score <= 0.91 and calib.detect_distance == pytest.approx(0.01)
    called = calib(score) < 0.02
    assert not (called & ~high).any() and called[near].mean() > 0.95
    assert calib.train_f1 == pytest.approx(2 * near.sum() / (high.sum() + near.sum()), rel=0.05)


def test_baseline_calibration_never_sees_the_evaluated_patches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    train = _edge_patches([(-1.0, 0.2, -1.0), (-1.0, -0.3, -0.7)])
    test = _edge_patches([(-0.7, 0.1, -1.0)])
    fitted_on: list[dict] = []

    def spy(name, arrays, *args, **kwargs):  # type: ignore[no-untyped-def]
        fitted_on.append(arrays)
        return fit_baseline(name, arrays, *args, **kwargs)

    monkeypatch.setattr(eval_module, "fit_baseline", spy)
    rows = eval_module.evaluate(None, 4.0, train, test, 0.02, baselines=("pca",))
    assert len(fitted_on) == 1 and fitted_on[0] is train
    # Predictions do not depend on the evaluated patches' targets (they are not even read).
    calib = fit_baseline("pca", train, 0.02)
    blind = {k: v for k, v in test.items() if k != "distances"}
    pred = predict_baseline("pca", calib, blind, 0.02)
    np.testing.assert_array_equal(pred, predict_baseline("pca", calib, test, 0.02))
    expected = patch_metrics(pred, test["distances"], test["image"] > 0, 0.02)
    assert rows["PCA"] == expected
    # Different training targets do change the fit (so it is the training set that counts).
    shifted = dict(train, distances=np.minimum(train["distances"] + 0.05, 1.0))
    assert fit_baseline("pca", shifted, 0.02).detect_score == np.inf
