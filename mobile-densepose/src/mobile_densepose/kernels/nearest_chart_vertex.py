"""Nearest body-surface vertex of chart points: the inner loop of DensePose GPS scoring.

For every query point (I, U, V) the evaluator needs the surface vertex of the same chart
I closest in (U, V) (DensePose's "IUV -> vertex" lookup), for every ground-truth point
and every prediction at it: millions of queries against ~27k SMPL vertices on the real
data. ``nearest_chart_vertex`` returns, per query, the index of the vertex with the same
chart minimising the squared UV distance (first index on ties), or -1 when the query's
chart is 0 (background) or has no vertex.

* reference: chunked masked distance matrix + argmin (plain PyTorch);
* Triton: one program per block of queries streams over the vertices in blocks, keeping
  a running minimum and its index in registers (no P x N matrix in memory).
No backward: this is evaluation.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from shared_utils.kernels import resolve_implementation


def nearest_chart_vertex_reference(
    vert_parts: torch.Tensor,
    vert_uv: torch.Tensor,
    parts: torch.Tensor,
    uv: torch.Tensor,
    chunk: int = 4096,
) -> torch.Tensor:
    """Plain-PyTorch reference. Shapes: vert_parts (N,), vert_uv (N, 2), parts (P,), uv (P, 2) -> (P,) int64."""
    out = torch.full((parts.shape[0],), -1, dtype=torch.int64, device=parts.device)
    vuv = vert_uv.float()
    for start in range(0, parts.shape[0], chunk):
        p, q = parts[start : start + chunk], uv[start : start + chunk].float()
        d = ((q[:, None, :] - vuv[None]) ** 2).sum(-1)
        same = p[:, None] == vert_parts[None]
        d = torch.where(same, d, torch.full_like(d, float("inf")))
        best, idx = d.min(dim=1)
        idx = torch.where(torch.isfinite(best) & (p > 0), idx, torch.full_like(idx, -1))
        out[start : start + chunk] = idx
    return out


@triton.jit
def _nearest_kernel(
    vp_ptr, vu_ptr, vv_ptr, qp_ptr, qu_ptr, qv_ptr, out_ptr, n_vert, n_query,
    BLOCK_Q: tl.constexpr, BLOCK_V: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    offs_q = pid * BLOCK_Q + tl.arange(0, BLOCK_Q)
    mask_q = offs_q < n_query
    qp = tl.load(qp_ptr + offs_q, mask=mask_q, other=0)
    qu = tl.load(qu_ptr + offs_q, mask=mask_q, other=0.0)
    qv = tl.load(qv_ptr + offs_q, mask=mask_q, other=0.0)
    best_d = tl.full((BLOCK_Q,), float("inf"), tl.float32)
    best_i = tl.full((BLOCK_Q,), -1, tl.int32)
    for start in range(0, n_vert, BLOCK_V):
        offs_v = start + tl.arange(0, BLOCK_V)
        mask_v = offs_v < n_vert
        vp = tl.load(vp_ptr + offs_v, mask=mask_v, other=-1)
        vu = tl.load(vu_ptr + offs_v, mask=mask_v, other=0.0)
        vv = tl.load(vv_ptr + offs_v, mask=mask_v, other=0.0)
        du = qu[:, None] - vu[None, :]
        dv = qv[:, None] - vv[None, :]
        d = du * du + dv * dv
        ok = (qp[:, None] == vp[None, :]) & mask_v[None, :]
        d = tl.where(ok, d, float("inf"))
        blk_min = tl.min(d, axis=1)
        cand = tl.where(d == blk_min[:, None], offs_v[None, :], 2147483647)
        blk_idx = tl.min(cand, axis=1)
        better = blk_min < best_d
        best_i = tl.where(better, blk_idx, best_i)
        best_d = tl.where(better, blk_min, best_d)
    best_i = tl.where(qp > 0, best_i, -1)
    tl.store(out_ptr + offs_q, best_i.to(tl.int64), mask=mask_q)


def nearest_chart_vertex_triton(
    vert_parts: torch.Tensor, vert_uv: torch.Tensor, parts: torch.Tensor, uv: torch.Tensor
) -> torch.Tensor:
    """Triton launcher (same contract as the reference)."""
    n_query, n_vert = parts.shape[0], vert_parts.shape[0]
    out = torch.empty(n_query, dtype=torch.int64, device=parts.device)
    if n_query == 0:
        return out
    vp = vert_parts.to(torch.int32).contiguous()
    vu, vv = (vert_uv[:, k].float().contiguous() for k in range(2))
    qp = parts.to(torch.int32).contiguous()
    qu, qv = (uv[:, k].float().contiguous() for k in range(2))
    block_q, block_v = 32, 64
    grid = (triton.cdiv(n_query, block_q),)
    _nearest_kernel[grid](
        vp, vu, vv, qp, qu, qv, out, n_vert, n_query, BLOCK_Q=block_q, BLOCK_V=block_v
    )
    return out


def nearest_chart_vertex(
    vert_parts: torch.Tensor,
    vert_uv: torch.Tensor,
    parts: torch.Tensor,
    uv: torch.Tensor,
    implementation: str = "auto",
) -> torch.Tensor:
    """Index of the nearest same-chart vertex per query (-1 for background / no vertex).

    Args:
        vert_parts: (N,) int chart of each vertex (1..24).
        vert_uv: (N, 2) float (U, V) of each vertex.
        parts: (P,) int query charts (0 = background).
        uv: (P, 2) float query (U, V).
        implementation: 'auto' (Triton on CUDA, else torch), 'torch' or 'triton'.

    Returns:
        (P,) int64 vertex indices.
    """
    impl = resolve_implementation(implementation, vert_uv, uv, op="nearest_chart_vertex")
    if impl == "triton":
        return nearest_chart_vertex_triton(vert_parts, vert_uv, parts, uv)
    return nearest_chart_vertex_reference(vert_parts, vert_uv, parts, uv)
