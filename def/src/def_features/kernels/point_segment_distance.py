"""Truncated distance from points to a set of line segments (kernel 1).

For N points and M segments ``[a_m, b_m]`` this computes, per point ``p``,

- ``distance = min(min_m ||q_m(p) - p||, truncation)`` where ``q_m(p)`` is the point of
  segment m closest to p (the DEF target ``d^eps(p)`` when the segments sample the
  sharp curves),
- ``index``: the m of the closest segment,
- ``direction``: the unit vector from p to its closest point (zero when p lies on a
  segment).

Three implementations share the contract: a chunked, vectorised PyTorch reference
(``_torch_forward``), a Triton kernel that streams segment tiles through registers
while keeping a running minimum per point, and :func:`point_segment_distance`, the
public function that dispatches (``implementation="auto" | "torch" | "triton"``) and
supplies the gradient with respect to the points (``-direction`` where not truncated).
"""

from __future__ import annotations

import torch

from shared_utils.kernels import resolve_implementation

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - triton missing
    triton = None
    tl = None


def _torch_forward(
    points: torch.Tensor, seg_a: torch.Tensor, seg_b: torch.Tensor, chunk: int | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Reference: (N,3), (M,3), (M,3) -> untruncated distance (N,), index (N,), closest (N,3).

    With u = p - a and v = b - a, the squared distance to the clamped projection is
    ``|u|^2 - 2 t u.v + t^2 |v|^2`` with ``t = clamp(u.v / |v|^2, 0, 1)``; ``u.v`` and
    ``|u|^2`` expand into (n, 3) x (3, M) products, so no (n, M, 3) temporaries. The
    expansion cancels, so it runs in float64 whatever the input precision.
    """
    dtype = points.dtype
    points, seg_a, seg_b = points.double(), seg_a.double(), seg_b.double()
    ab = seg_b - seg_a  # (M, 3)
    ab2 = (ab * ab).sum(-1).clamp_min(1e-30)
    a_ab = (seg_a * ab).sum(-1)
    a2 = (seg_a * seg_a).sum(-1)
    if chunk is None:
        # about 2^22 (n, M) float64 entries per temporary (32 MB), at most 4096 points:
        # a fixed 4096 made ~1 GB temporaries against tens of thousands of segments
        chunk = max(1, min(4096, (1 << 22) // max(seg_a.shape[0], 1)))
    dists, idxs, closest = [], [], []
    for start in range(0, points.shape[0], chunk):
        p = points[start : start + chunk]
        uv = p @ ab.T - a_ab  # (n, M)
        u2 = (p * p).sum(-1, keepdim=True) - 2.0 * (p @ seg_a.T) + a2
        t = (uv / ab2).clamp(0.0, 1.0)
        d2 = u2 - 2.0 * t * uv + t * t * ab2
        best = d2.argmin(dim=1)
        # Exact recomputation on the winning segment (no cancellation).
        tb = t.gather(1, best[:, None])
        q = seg_a[best] + tb * ab[best]
        dists.append((q - p).norm(dim=-1))
        idxs.append(best)
        closest.append(q)
    return torch.cat(dists).to(dtype), torch.cat(idxs), torch.cat(closest).to(dtype)


if triton is not None:

    @triton.jit
    def _psd_kernel(
        p_ptr,
        a_ptr,
        b_ptr,
        dist_ptr,
        idx_ptr,
        q_ptr,
        N,
        M,
        BLOCK_N: tl.constexpr,
        BLOCK_M: tl.constexpr,
    ):
        pid = tl.program_id(0)
        rn = pid * BLOCK_N + tl.arange(0, BLOCK_N)
        nmask = rn < N
        px = tl.load(p_ptr + rn * 3 + 0, mask=nmask, other=0.0)
        py = tl.load(p_ptr + rn * 3 + 1, mask=nmask, other=0.0)
        pz = tl.load(p_ptr + rn * 3 + 2, mask=nmask, other=0.0)
        best_d2 = tl.full((BLOCK_N,), float("inf"), tl.float32)
        best_i = tl.zeros((BLOCK_N,), tl.int32)
        for m0 in range(0, M, BLOCK_M):
            rm = m0 + tl.arange(0, BLOCK_M)
            mmask = rm < M
            ax = tl.load(a_ptr + rm * 3 + 0, mask=mmask, other=0.0)
            ay = tl.load(a_ptr + rm * 3 + 1, mask=mmask, other=0.0)
            az = tl.load(a_ptr + rm * 3 + 2, mask=mmask, other=0.0)
            bx = tl.load(b_ptr + rm * 3 + 0, mask=mmask, other=0.0)
            by = tl.load(b_ptr + rm * 3 + 1, mask=mmask, other=0.0)
            bz = tl.load(b_ptr + rm * 3 + 2, mask=mmask, other=0.0)
            abx = bx - ax
            aby = by - ay
            abz = bz - az
            ab2 = tl.maximum(abx * abx + aby * aby + abz * abz, 1e-30)
            apx = px[:, None] - ax[None, :]
            apy = py[:, None] - ay[None, :]
            apz = pz[:, None] - az[None, :]
            t = (apx * abx[None, :] + apy * aby[None, :] + apz * abz[None, :]) / ab2[None, :]
            t = tl.minimum(tl.maximum(t, 0.0), 1.0)
            dx = apx - t * abx[None, :]
            dy = apy - t * aby[None, :]
            dz = apz - t * abz[None, :]
            d2 = dx * dx + dy * dy + dz * dz
            d2 = tl.where(mmask[None, :], d2, float("inf"))
            tile_min = tl.min(d2, axis=1)
            tile_arg = tl.argmin(d2, axis=1).to(tl.int32) + m0
            better = tile_min < best_d2
            best_i = tl.where(better, tile_arg, best_i)
            best_d2 = tl.where(better, tile_min, best_d2)
        # Recompute the closest point on the winning segment.
        ax = tl.load(a_ptr + best_i * 3 + 0, mask=nmask, other=0.0)
        ay = tl.load(a_ptr + best_i * 3 + 1, mask=nmask, other=0.0)
        az = tl.load(a_ptr + best_i * 3 + 2, mask=nmask, other=0.0)
        abx = tl.load(b_ptr + best_i * 3 + 0, mask=nmask, other=0.0) - ax
        aby = tl.load(b_ptr + best_i * 3 + 1, mask=nmask, other=0.0) - ay
        abz = tl.load(b_ptr + best_i * 3 + 2, mask=nmask, other=0.0) - az
        ab2 = tl.maximum(abx * abx + aby * aby + abz * abz, 1e-30)
        t = ((px - ax) * abx + (py - ay) * aby + (pz - az) * abz) / ab2
        t = tl.minimum(tl.maximum(t, 0.0), 1.0)
        tl.store(q_ptr + rn * 3 + 0, ax + t * abx, mask=nmask)
        tl.store(q_ptr + rn * 3 + 1, ay + t * aby, mask=nmask)
        tl.store(q_ptr + rn * 3 + 2, az + t * abz, mask=nmask)
        tl.store(dist_ptr + rn, tl.sqrt(best_d2), mask=nmask)
        tl.store(idx_ptr + rn, best_i, mask=nmask)


def _triton_forward(
    points: torch.Tensor, seg_a: torch.Tensor, seg_b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Triton twin of :func:`_torch_forward` (float32 compute)."""
    p = points.float().contiguous()
    a = seg_a.float().contiguous()
    b = seg_b.float().contiguous()
    n, m = p.shape[0], a.shape[0]
    dist = torch.empty(n, device=p.device, dtype=torch.float32)
    idx = torch.empty(n, device=p.device, dtype=torch.int32)
    q = torch.empty(n, 3, device=p.device, dtype=torch.float32)
    block_n, block_m = (64, 64) if p.device.type == "cpu" else (128, 64)
    grid = (triton.cdiv(n, block_n),)
    _psd_kernel[grid](p, a, b, dist, idx, q, n, m, BLOCK_N=block_n, BLOCK_M=block_m)
    return dist.to(points.dtype), idx.long(), q.to(points.dtype)


class _PointSegmentDistance(torch.autograd.Function):
    @staticmethod
    def forward(ctx, points, seg_a, seg_b, truncation, impl):  # type: ignore[override]
        fwd = _triton_forward if impl == "triton" else _torch_forward
        dist, idx, closest = fwd(points.detach(), seg_a.detach(), seg_b.detach())
        diff = closest - points.detach()
        direction = diff / dist.clamp_min(1e-12)[:, None]
        direction = torch.where(dist[:, None] > 0, direction, torch.zeros_like(direction))
        active = dist < truncation
        ctx.save_for_backward(direction, active)
        ctx.mark_non_differentiable(idx, direction)
        return dist.clamp_max(truncation), idx, direction

    @staticmethod
    def backward(ctx, grad_dist, _grad_idx, _grad_dir):  # type: ignore[override]
        direction, active = ctx.saved_tensors
        grad_points = -direction * (grad_dist * active.to(grad_dist.dtype))[:, None]
        return grad_points, None, None, None, None


def point_segment_distance(
    points: torch.Tensor,
    seg_a: torch.Tensor,
    seg_b: torch.Tensor,
    truncation: float = float("inf"),
    *,
    implementation: str = "auto",
    chunk_points: int = 1 << 20,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Truncated distance from each point to the nearest of M segments.

    Args:
        points: (N, 3) query points (differentiable).
        seg_a: (M, 3) segment start points, M >= 1.
        seg_b: (M, 3) segment end points.
        truncation: eps; distances above it are clamped to it (gradient zero there).
        implementation: ``"auto"``, ``"torch"`` or ``"triton"``.
        chunk_points: points per launch, bounding temporary memory.

    Returns:
        distance: (N,) ``min(dist, truncation)``.
        index: (N,) int64 index of the nearest segment.
        direction: (N, 3) unit vector from the point towards its closest point
            (zero when the point is on a segment).
    """
    if points.ndim != 2 or points.shape[-1] != 3:
        raise ValueError(
            f"point_segment_distance: points must be (N, 3), got {tuple(points.shape)}"
        )
    if seg_a.shape != seg_b.shape or seg_a.ndim != 2 or seg_a.shape[-1] != 3:
        raise ValueError(
            f"point_segment_distance: segments must be (M, 3) pairs, got {tuple(seg_a.shape)} "
            f"and {tuple(seg_b.shape)}"
        )
    if seg_a.shape[0] == 0:
        raise ValueError("point_segment_distance: need at least one segment")
    impl = resolve_implementation(implementation, points, seg_a, seg_b, op="point_segment_distance")
    outs = [
        _PointSegmentDistance.apply(points[s : s + chunk_points], seg_a, seg_b, truncation, impl)
        for s in range(0, max(points.shape[0], 1), chunk_points)
    ]
    if len(outs) == 1:
        return outs[0]
    return (
        torch.cat([o[0] for o in outs]),
        torch.cat([o[1] for o in outs]),
        torch.cat([o[2] for o in outs]),
    )
