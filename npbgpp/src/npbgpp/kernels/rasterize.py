"""Multi-scale point rasterisation with a z-buffer: the nearest point wins each pixel.

Every point is splatted into one pixel per scale. The z-buffer holds, per pixel, an
int64 key ``depth_bits << 32 | point_index`` where ``depth_bits`` is the IEEE bit
pattern of the (positive) float32 depth: for positive floats the bit pattern orders
like the value, so one atomic minimum keeps the nearest point, and among points at the
same depth the one with the smallest index (ties are stable). All scales are written
in one launch into one flat buffer; a scale ``f`` maps the full-resolution pixel
coordinate ``u`` to ``floor(u * f)`` (pixel coordinates with the origin at the image
corner, so a scale of 1/2 merges 2x2 pixel blocks).

The public function :func:`rasterize_points` takes ``implementation="auto" | "torch" |
"triton"``; the output has no gradient (indices), the descriptors are gathered with
them afterwards in differentiable PyTorch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from shared_utils.kernels import resolve_implementation

try:  # Triton is optional: the reference runs everywhere.
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised only without triton
    triton = None

EMPTY_KEY = torch.iinfo(torch.int64).max
"""z-buffer value of a pixel no point reaches."""


def scale_sizes(height: int, width: int, scales: Sequence[float]) -> list[tuple[int, int]]:
    """(H_s, W_s) per scale: ``round(height * f), round(width * f)``, at least 1."""
    return [(max(1, round(height * f)), max(1, round(width * f))) for f in scales]


def _point_keys(depth: torch.Tensor) -> torch.Tensor:
    """(N,) int64 keys ``depth_bits << 32 | index`` (depth must be positive float32)."""
    bits = depth.to(torch.float32).contiguous().view(torch.int32).to(torch.int64)
    index = torch.arange(depth.shape[0], device=depth.device, dtype=torch.int64)
    return (bits << 32) | index


def _valid_depth(depth: torch.Tensor, near: float) -> torch.Tensor:
    return torch.isfinite(depth) & (depth > near)


def _rasterize_torch(
    uv: torch.Tensor,
    depth: torch.Tensor,
    sizes: list[tuple[int, int]],
    scales: Sequence[float],
    near: float,
) -> torch.Tensor:
    """Reference: scatter_reduce(amin) of the keys into the flat multi-scale buffer."""
    total = sum(h * w for h, w in sizes)
    zbuf = torch.full((total,), EMPTY_KEY, dtype=torch.int64, device=uv.device)
    keys = _point_keys(depth)
    ok_depth = _valid_depth(depth, near)
    offset = 0
    for (h, w), f in zip(sizes, scales, strict=True):
        px = torch.floor(uv[:, 0].to(torch.float32) * f)
        py = torch.floor(uv[:, 1].to(torch.float32) * f)
        inside = ok_depth & (px >= 0) & (px < w) & (py >= 0) & (py < h)
        pix = offset + py[inside].long() * w + px[inside].long()
        zbuf.scatter_reduce_(0, pix, keys[inside], reduce="amin", include_self=True)
        offset += h * w
    return zbuf


if triton is not None:

    @triton.jit
    def _rasterize_kernel(
        uv_ptr,
        depth_ptr,
        zbuf_ptr,
        heights_ptr,
        widths_ptr,
        offsets_ptr,
        factors_ptr,
        n_points,
        near,
        NUM_SCALES: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        pid = tl.program_id(0)
        offs = pid * BLOCK + tl.arange(0, BLOCK)
        valid = offs < n_points
        u = tl.load(uv_ptr + offs * 2, mask=valid, other=-1.0)
        v = tl.load(uv_ptr + offs * 2 + 1, mask=valid, other=-1.0)
        d = tl.load(depth_ptr + offs, mask=valid, other=0.0)
        # d < 3.4e38 rejects +inf; NaN fails every comparison.
        ok = valid & (d > near) & (d < 3.4e38)
        key = (d.to(tl.int32, bitcast=True).to(tl.int64) << 32) | offs.to(tl.int64)
        for s in tl.static_range(NUM_SCALES):
            h = tl.load(heights_ptr + s)
            w = tl.load(widths_ptr + s)
            base = tl.load(offsets_ptr + s)
            f = tl.load(factors_ptr + s)
            px = tl.floor(u * f)
            py = tl.floor(v * f)
            inside = ok & (px >= 0) & (px < w) & (py >= 0) & (py < h)
            pix = (
                base
                + tl.where(inside, py, 0.0).to(tl.int64) * w
                + tl.where(inside, px, 0.0).to(tl.int64)
            )
            tl.atomic_min(zbuf_ptr + pix, key, mask=inside)


def _rasterize_triton(
    uv: torch.Tensor,
    depth: torch.Tensor,
    sizes: list[tuple[int, int]],
    scales: Sequence[float],
    near: float,
) -> torch.Tensor:
    device = uv.device
    heights = torch.tensor([h for h, _ in sizes], dtype=torch.int64, device=device)
    widths = torch.tensor([w for _, w in sizes], dtype=torch.int64, device=device)
    areas = heights * widths
    offsets = torch.cumsum(areas, 0) - areas
    factors = torch.tensor(list(scales), dtype=torch.float32, device=device)
    zbuf = torch.full((int(areas.sum()),), EMPTY_KEY, dtype=torch.int64, device=device)
    n = uv.shape[0]
    if n == 0:
        return zbuf
    block = 256
    grid = (triton.cdiv(n, block),)
    _rasterize_kernel[grid](
        uv.to(torch.float32).contiguous(),
        depth.to(torch.float32).contiguous(),
        zbuf,
        heights,
        widths,
        offsets,
        factors,
        n,
        float(near),
        NUM_SCALES=len(sizes),
        BLOCK=block,
    )
    return zbuf


def decode_zbuffer(zbuf: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Split z-buffer keys into (point index, depth); -1 and +inf where empty.

    Args:
        zbuf: (...,) int64 keys.

    Returns:
        index (...,) int64 and depth (...,) float32.
    """
    empty = zbuf == EMPTY_KEY
    index = torch.where(empty, torch.full_like(zbuf, -1), zbuf & 0xFFFFFFFF)
    depth = (zbuf >> 32).to(torch.int32).view(torch.float32)
    depth = torch.where(empty, torch.full_like(depth, float("inf")), depth)
    return index, depth


