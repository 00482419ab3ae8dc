"""The references the demo must beat: points drawn with their mean input colour, and
the points' coverage as a foreground mask.

Each point's colour is the average of the image colours sampled at it over the input
views where it is visible (the same z-buffer visibility as the modeling stage, so this
is NPBG++'s aggregation with the raw RGB in place of learned features and no view
dependence); rendering splats the nearest point per pixel, black elsewhere.

The mask reference needs no learning either: a pixel is foreground when at least one
projected point falls in it, optionally after one 3x3 dilation (which closes the holes
between sparse points but also grows the silhouette by a pixel).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F

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


def point_coverage(
    points: torch.Tensor,
    camera: Camera,
    *,
    dilate: bool = False,
    implementation: str = "auto",
) -> torch.Tensor:
    """(H, W) bool: pixels hit by at least one of ``points`` (N, 3) at full resolution.

    ``dilate``: grow the hit pixels by one 3x3 max-filter (a pixel next to a hit counts).
    """
    uv, depth = camera.project(points)
    (win,) = rasterize_points(uv, depth, camera.height, camera.width, implementation=implementation)
    hit = win >= 0
    if dilate:
        hit = F.max_pool2d(hit[None, None].float(), 3, stride=1, padding=1)[0, 0] > 0
    return hit
