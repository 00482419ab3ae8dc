"""Multi-scale z-buffer rasteriser: Triton (interpreter) vs reference vs a naive loop."""

from __future__ import annotations

import math

import pytest
import torch

from npbgpp.kernels.rasterize import rasterize_points, scale_sizes
from shared_utils.kernels import assert_close

SCALES = (1.0, 0.5, 0.25)


def _naive(uv, depth, height, width, scales):
    """Per-point loop: keep (depth, index) minimal per pixel."""
    out = []
    for (h, w), f in zip(scale_sizes(height, width, scales), scales, strict=True):
        best: dict[tuple[int, int], tuple[float, int]] = {}
        for i in range(uv.shape[0]):
            d = float(depth[i])
            if not math.isfinite(d) or d <= 1e-6:
                continue
            x = math.floor(float(uv[i, 0]) * f)
            y = math.floor(float(uv[i, 1]) * f)
            if not (0 <= x < w and 0 <= y < h):
                continue
            if (y, x) not in best or (d, i) < best[(y, x)]:
                best[(y, x)] = (d, i)
        img = torch.full((h, w), -1, dtype=torch.int64)
        for (y, x), (_, i) in best.items():
            img[y, x] = i
        out.append(img)
    return out


def _cloud(n: int, height: int, width: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    uv = torch.rand(n, 2, generator=g) * torch.tensor([width + 4.0, height + 4.0]) - 2.0
    depth = torch.rand(n, generator=g) * 3.0 + 0.1
    depth[::7] = -1.0  # behind the camera
    depth[3::11] = float("inf")
    return uv, depth


@pytest.mark.parametrize(("n", "height", "width"), [(1, 4, 4), (50, 8, 12), (300, 16, 16)])
def test_matches_naive_loop(n: int, height: int, width: int) -> None:
    uv, depth = _cloud(n, height, width, seed=n)
    expected = _naive(uv, depth, height, width, SCALES)
    for impl in ("torch", "triton"):
        got = rasterize_points(uv, depth, height, width, SCALES, implementation=impl)
        for s, (a, e) in enumerate(zip(got, expected, strict=True)):
            assert_close(a, e, name=f"{impl} scale {s}")


def test_nearest_point_wins_and_ties_are_stable() -> None:
    uv = torch.tensor([[1.5, 1.5], [1.2, 1.7], [1.9, 1.1], [1.5, 1.5]])
    depth = torch.tensor([2.0, 1.0, 1.0, 0.5])
    for impl in ("torch", "triton"):
        (full,) = rasterize_points(uv, depth, 4, 4, implementation=impl)
        assert int(full[1, 1]) == 3
        depth2 = torch.tensor([2.0, 1.0, 1.0, 3.0])
        (full2,) = rasterize_points(uv, depth2, 4, 4, implementation=impl)
        assert int(full2[1, 1]) == 1  # equal depths: the smaller index wins
        assert int((full2 >= 0).sum()) == 1


def test_scales_merge_pixel_blocks() -> None:
    # Two points in the same 2x2 block land in one half-resolution pixel.
    uv = torch.tensor([[0.5, 0.5], [1.5, 1.5], [3.5, 0.5]])
    depth = torch.tensor([2.0, 1.0, 1.0])
    for impl in ("torch", "triton"):
        full, half = rasterize_points(uv, depth, 4, 4, (1.0, 0.5), implementation=impl)
        assert full.shape == (4, 4) and half.shape == (2, 2)
        assert int(half[0, 0]) == 1 and int(half[0, 1]) == 2
        assert int((half >= 0).sum()) == 2 and int((full >= 0).sum()) == 3


def test_bad_shapes_raise() -> None:
    with pytest.raises(ValueError, match="uv must be"):
        rasterize_points(torch.zeros(3, 3), torch.ones(3), 4, 4)
    with pytest.raises(ValueError, match="depth must be"):
        rasterize_points(torch.zeros(3, 2), torch.ones(2), 4, 4)
