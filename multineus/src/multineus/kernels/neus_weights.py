"""NeuS volume-rendering weights and their accumulation into colour, depth and opacity.

Per ray with N sections, from the logits of the section end points
``a_i = s * sdf_prev_i`` and ``b_i = s * sdf_next_i`` (s the learned sharpness):

    Phi_p = sigmoid(a_i),  Phi_n = sigmoid(b_i)
    alpha_i = clamp((Phi_p - Phi_n + eps) / (Phi_p + eps), 0, 1)        (eps = 1e-5)
    T_i = prod_{j < i} (1 - alpha_j + 1e-7)
    w_i = alpha_i T_i
    colour = sum_i w_i c_i,  depth = sum_i w_i z_i,  opacity = sum_i w_i

which is NeuS's unbiased, occlusion-aware discretisation. The backward uses
``dL/dalpha_k = g_k T_k - (sum_{i > k} g_i w_i) / (1 - alpha_k + 1e-7)`` with
``g_i = dL/dw_i`` gathered from all four outputs.

Public function :func:`neus_render_weights` (``implementation="auto"|"torch"|"triton"``).
"""

from __future__ import annotations

from typing import Any

import torch

from shared_utils.kernels import resolve_implementation

try:  # Triton is optional: the reference runs without it.
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover
    triton = None  # type: ignore[assignment]
    tl = None  # type: ignore[assignment]

ALPHA_EPS = 1e-5
"""Added to numerator and denominator of alpha (keeps empty space differentiable)."""
TRANS_EPS = 1e-7
"""Added to every (1 - alpha) factor of the transmittance."""


