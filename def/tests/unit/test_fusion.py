"""Whole-shape fusion with exact per-view predictions (an oracle network)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from def_features.config import ModelConfig, preset
from def_features.data.items import procedural_item
from def_features.fusion import (
    fuse_views,
    fuse_views_modes,
    predict_view,
    scan_views,
    sphere_directions,
)
from def_features.model.unet import DefUNet
from def_features.pipeline import true_distances


def test_sphere_directions_are_unit_and_spread() -> None:
    d = sphere_directions(18)
    np.testing.assert_allclose(np.linalg.norm(d, axis=1), 1.0)
    assert np.abs(d.mean(0)).max() < 0.05


@pytest.mark.parametrize("interpolation", ["nearest", "idw"])
@pytest.mark.parametrize("mode", ["min", "mean"])
def test_fusing_exact_predictions_keeps_them_exact(mode: str, interpolation: str) -> None:
    cfg = preset("tiny").data
    item = procedural_item(5, cfg)
    views = scan_views(item.vertices, item.faces, 4, 0.2, 32)
    preds = []
    for _, sc in views:
        p = np.full(sc.depth.shape, 1.0)
        p[sc.mask] = true_distances(sc.points[sc.mask], item, 1.0)
        preds.append(p)
    field = fuse_views(
        views, preds, tolerance=0.1, mode=mode, implementation="torch", interpolation=interpolation
    )
    gt = true_distances(field.points, item, 1.0)
    np.testing.assert_allclose(field.single_view, gt, atol=1e-9)
    if mode == "min":
        assert (field.fused <= field.single_view + 1e-6).all()
    # Carried values come from points within a pixel of each target point.
    err = np.abs(field.fused - gt)
    assert np.quantile(err, 0.99) < 0.2 * 1.5 and err.mean() < 0.04


@pytest.mark.parametrize("interpolation", ["nearest", "idw"])
def test_one_pass_modes_equal_separate_fusions(interpolation: str) -> None:
    cfg = preset("tiny").data
    item = procedural_item(3, cfg)
    views = scan_views(item.vertices, item.faces, 3, 0.2, 32)
    rng = np.random.default_rng(0)
    preds = [rng.uniform(0, 1.2, sc.depth.shape) for _, sc in views]
    both = fuse_views_modes(
        views, preds, 0.1, ("min", "mean"), 1.0, "torch", interpolation=interpolation
    )
    for mode in ("min", "mean"):
        alone = fuse_views(views, preds, 0.1, mode, 1.0, "torch", interpolation=interpolation)
        np.testing.assert_array_equal(both[mode].fused, alone.fused)
        np.testing.assert_array_equal(both[mode].points, alone.points)
    # the truncated mean never exceeds the truncation and is below it where some estimate was
    assert both["mean"].fused.max() <= 1.0
    assert (both["min"].fused <= both["mean"].fused + 1e-6).all()
    with pytest.raises(ValueError, match="mode must be one of"):
        fuse_views_modes(views, preds, 0.1, ("median",))


def test_fusing_a_pessimistic_view_is_corrected_by_others() -> None:
    cfg = preset("tiny").data
    item = procedural_item(5, cfg)
    views = scan_views(item.vertices, item.faces, 5, 0.2, 32)
    preds = []
    for k, (_, sc) in enumerate(views):
        p = np.full(sc.depth.shape, 1.0)
        if k > 0:  # view 0 predicts "no feature" everywhere
            p[sc.mask] = true_distances(sc.points[sc.mask], item, 1.0)
        preds.append(p)
    field = fuse_views(views, preds, tolerance=0.1, implementation="torch")
    v0 = field.view_index == 0
    gt = true_distances(field.points[v0], item, 1.0)
    assert np.abs(field.single_view[v0] - gt).mean() > 0.2
    assert np.abs(field.fused[v0] - gt).mean() < 0.5 * np.abs(field.single_view[v0] - gt).mean()


def test_predict_view_tiles_match_patchwise_prediction() -> None:
    torch.manual_seed(0)
    net = DefUNet(
        dataclasses.replace(
            ModelConfig(encoder="resnet10t", decoder_channels=(16, 8, 8, 8), n_bins=10)
        )
    ).eval()
    rng = np.random.default_rng(0)
    depth = rng.uniform(1, 2, size=(64, 128))
    mask = rng.random((64, 128)) > 0.2
    full = predict_view(net, depth, mask, 4.0)
    right = predict_view(net, depth[:, 64:], mask[:, 64:], 4.0)
    np.testing.assert_allclose(full[:, 64:], right, atol=1e-5)
    assert (full[~mask] == 1.0).all()
