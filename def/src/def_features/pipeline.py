"""Whole-shape estimation of one shape, with ground truth and outputs.

Scans the shape from ``n_views`` directions, predicts each view tile by tile, fuses
by min re-projection, compares the single-view and fused fields with the true
truncated distances (one item, background-free by construction), and writes the fused
field as a coloured PLY plus a picture of one view, and extracts feature curves from
the fused field (:mod:`def_features.curves`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from def_features.config import CurveConfig, DefConfig
from def_features.curve_network import refine_curves
from def_features.curve_picture import curves_picture
from def_features.curves import evaluate_curves, extract_curves, write_curves
from def_features.data.patches import ShapeItem
from def_features.fusion import fuse_views_modes, predict_view, scan_views
from def_features.kernels.point_segment_distance import point_segment_distance
from def_features.metrics import patch_metrics
from def_features.model.unet import DefUNet
from shared_utils.io.meshes import write_point_cloud


def distance_colors(d: np.ndarray, truncation: float = 1.0) -> np.ndarray:
    """(...,) distances -> (..., 3) colours: red on features fading to light grey."""
    t = np.clip(np.asarray(d, np.float64) / (0.25 * truncation), 0.0, 1.0)[..., None]
    near = np.array([0.85, 0.05, 0.05])
    far = np.array([0.82, 0.82, 0.82])
    return (1 - t) * near + t * far


def true_distances(points: np.ndarray, item: ShapeItem, truncation: float) -> np.ndarray:
    """(P,) truncated distance of points to the item's sharp segments."""
    if len(item.seg_a) == 0:
        return np.full(len(points), truncation)
    d, _, _ = point_segment_distance(
        torch.from_numpy(points),
        torch.from_numpy(item.seg_a),
        torch.from_numpy(item.seg_b),
        truncation,
    )
    return d.numpy()


def fuse_shape(
    model: DefUNet, cfg: DefConfig, item: ShapeItem, n_views: int, out_dir: Path
) -> dict[str, float]:
    """Whole-shape estimation; writes ``fused.ply``, ``field.npz`` (points, distances),
    ``view.png``, ``curves.{json,obj}`` and ``curves.png``."""
    from shared_utils.io.images import write_image

    out_dir.mkdir(parents=True, exist_ok=True)
    ps = cfg.data.pixel_size
    views = scan_views(item.vertices, item.faces, n_views, ps, cfg.data.patch_size)
    preds = [
        predict_view(model, sc.depth, sc.mask, cfg.model.depth_scale, cfg.data.patch_size)
        for _, sc in views
    ]
    # min (the paper's choice) and the truncated mean on the same views, in one pass: the
    # mean has lower RMSE when the per-view errors are unbiased, while min keeps the thin
    # near-curve bands that one view sees best.
    fields = fuse_views_modes(views, preds, 2 * ps, ("min", "mean"), cfg.data.truncation)
    field, tmean = fields["min"], fields["mean"]
    gt = true_distances(field.points, item, cfg.data.truncation)
    ones = np.ones((1, 1, len(gt)), bool)
    single = patch_metrics(field.single_view[None, None], gt[None, None], ones)
    fused = patch_metrics(field.fused[None, None], gt[None, None], ones)
    fused_mean = patch_metrics(tmean.fused[None, None], gt[None, None], ones)
    write_point_cloud(
        out_dir / "fused.ply", field.points, distance_colors(field.fused, cfg.data.truncation)
    )
    # Picture: the first view coloured by fused, true and single-view fields.
    v0 = field.view_index == 0
    _, sc0 = views[0]
    panels = []
    for values in (field.fused[v0], gt[v0], field.single_view[v0]):
        img = np.ones((*sc0.depth.shape, 3))
        img[sc0.mask] = distance_colors(values, cfg.data.truncation)
        panels.append(img)
    write_image(out_dir / "view.png", np.concatenate(panels, axis=1).astype(np.float32))
    np.savez_compressed(out_dir / "field.npz", points=field.points, distances=field.fused)
    # Curves from the fused field (threshold 0.06 as in the official code; graph and
    # fitting scales tied to the scan's pixel size).
    # The same extraction runs on the true field too: the curve stage's own error,
    # without the network's. Each is reported refined (the final curves) and, for
    # Chamfer/Hausdorff, as extracted before the joint refinement.
    curve_cfg = CurveConfig(link_radius=3 * ps, step=2 * ps)
    curve_stats: dict[str, float] = {}
    for prefix, values in (("curve", field.fused), ("true_field_curve", gt)):
        raw = extract_curves(field.points, values, curve_cfg)
        found = raw
        if curve_cfg.refine:
            found, report = refine_curves(raw, field.points, values, curve_cfg)
            if report.topology is not None:
                # What the topology clean-up removed or merged (curve counts before and
                # after it are `{prefix}_unrefined_curves` and `{prefix}_curves`).
                topo = report.topology
                curve_stats[f"{prefix}_merged_corners"] = float(topo.merged_corners)
                curve_stats[f"{prefix}_removed_curves"] = float(
                    topo.curves_before - topo.curves_after
                )
        if prefix == "curve":
            write_curves(out_dir, found, spacing=ps)
            picture = curves_picture(field.points, found).astype(np.float32)
            write_image(out_dir / "curves.png", picture)
        for tag, cs in (("", found), ("unrefined_", raw)):
            metrics = evaluate_curves(
                cs, item.seg_a, item.seg_b, ps, corner_tolerance=curve_cfg.corner_radius
            )
            keys = metrics if not tag else ("chamfer", "hausdorff", "curves")
            curve_stats.update({f"{prefix}_{tag}{k}": metrics[k] for k in keys})
    return {
        **curve_stats,
        "points": float(len(gt)),
        "views": float(n_views),
        "single_view_rmse": single.rmse,
        "fused_rmse": fused.rmse,
        "fused_mean_rmse": fused_mean.rmse,
        "single_view_recall": single.recall,
        "fused_recall": fused.recall,
        "fused_mean_recall": fused_mean.recall,
        "single_view_fpr": single.fpr,
        "fused_fpr": fused.fpr,
        "fused_mean_fpr": fused_mean.fpr,
    }