def rasterize_points(
    uv: torch.Tensor,
    depth: torch.Tensor,
    height: int,
    width: int,
    scales: Sequence[float] = (1.0,),
    *,
    near: float = 1e-6,
    implementation: str = "auto",
) -> list[torch.Tensor]:
    """Z-buffer the projected points at several scales in one call.

    Args:
        uv: (N, 2) pixel coordinates (x, y) at full resolution, origin at the image corner.
        depth: (N,) camera-frame depth; points with ``depth <= near`` or non-finite are skipped.
        height, width: full-resolution image size.
        scales: resolution factors, e.g. ``(1, 0.5, 0.25, 0.125, 0.0625)``.
        near: smallest accepted depth.
        implementation: ``"auto"``, ``"torch"`` or ``"triton"``.

    Returns:
        One (H_s, W_s) int64 map per scale with the index of the nearest point in each
        pixel (smallest index among equal depths) and -1 where no point lands.
    """
    if uv.ndim != 2 or uv.shape[1] != 2:
        raise ValueError(f"rasterize_points: uv must be (N, 2), got {tuple(uv.shape)}")
    if depth.shape != (uv.shape[0],):
        raise ValueError(
            f"rasterize_points: depth must be ({uv.shape[0]},), got {tuple(depth.shape)}"
        )
    if uv.shape[0] >= 2**31:
        raise ValueError("rasterize_points: at most 2**31 - 1 points (index packed in 32 bits)")
    if not scales:
        raise ValueError("rasterize_points: scales must not be empty")
    sizes = scale_sizes(height, width, scales)
    impl = resolve_implementation(implementation, uv, depth, op="rasterize_points")
    uv = uv.detach()
    depth = depth.detach()
    if impl == "triton":
        zbuf = _rasterize_triton(uv, depth, sizes, scales, near)
    else:
        zbuf = _rasterize_torch(uv, depth, sizes, scales, near)
    index, _ = decode_zbuffer(zbuf)
    out: list[torch.Tensor] = []
    offset = 0
    for h, w in sizes:
        out.append(index[offset : offset + h * w].view(h, w))
        offset += h * w
    return out
