"""Inverse-CDF importance sampling along rays (NeRF/NeuS ``sample_pdf``).

Per ray with bin edges ``z_0 < ... < z_M`` and bin weights ``w_1..w_M``:

    pdf = (w + 1e-5) / sum(w + 1e-5),   cdf = [0, cumsum(pdf)]
    i = #{j : cdf_j <= u}    (searchsorted, right)
    lo = max(i - 1, 0), hi = min(i, M)
    t = (u - cdf_lo) / (cdf_hi - cdf_lo)   (denominator < 1e-5 -> 1)
    sample = z_lo + t (z_hi - z_lo)

for each ``u`` in (0, 1): either the stratified deterministic grid
``(k + 0.5) / n`` or given uniforms. The samples carry no gradient (NeuS detaches them).

Public function :func:`sample_pdf` (``implementation="auto"|"torch"|"triton"``).
"""

from __future__ import annotations

import torch

from shared_utils.kernels import resolve_implementation

try:
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover
    triton = None  # type: ignore[assignment]
    tl = None  # type: ignore[assignment]

PDF_EPS = 1e-5
"""Added to every bin weight so empty rays sample uniformly."""


def deterministic_uniforms(
    rays: int, n: int, *, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """(rays, n) stratified grid ``(k + 0.5) / n``."""
    u = (torch.arange(n, dtype=torch.float32, device=device) + 0.5) / n
    return u.expand(rays, n).contiguous()


def sample_pdf_reference(
    bins: torch.Tensor, weights: torch.Tensor, u: torch.Tensor
) -> torch.Tensor:
    """Plain PyTorch version.

    Args:
        bins: (R, M + 1) sorted bin edges.
        weights: (R, M) non-negative bin weights.
        u: (R, n) values in [0, 1).

    Returns:
        (R, n) samples (not sorted with the bins).
    """
    w = weights + PDF_EPS
    pdf = w / w.sum(dim=-1, keepdim=True)
    cdf = torch.cat([torch.zeros_like(pdf[:, :1]), torch.cumsum(pdf, dim=-1)], dim=-1)
    idx = torch.searchsorted(cdf.contiguous(), u.contiguous(), right=True)
    lo = (idx - 1).clamp(min=0)
    hi = idx.clamp(max=cdf.shape[-1] - 1)
    cdf_lo, cdf_hi = cdf.gather(1, lo), cdf.gather(1, hi)
    bin_lo, bin_hi = bins.gather(1, lo), bins.gather(1, hi)
    denom = cdf_hi - cdf_lo
    denom = torch.where(denom < 1e-5, torch.ones_like(denom), denom)
    t = (u - cdf_lo) / denom
    return bin_lo + t * (bin_hi - bin_lo)


if triton is not None:

    @triton.jit
    def _sample_pdf_kernel(
        bins_ptr,
        w_ptr,
        u_ptr,
        out_ptr,
        M,
        S,
        BLOCK_M: tl.constexpr,
        BLOCK_S: tl.constexpr,
    ):
        ray = tl.program_id(0)
        j = tl.arange(0, BLOCK_M)
        k = tl.program_id(1) * BLOCK_S + tl.arange(0, BLOCK_S)
        in_m = j < M
        in_s = k < S
        w = tl.load(w_ptr + ray * M + j, mask=in_m, other=0.0).to(tl.float32)
        w = tl.where(in_m, w + 1e-5, 0.0)
        pdf = w / tl.sum(w, axis=0)
        incl = tl.cumsum(pdf, axis=0)  # cdf_{j+1}
        u = tl.load(u_ptr + ray * S + k, mask=in_s, other=0.0).to(tl.float32)
        # cdf_0 = 0 <= u always, so i = 1 + #{j < M : cdf_{j+1} <= u}.
        le = (incl[None, :] <= u[:, None]) & in_m[None, :]
        count = tl.sum(le.to(tl.int32), axis=1)
        idx = count + 1
        lo = idx - 1
        hi = tl.minimum(idx, M)
        cdf_lo = tl.max(tl.where(le, incl[None, :], 0.0), axis=1)
        last = tl.sum(tl.where(j == M - 1, incl, 0.0), axis=0)
        gt = (incl[None, :] > u[:, None]) & in_m[None, :]
        cdf_hi = tl.min(tl.where(gt, incl[None, :], 2.0), axis=1)
        cdf_hi = tl.where(hi == idx, cdf_hi, last)
        cdf_hi = tl.where(cdf_hi > 1.5, last, cdf_hi)
        bin_lo = tl.load(bins_ptr + ray * (M + 1) + lo, mask=in_s, other=0.0).to(tl.float32)
        bin_hi = tl.load(bins_ptr + ray * (M + 1) + hi, mask=in_s, other=0.0).to(tl.float32)
        denom = cdf_hi - cdf_lo
        denom = tl.where(denom < 1e-5, 1.0, denom)
        t = (u - cdf_lo) / denom
        tl.store(out_ptr + ray * S + k, bin_lo + t * (bin_hi - bin_lo), mask=in_s)


def sample_pdf(
    bins: torch.Tensor,
    weights: torch.Tensor,
    n_samples: int,
    *,
    u: torch.Tensor | None = None,
    implementation: str = "auto",
) -> torch.Tensor:
    """Draw ``n_samples`` depths per ray from the piecewise-constant pdf of the weights.

    Args:
        bins: (R, M + 1) sorted bin edges.
        weights: (R, M) non-negative weights of the bins.
        n_samples: samples per ray (ignored when ``u`` is given).
        u: (R, n) uniforms in [0, 1); None uses the deterministic grid ``(k + 0.5) / n``.
        implementation: "auto" | "torch" | "triton".

    Returns:
        (R, n) detached samples.
    """
    if (
        bins.dim() != 2
        or weights.dim() != 2
        or bins.shape != (weights.shape[0], weights.shape[1] + 1)
    ):
        raise ValueError(
            f"sample_pdf: bins must be (R, M + 1) for weights (R, M); got bins "
            f"{tuple(bins.shape)}, weights {tuple(weights.shape)}"
        )
    bins, weights = bins.detach(), weights.detach()
    if u is None:
        u = deterministic_uniforms(bins.shape[0], n_samples, device=bins.device)
    elif u.shape[0] != bins.shape[0] or u.dim() != 2:
        raise ValueError(
            f"sample_pdf: u must be (R, n) with R={bins.shape[0]}, got {tuple(u.shape)}"
        )
    u = u.detach()
    impl = resolve_implementation(implementation, bins, weights, u, op="sample_pdf")
    if impl == "torch":
        return sample_pdf_reference(bins, weights, u)
    R, M = weights.shape
    S = u.shape[1]
    out = torch.empty(R, S, device=bins.device, dtype=torch.float32)
    block_m = max(16, triton.next_power_of_2(M))
    block_s = min(64, max(16, triton.next_power_of_2(S)))
    grid = (R, triton.cdiv(S, block_s))
    _sample_pdf_kernel[grid](
        bins.contiguous().float(),
        weights.contiguous().float(),
        u.contiguous().float(),
        out,
        M,
        S,
        BLOCK_M=block_m,
        BLOCK_S=block_s,
    )
    return out.to(bins.dtype)
