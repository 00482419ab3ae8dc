"""Fused nearest-codebook search for vector quantisation, with a straight-through wrapper.

For rows z (N, d) and a codebook e (K, d) it returns argmin_k ||z - e_k||^2 and the
minimum distance, computed as ||z||^2 - 2 z.e_k + ||e_k||^2. The Triton kernel streams the
codebook in chunks of BLOCK_K entries and keeps a running (min, argmin) per row, so the
(N, K) distance matrix is never stored. Ties go to the smallest index.

Public entry points:
- :func:`vq_nearest` (``implementation="auto"|"torch"|"triton"``) -> (indices, distances);
- :func:`quantize_straight_through` -> (z_q with the identity gradient to z, indices).
"""

from __future__ import annotations

import torch

from shared_utils.kernels import resolve_implementation

try:  # Triton is optional: the reference runs everywhere.
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised only without triton
    triton = None  # type: ignore[assignment]
    tl = None  # type: ignore[assignment]


def vq_nearest_reference(
    z: torch.Tensor, codebook: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Plain PyTorch: (N, d), (K, d) -> indices (N,) int64, squared distances (N,) float32."""
    z32, e32 = z.float(), codebook.float()
    dist = (z32 * z32).sum(1, keepdim=True) - 2.0 * z32 @ e32.T + (e32 * e32).sum(1)[None, :]
    best, idx = dist.min(dim=1)
    return idx, best


if triton is not None:

    @triton.jit
    def _vq_nearest_kernel(
        z_ptr,
        e_ptr,
        e_norm_ptr,
        idx_ptr,
        dist_ptr,
        n_rows,
        n_codes,
        dim,
        BLOCK_N: tl.constexpr,
        BLOCK_K: tl.constexpr,
        BLOCK_D: tl.constexpr,
    ):
        pid = tl.program_id(0)
        rows = pid * BLOCK_N + tl.arange(0, BLOCK_N)
        cols = tl.arange(0, BLOCK_D)
        row_ok = rows < n_rows
        col_ok = cols < dim
        z = tl.load(
            z_ptr + rows[:, None] * dim + cols[None, :],
            mask=row_ok[:, None] & col_ok[None, :],
            other=0.0,
        )
        z_norm = tl.sum(z * z, axis=1)
        best = tl.full((BLOCK_N,), float("inf"), tl.float32)
        best_idx = tl.zeros((BLOCK_N,), tl.int64)
        for start in range(0, n_codes, BLOCK_K):
            codes = start + tl.arange(0, BLOCK_K)
            code_ok = codes < n_codes
            e = tl.load(
                e_ptr + codes[:, None] * dim + cols[None, :],
                mask=code_ok[:, None] & col_ok[None, :],
                other=0.0,
            )
            e_norm = tl.load(e_norm_ptr + codes, mask=code_ok, other=float("inf"))
            dots = tl.dot(z, tl.trans(e), input_precision="ieee")  # (BLOCK_N, BLOCK_K)
            dist = e_norm[None, :] - 2.0 * dots
            chunk_best = tl.min(dist, axis=1)
            # first index reaching the chunk minimum (ties -> smallest index)
            is_min = dist == chunk_best[:, None]
            chunk_idx = tl.min(tl.where(is_min, codes[None, :], n_codes), axis=1).to(tl.int64)
            better = chunk_best < best
            best = tl.where(better, chunk_best, best)
            best_idx = tl.where(better, chunk_idx, best_idx)
        tl.store(idx_ptr + rows, best_idx, mask=row_ok)
        tl.store(dist_ptr + rows, best + z_norm, mask=row_ok)


def vq_nearest_triton(
    z: torch.Tensor, codebook: torch.Tensor, *, block_n: int = 32, block_k: int = 64
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Triton kernel: (N, d), (K, d) -> indices (N,) int64, squared distances (N,) float32."""
    if triton is None:
        raise RuntimeError("vq_nearest_triton: triton is not installed")
    z32 = z.float().contiguous()
    e32 = codebook.float().contiguous()
    n, d = z32.shape
    k = e32.shape[0]
    idx = torch.empty(n, dtype=torch.int64, device=z.device)
    dist = torch.empty(n, dtype=torch.float32, device=z.device)
    if n == 0:
        return idx, dist
    block_d = max(16, triton.next_power_of_2(d))
    grid = (triton.cdiv(n, block_n),)
    _vq_nearest_kernel[grid](
        z32, e32, (e32 * e32).sum(1).contiguous(), idx, dist, n, k, d,
        BLOCK_N=block_n, BLOCK_K=block_k, BLOCK_D=block_d,
    )  # fmt: skip
    return idx, dist


def vq_nearest(
    z: torch.Tensor, codebook: torch.Tensor, *, implementation: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Nearest codebook entry of every row.

    Args:
        z: (N, d) vectors.
        codebook: (K, d) entries.
        implementation: "auto" (Triton on CUDA, reference otherwise), "torch" or "triton".

    Returns:
        indices (N,) int64 and squared distances (N,) float32.
    """
    if z.ndim != 2 or codebook.ndim != 2 or z.shape[1] != codebook.shape[1]:
        raise ValueError(
            f"vq_nearest: need z (N, d) and codebook (K, d), got {tuple(z.shape)} and "
            f"{tuple(codebook.shape)}"
        )
    impl = resolve_implementation(implementation, z, codebook, op="vq_nearest")
    with torch.no_grad():
        if impl == "triton":
            return vq_nearest_triton(z, codebook)
        return vq_nearest_reference(z, codebook)


def quantize_straight_through(
    z: torch.Tensor, codebook: torch.Tensor, *, implementation: str = "auto"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Quantise rows and pass gradients straight through to ``z``.

    Forward value: codebook[argmin]; backward: d z_q / d z = identity, no gradient to
    the codebook (it is updated by EMA).

    Args:
        z: (N, d); codebook: (K, d).

    Returns:
        z_q (N, d) and indices (N,) int64.
    """
    idx, _ = vq_nearest(z, codebook, implementation=implementation)
    quantized = codebook.detach()[idx].to(z.dtype)
    return z + (quantized - z).detach(), idx
