"""The reference the demo must beat: points drawn with their mean input colour.

Each point's colour is the average of the image colours sampled at it over the input
views where it is visible (the same z-buffer visibility as the modeling stage, so this
is NPBG++'s aggregation with the raw RGB in place of learned features and no view
dependence); rendering splats the nearest point per pixel, black elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from npbgpp.camera import Camera
from npbgpp.kernels.aggregate_sums import aggregate_sums
from npbgpp.kernels.rasterize import rasterize_points
from npbgpp.model.pipeline import sample_bilinear


def mean_point_colors(
    points: torch.Tensor,
    views: Iterable[tuple[torch.Tensor, Camera]],
    *,
    visibility_scale: float = 1.0,
    implementation: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean colour (N, 3) of every point over the views that see it, and the seen mask (N,)."""
    n = points.shape[0]
    total = torch.zeros(n, 3, device=points.device)
    count = torch.zeros(n, device=points.device)
    empty_h = torch.zeros(0, 1, device=points.device)
    for image, cam in views:
        uv, depth = cam.project(points)
        (win,) = rasterize_points(
            uv, depth, cam.height, cam.width, (visibility_scale,), implementation=implementation
        )
        index = torch.unique(win[win >= 0])
        rgb = sample_bilinear(image, uv[index])
        h = empty_h.new_zeros(len(index), 1)
        sums = aggregate_sums(index, rgb, h, n, implementation=implementation)
        count += sums[0]
        total += sums[1]
    seen = count > 0
    return total / count.clamp_min(1)[:, None], seen


def render_point_colors(
    points: torch.Tensor, colors: torch.Tensor, camera: Camera, *, implementation: str = "auto"
) -> torch.Tensor:
    """(3, H, W) image of coloured points, one pixel each, nearest wins, black elsewhere."""
    uv, depth = camera.project(points)
    (win,) = rasterize_points(uv, depth, camera.height, camera.width, implementation=implementation)
    hit = win >= 0
    img = colors[win.clamp_min(0)] * hit[..., None]
    return img.permute(2, 0, 1)
