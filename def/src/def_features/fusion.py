"""Whole-shape estimation: per-view prediction, re-projection between views, fusion.

The shape is scanned by ``n_views`` orthographic range views around it (directions
spread on the sphere, the same pixel size as the training patches). Each view is cut
into patch-size tiles, predicted by the network, and every source view's predictions
are carried into every target view by :func:`~def_features.kernels.reproject.reproject_min`
(z-test: only source points lying on the surface a target pixel sees contribute).
Per target pixel the estimates are combined by ``min`` over sources (the paper's
choice) or by a truncated mean (mean of the estimates below the truncation radius,
the truncation where none is). The fused field lives on the union of the views'
points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from def_features.data.scan import OrthoView, RangeScan, make_scene, scan, view_looking_at
from def_features.kernels.reproject import _pixel_targets, reproject_interpolate, reproject_min
from def_features.model.unet import DefUNet, normalise_depth


@dataclass(frozen=True)
class FusedField:
    """Per-point distance estimates of the union of the views."""

    points: np.ndarray
    """(P, 3) world points."""
    single_view: np.ndarray
    """(P,) the prediction of the point's own view."""
    fused: np.ndarray
    """(P,) the fused prediction."""
    view_index: np.ndarray
    """(P,) index of the view each point comes from."""


def sphere_directions(n: int) -> np.ndarray:
    """(n, 3) unit directions spread on the sphere (Fibonacci lattice)."""
    k = np.arange(n) + 0.5
    z = 1 - 2 * k / n
    phi = np.pi * (1 + 5**0.5) * k
    r = np.sqrt(1 - z * z)
    return np.stack([r * np.cos(phi), r * np.sin(phi), z], -1)


def scan_views(
    vertices: np.ndarray, faces: np.ndarray, n_views: int, pixel_size: float, tile: int = 64
) -> list[tuple[OrthoView, RangeScan]]:
    """Orthographic views covering the whole shape, sides a multiple of ``tile``."""
    scene = make_scene(vertices, faces)
    centre = (vertices.max(0) + vertices.min(0)) / 2
    radius = float(np.linalg.norm(vertices - centre, axis=1).max())
    size = int(np.ceil(2 * radius / pixel_size / tile)) * tile
    out = []
    for d in sphere_directions(n_views):
        view = view_looking_at(centre, -d, radius + 1.0, pixel_size, size)
        out.append((view, scan(scene, view)))
    return out