def neus_render_weights_reference(
    logit_prev: torch.Tensor, logit_next: torch.Tensor, colors: torch.Tensor, z: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Plain PyTorch version (autograd does the backward).

    Args:
        logit_prev: (R, N) s * sdf at the start of each section.
        logit_next: (R, N) s * sdf at the end of each section.
        colors: (R, N, C) colour of each section.
        z: (R, N) depth of each section (its midpoint).

    Returns:
        weights (R, N), colour (R, C), depth (R,), opacity (R,).
    """
    p = torch.sigmoid(logit_prev)
    n = torch.sigmoid(logit_next)
    alpha = ((p - n + ALPHA_EPS) / (p + ALPHA_EPS)).clamp(0.0, 1.0)
    ones = torch.ones_like(alpha[:, :1])
    trans = torch.cumprod(torch.cat([ones, 1.0 - alpha + TRANS_EPS], dim=1), dim=1)[:, :-1]
    weights = alpha * trans
    color = (weights[..., None] * colors).sum(dim=1)
    depth = (weights * z).sum(dim=1)
    return weights, color, depth, weights.sum(dim=1)


if triton is not None:

    @triton.jit
    def _alpha_trans(a, b, valid):
        p = tl.sigmoid(a)
        n = tl.sigmoid(b)
        ratio = (p - n + 1e-5) / (p + 1e-5)
        alpha = tl.minimum(tl.maximum(ratio, 0.0), 1.0)
        alpha = tl.where(valid, alpha, 0.0)
        factor = tl.where(valid, 1.0 - alpha + 1e-7, 1.0)
        trans = tl.cumprod(factor, axis=1) / factor
        return p, n, ratio, alpha, factor, trans

    @triton.jit
    def _neus_fwd_kernel(
        a_ptr,
        b_ptr,
        c_ptr,
        z_ptr,
        w_ptr,
        col_ptr,
        depth_ptr,
        opac_ptr,
        R,
        N,
        C: tl.constexpr,
        BLOCK_R: tl.constexpr,
        BLOCK_N: tl.constexpr,
    ):
        rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
        cols = tl.arange(0, BLOCK_N)
        valid = (rows[:, None] < R) & (cols[None, :] < N)
        offs = rows[:, None] * N + cols[None, :]
        a = tl.load(a_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        b = tl.load(b_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        z = tl.load(z_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        _p, _n, _r, alpha, _f, trans = _alpha_trans(a, b, valid)
        w = alpha * trans
        tl.store(w_ptr + offs, w, mask=valid)
        row_ok = rows < R
        tl.store(depth_ptr + rows, tl.sum(w * z, axis=1), mask=row_ok)
        tl.store(opac_ptr + rows, tl.sum(w, axis=1), mask=row_ok)
        for ch in tl.static_range(C):
            c = tl.load(c_ptr + offs * C + ch, mask=valid, other=0.0).to(tl.float32)
            tl.store(col_ptr + rows * C + ch, tl.sum(w * c, axis=1), mask=row_ok)

    @triton.jit
    def _neus_bwd_kernel(
        a_ptr,
        b_ptr,
        c_ptr,
        z_ptr,
        gw_ptr,
        gcol_ptr,
        gdepth_ptr,
        gopac_ptr,
        ga_ptr,
        gb_ptr,
        gc_ptr,
        gz_ptr,
        R,
        N,
        C: tl.constexpr,
        BLOCK_R: tl.constexpr,
        BLOCK_N: tl.constexpr,
    ):
        rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
        cols = tl.arange(0, BLOCK_N)
        valid = (rows[:, None] < R) & (cols[None, :] < N)
        row_ok = rows < R
        offs = rows[:, None] * N + cols[None, :]
        a = tl.load(a_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        b = tl.load(b_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        z = tl.load(z_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        p, n, ratio, alpha, factor, trans = _alpha_trans(a, b, valid)
        w = alpha * trans
        g_depth = tl.load(gdepth_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
        g_opac = tl.load(gopac_ptr + rows, mask=row_ok, other=0.0).to(tl.float32)
        g = tl.load(gw_ptr + offs, mask=valid, other=0.0).to(tl.float32)
        g += g_depth[:, None] * z + g_opac[:, None]
        tl.store(gz_ptr + offs, g_depth[:, None] * w, mask=valid)
        for ch in tl.static_range(C):
            c = tl.load(c_ptr + offs * C + ch, mask=valid, other=0.0).to(tl.float32)
            g_col = tl.load(gcol_ptr + rows * C + ch, mask=row_ok, other=0.0).to(tl.float32)
            g += g_col[:, None] * c
            tl.store(gc_ptr + offs * C + ch, g_col[:, None] * w, mask=valid)
        gw = tl.where(valid, g * w, 0.0)
        suffix = tl.sum(gw, axis=1)[:, None] - tl.cumsum(gw, axis=1)
        g_alpha = g * trans - suffix / factor
        inside = (ratio >= 0.0) & (ratio <= 1.0) & valid
        g_ratio = tl.where(inside, g_alpha, 0.0)
        denom = p + 1e-5
        g_p = g_ratio * n / (denom * denom)
        g_n = -g_ratio / denom
        tl.store(ga_ptr + offs, g_p * p * (1.0 - p), mask=valid)
        tl.store(gb_ptr + offs, g_n * n * (1.0 - n), mask=valid)


def _blocks(n: int) -> tuple[int, int]:
    block_n = max(16, triton.next_power_of_2(n))
    block_r = max(1, min(16, 4096 // block_n))
    return block_r, block_n


class _NeusWeightsTriton(torch.autograd.Function):
    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, a: torch.Tensor, b: torch.Tensor, colors: torch.Tensor, z: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        a, b, colors, z = (t.contiguous().float() for t in (a, b, colors, z))
        R, N = a.shape
        C = colors.shape[-1]
        weights = torch.empty_like(a)
        color = torch.empty(R, C, device=a.device, dtype=a.dtype)
        depth = torch.empty(R, device=a.device, dtype=a.dtype)
        opacity = torch.empty_like(depth)
        block_r, block_n = _blocks(N)
        grid = (triton.cdiv(R, block_r),)
        _neus_fwd_kernel[grid](
            a,
            b,
            colors,
            z,
            weights,
            color,
            depth,
            opacity,
            R,
            N,
            C,
            BLOCK_R=block_r,
            BLOCK_N=block_n,
        )
        ctx.save_for_backward(a, b, colors, z)
        return weights, color, depth, opacity

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any,
        g_w: torch.Tensor,
        g_col: torch.Tensor,
        g_depth: torch.Tensor,
        g_opac: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        a, b, colors, z = ctx.saved_tensors
        R, N = a.shape
        C = colors.shape[-1]
        grads = [
            torch.empty_like(a),
            torch.empty_like(b),
            torch.empty_like(colors),
            torch.empty_like(z),
        ]
        block_r, block_n = _blocks(N)
        grid = (triton.cdiv(R, block_r),)
        _neus_bwd_kernel[grid](
            a,
            b,
            colors,
            z,
            g_w.contiguous().float(),
            g_col.contiguous().float(),
            g_depth.contiguous().float(),
            g_opac.contiguous().float(),
            *grads,
            R,
            N,
            C,
            BLOCK_R=block_r,
            BLOCK_N=block_n,
        )
        return grads[0], grads[1], grads[2], grads[3]


def neus_render_weights(
    logit_prev: torch.Tensor,
    logit_next: torch.Tensor,
    colors: torch.Tensor,
    z: torch.Tensor,
    *,
    implementation: str = "auto",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """NeuS weights and accumulated colour/depth/opacity (differentiable).

    Args:
        logit_prev: (R, N) s * sdf at each section's start.
        logit_next: (R, N) s * sdf at each section's end.
        colors: (R, N, C) section colours.
        z: (R, N) section depths.
        implementation: "auto" | "torch" | "triton".

    Returns:
        weights (R, N), colour (R, C), depth (R,), opacity (R,).
    """
    if logit_prev.shape != logit_next.shape or logit_prev.shape != z.shape or logit_prev.dim() != 2:
        raise ValueError(
            f"neus_render_weights: logit_prev, logit_next, z must share one (R, N) shape, got "
            f"{tuple(logit_prev.shape)}, {tuple(logit_next.shape)}, {tuple(z.shape)}"
        )
    if colors.shape[:2] != logit_prev.shape or colors.dim() != 3:
        raise ValueError(
            f"neus_render_weights: colors must be (R, N, C) with (R, N) = "
            f"{tuple(logit_prev.shape)}, got {tuple(colors.shape)}"
        )
    impl = resolve_implementation(
        implementation, logit_prev, logit_next, colors, z, op="neus_render_weights"
    )
    if impl == "torch":
        return neus_render_weights_reference(logit_prev, logit_next, colors, z)
    out = _NeusWeightsTriton.apply(logit_prev, logit_next, colors, z)
    return out[0], out[1], out[2], out[3]