@torch.no_grad()
def predict_view(
    model: DefUNet, depth: np.ndarray, mask: np.ndarray, depth_scale: float, tile: int = 64
) -> np.ndarray:
    """(H, W) predicted distances of a whole view, predicted tile by tile."""
    h, w = depth.shape
    d = torch.from_numpy(np.where(mask, depth, 0.0).astype(np.float32))
    m = torch.from_numpy(mask)
    tiles_d = d.unfold(0, tile, tile).unfold(1, tile, tile).reshape(-1, tile, tile)
    tiles_m = m.unfold(0, tile, tile).unfold(1, tile, tile).reshape(-1, tile, tile)
    x = normalise_depth(tiles_d, tiles_m, depth_scale)
    device = next(model.parameters()).device
    pred = torch.cat(
        [model.predict_distance(x[s : s + 32].to(device)).cpu() for s in range(0, len(x), 32)]
    )
    pred = pred.reshape(h // tile, w // tile, tile, tile).permute(0, 2, 1, 3).reshape(h, w)
    return np.where(mask, pred.numpy(), model.bins.truncation)


def fuse_views(
    views: list[tuple[OrthoView, RangeScan]],
    predictions: list[np.ndarray],
    tolerance: float,
    mode: str = "min",
    truncation: float = 1.0,
    implementation: str = "auto",
    interpolation: str = "nearest",
    radius_px: float = 1.0,
    device: str | torch.device = "cpu",
) -> FusedField:
    """Fuse per-view predictions (each (H, W)) into a per-point field.

    ``interpolation="nearest"`` carries each source point to the one target pixel it
    falls in (the re-projection kernel); ``"idw"`` interpolates each source at the
    target pixel centres from its points within ``radius_px`` pixels
    (:func:`~def_features.kernels.reproject.reproject_interpolate`), the paper's
    neighbour-limited interpolation; both combine sources by ``mode``.
    ``implementation`` goes to both kernels; the re-projection runs on ``device``
    (``"auto"`` takes the Triton kernels when that is a CUDA device).
    """
    return fuse_views_modes(
        views,
        predictions,
        tolerance,
        (mode,),
        truncation,
        implementation,
        interpolation,
        radius_px,
        device,
    )[mode]


FUSION_MODES = ("min", "mean")
"""Ways to combine the estimates that reach a pixel: minimum, or truncated mean."""


def fuse_views_modes(
    views: list[tuple[OrthoView, RangeScan]],
    predictions: list[np.ndarray],
    tolerance: float,
    modes: tuple[str, ...] = FUSION_MODES,
    truncation: float = 1.0,
    implementation: str = "auto",
    interpolation: str = "nearest",
    radius_px: float = 1.0,
    device: str | torch.device = "cpu",
) -> dict[str, FusedField]:
    """:func:`fuse_views` for several combination modes in one pass (mode -> field).

    The per-view setup and, with ``"idw"``, the interpolated source maps are computed
    once and combined by every mode.
    """
    for mode in modes:
        if mode not in FUSION_MODES:
            raise ValueError(f"fuse_views: mode must be one of {FUSION_MODES}, got {mode!r}")
    if interpolation not in ("nearest", "idw"):
        raise ValueError(
            f"fuse_views: interpolation must be 'nearest' or 'idw', got {interpolation!r}"
        )
    srcs = [
        (
            torch.from_numpy(sc.points[sc.mask]).float().to(device),
            torch.from_numpy(p[sc.mask]).float().to(device),
        )
        for (_, sc), p in zip(views, predictions)
    ]
    fused: dict[str, list[np.ndarray]] = {mode: [] for mode in modes}
    pts, own, vidx = [], [], []
    for t, (view, sc) in enumerate(views):
        cam = torch.from_numpy(view.cam_from_world).float().to(device)
        depth = torch.from_numpy(sc.depth).float().to(device)
        outs: dict[str, torch.Tensor] = {}
        if interpolation == "idw":
            stack = torch.stack(
                [
                    reproject_interpolate(
                        p,
                        v,
                        cam,
                        depth,
                        view.pixel_size,
                        tolerance,
                        radius_px,
                        implementation=implementation,
                    )
                    for p, v in srcs
                ]
            )
            for mode in modes:
                if mode == "min":
                    outs[mode] = stack.min(0).values
                else:
                    keep = torch.isfinite(stack) & (stack < truncation)
                    total = torch.where(keep, stack, torch.zeros_like(stack)).sum(0)
                    outs[mode] = truncated_mean(total, keep.sum(0), truncation)
        else:
            if "min" in modes:
                out = torch.full(depth.shape, float("inf"), device=depth.device)
                for p, v in srcs:
                    reproject_min(
                        p,
                        v,
                        cam,
                        depth,
                        view.pixel_size,
                        tolerance,
                        out,
                        implementation=implementation,
                    )
                outs["min"] = out
            if "mean" in modes:
                total = torch.zeros(depth.numel(), dtype=torch.float64, device=depth.device)
                count = torch.zeros(depth.numel(), dtype=torch.float64, device=depth.device)
                for p, v in srcs:
                    flat, ok = _pixel_targets(p, cam, depth, view.pixel_size, tolerance)
                    keep = ok & (v < truncation)
                    total.index_add_(0, flat[keep], v[keep].double())
                    count.index_add_(0, flat[keep], keep[keep].double())
                outs["mean"] = truncated_mean(total, count, truncation).reshape(depth.shape).float()
        m = sc.mask
        pts.append(sc.points[m])
        own.append(predictions[t][m])
        vidx.append(np.full(int(m.sum()), t))
        for mode in modes:
            fused[mode].append(np.minimum(outs[mode].cpu().numpy()[m], truncation))
    points, single, index = np.concatenate(pts), np.concatenate(own), np.concatenate(vidx)
    return {mode: FusedField(points, single, np.concatenate(fused[mode]), index) for mode in modes}


def truncated_mean(total: torch.Tensor, count: torch.Tensor, truncation: float) -> torch.Tensor:
    """Mean of the estimates below the truncation (``total / count``), the truncation where
    none reached the pixel: the truncated-mean fusion rule."""
    return torch.where(count > 0, total / count.clamp_min(1), torch.full_like(total, truncation))
