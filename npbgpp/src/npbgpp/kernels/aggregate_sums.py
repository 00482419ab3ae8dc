"""Scatter of the five running sums of the online descriptor aggregation (eqs. 3-5).

For samples ``r`` (a point ``p_r`` seen in a view, its sampled descriptor ``y_r`` (c,)
and its basis values ``h_r = H(v_r)`` (m,)) this op adds into per-point sums:

- ``count[p] += 1``
- ``sum_y[p] += y_r``                      (c,)
- ``sum_h[p] += h_r``                      (m,)
- ``sum_hy[p] += outer(h_r, y_r)``         (m, c)  = H^T y
- ``sum_hh[p] += outer(h_r, h_r)``         (m, m)  = H^T H

Duplicated indices are allowed (atomic adds), so several views can be scattered at
once. Training back-propagates through the sums into the feature extractor and the
basis MLP, so the op is differentiable in ``y`` and ``h``: the backward is a gather
(``dy = g_y[p] + g_hy[p]^T h``, ``dh = g_h[p] + g_hy[p] y + (g_hh[p] + g_hh[p]^T) h``).
"""

from __future__ import annotations

from typing import Any

import torch

from shared_utils.kernels import resolve_implementation

try:  # Triton is optional: the reference runs everywhere.
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - exercised only without triton
    triton = None

Sums = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def _sums_torch(index: torch.Tensor, y: torch.Tensor, h: torch.Tensor, num_points: int) -> Sums:
    """Reference: index_add of the per-sample terms (differentiable through autograd)."""
    m, c = h.shape[1], y.shape[1]
    count = torch.zeros(num_points, dtype=y.dtype, device=y.device)
    count = count.index_add(0, index, torch.ones_like(index, dtype=y.dtype))
    sum_y = torch.zeros(num_points, c, dtype=y.dtype, device=y.device).index_add(0, index, y)
    sum_h = torch.zeros(num_points, m, dtype=y.dtype, device=y.device).index_add(0, index, h)
    hy = h[:, :, None] * y[:, None, :]
    hh = h[:, :, None] * h[:, None, :]
    sum_hy = torch.zeros(num_points, m, c, dtype=y.dtype, device=y.device).index_add(0, index, hy)
    sum_hh = torch.zeros(num_points, m, m, dtype=y.dtype, device=y.device).index_add(0, index, hh)
    return count, sum_y, sum_h, sum_hy, sum_hh


if triton is not None:

    @triton.jit
    def _sums_fwd_kernel(
        idx_ptr,
        y_ptr,
        h_ptr,
        cnt_ptr,
        sy_ptr,
        sh_ptr,
        shy_ptr,
        shh_ptr,
        n_samples,
        C: tl.constexpr,
        M: tl.constexpr,
        CP: tl.constexpr,
        MP: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        pid = tl.program_id(0)
        rows = pid * BLOCK + tl.arange(0, BLOCK)
        rmask = rows < n_samples
        p = tl.load(idx_ptr + rows, mask=rmask, other=0).to(tl.int64)
        cc = tl.arange(0, CP)
        mm = tl.arange(0, MP)
        cmask = cc < C
        mmask = mm < M
        ymask = rmask[:, None] & cmask[None, :]
        hmask = rmask[:, None] & mmask[None, :]
        y = tl.load(y_ptr + rows[:, None] * C + cc[None, :], mask=ymask, other=0.0)
        h = tl.load(h_ptr + rows[:, None] * M + mm[None, :], mask=hmask, other=0.0)
        ones = tl.full([BLOCK], 1.0, tl.float32)
        tl.atomic_add(cnt_ptr + p, ones, mask=rmask)
        tl.atomic_add(sy_ptr + p[:, None] * C + cc[None, :], y, mask=ymask)
        tl.atomic_add(sh_ptr + p[:, None] * M + mm[None, :], h, mask=hmask)
        hy = h[:, :, None] * y[:, None, :]
        hy_mask = hmask[:, :, None] & cmask[None, None, :]
        hy_off = p[:, None, None] * (M * C) + mm[None, :, None] * C + cc[None, None, :]
        tl.atomic_add(shy_ptr + hy_off, hy, mask=hy_mask)
        hh = h[:, :, None] * h[:, None, :]
        hh_mask = hmask[:, :, None] & mmask[None, None, :]
        hh_off = p[:, None, None] * (M * M) + mm[None, :, None] * M + mm[None, None, :]
        tl.atomic_add(shh_ptr + hh_off, hh, mask=hh_mask)

    @triton.jit
    def _sums_bwd_kernel(
        idx_ptr,
        y_ptr,
        h_ptr,
        gsy_ptr,
        gsh_ptr,
        gshy_ptr,
        gshh_ptr,
        dy_ptr,
        dh_ptr,
        n_samples,
        C: tl.constexpr,
        M: tl.constexpr,
        CP: tl.constexpr,
        MP: tl.constexpr,
        BLOCK: tl.constexpr,
    ):
        pid = tl.program_id(0)
        rows = pid * BLOCK + tl.arange(0, BLOCK)
        rmask = rows < n_samples
        p = tl.load(idx_ptr + rows, mask=rmask, other=0).to(tl.int64)
        cc = tl.arange(0, CP)
        mm = tl.arange(0, MP)
        cmask = cc < C
        mmask = mm < M
        ymask = rmask[:, None] & cmask[None, :]
        hmask = rmask[:, None] & mmask[None, :]
        y = tl.load(y_ptr + rows[:, None] * C + cc[None, :], mask=ymask, other=0.0)
        h = tl.load(h_ptr + rows[:, None] * M + mm[None, :], mask=hmask, other=0.0)
        g_y = tl.load(gsy_ptr + p[:, None] * C + cc[None, :], mask=ymask, other=0.0)
        g_h = tl.load(gsh_ptr + p[:, None] * M + mm[None, :], mask=hmask, other=0.0)
        hy_mask = hmask[:, :, None] & cmask[None, None, :]
        hy_off = p[:, None, None] * (M * C) + mm[None, :, None] * C + cc[None, None, :]
        g_hy = tl.load(gshy_ptr + hy_off, mask=hy_mask, other=0.0)
        hh_mask = hmask[:, :, None] & mmask[None, None, :]
        base = p[:, None, None] * (M * M)
        g_hh = tl.load(gshh_ptr + base + mm[None, :, None] * M + mm[None, None, :], mask=hh_mask)
        g_hh_t = tl.load(gshh_ptr + base + mm[None, None, :] * M + mm[None, :, None], mask=hh_mask)
        dy = g_y + tl.sum(g_hy * h[:, :, None], axis=1)
        dh = (
            g_h
            + tl.sum(g_hy * y[:, None, :], axis=2)
            + tl.sum((g_hh + g_hh_t) * h[:, None, :], axis=2)
        )
        tl.store(dy_ptr + rows[:, None] * C + cc[None, :], dy, mask=ymask)
        tl.store(dh_ptr + rows[:, None] * M + mm[None, :], dh, mask=hmask)


def _launch_meta(n: int, c: int, m: int) -> tuple[tuple[int], dict[str, int]]:
    block = 32
    meta = {
        "C": c,
        "M": m,
        "CP": triton.next_power_of_2(c),
        "MP": triton.next_power_of_2(m),
        "BLOCK": block,
    }
    return (triton.cdiv(n, block),), meta


class _SumsTriton(torch.autograd.Function):
    """Autograd wrapper around the Triton scatter (forward) and gather (backward)."""

    @staticmethod
    def forward(
        ctx: Any, index: torch.Tensor, y: torch.Tensor, h: torch.Tensor, num_points: int
    ) -> Sums:
        n, c = y.shape
        m = h.shape[1]
        dev = y.device
        count = torch.zeros(num_points, dtype=torch.float32, device=dev)
        sum_y = torch.zeros(num_points, c, dtype=torch.float32, device=dev)
        sum_h = torch.zeros(num_points, m, dtype=torch.float32, device=dev)
        sum_hy = torch.zeros(num_points, m, c, dtype=torch.float32, device=dev)
        sum_hh = torch.zeros(num_points, m, m, dtype=torch.float32, device=dev)
        index = index.contiguous()
        y = y.contiguous()
        h = h.contiguous()
        if n > 0:
            grid, meta = _launch_meta(n, c, m)
            _sums_fwd_kernel[grid](index, y, h, count, sum_y, sum_h, sum_hy, sum_hh, n, **meta)
        ctx.save_for_backward(index, y, h)
        ctx.num_points = num_points
        ctx.mark_non_differentiable(count)
        return count, sum_y, sum_h, sum_hy, sum_hh

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor | None) -> tuple[Any, ...]:
        index, y, h = ctx.saved_tensors
        n, c = y.shape
        m = h.shape[1]
        shapes = [(c,), (m,), (m, c), (m, m)]
        full: list[torch.Tensor] = []
        for g, shape in zip(grads[1:], shapes, strict=True):
            if g is None:
                g = torch.zeros((ctx.num_points, *shape), dtype=torch.float32, device=y.device)
            full.append(g.to(torch.float32).contiguous())
        dy = torch.empty_like(y)
        dh = torch.empty_like(h)
        if n > 0:
            grid, meta = _launch_meta(n, c, m)
            _sums_bwd_kernel[grid](index, y, h, *full, dy, dh, n, **meta)
        return None, dy, dh, None


def aggregate_sums(
    index: torch.Tensor,
    y: torch.Tensor,
    h: torch.Tensor,
    num_points: int,
    *,
    implementation: str = "auto",
) -> Sums:
    """The five aggregation sums of these samples, scattered per point.

    Args:
        index: (R,) int64 point index of every sample, in ``[0, num_points)``.
        y: (R, c) sampled descriptors (any float dtype; summed in float32, or
            float64 when given float64).
        h: (R, m) basis values ``H(v)`` of the samples' view directions (ditto).
        num_points: N, the number of points.
        implementation: ``"auto"``, ``"torch"`` or ``"triton"``.

    Returns:
        ``count`` (N,), ``sum_y`` (N, c), ``sum_h`` (N, m), ``sum_hy`` (N, m, c),
        ``sum_hh`` (N, m, m); differentiable in ``y`` and ``h`` (not ``count``).
    """
    if index.ndim != 1 or y.ndim != 2 or h.ndim != 2:
        raise ValueError(
            f"aggregate_sums: expected index (R,), y (R, c), h (R, m); got "
            f"{tuple(index.shape)}, {tuple(y.shape)}, {tuple(h.shape)}"
        )
    if not (index.shape[0] == y.shape[0] == h.shape[0]):
        raise ValueError(
            f"aggregate_sums: sample counts differ: index {index.shape[0]}, y {y.shape[0]}, "
            f"h {h.shape[0]}"
        )
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= num_points):
        raise ValueError(f"aggregate_sums: index out of range [0, {num_points})")
    impl = resolve_implementation(implementation, index, y, h, op="aggregate_sums")
    index = index.to(torch.int64)
    # The sums are accumulated in float32 whatever the inputs (AMP gives bf16/fp16 y and
    # h); autocast is switched off so nothing inside is cast back down.
    with torch.autocast(device_type=y.device.type, enabled=False):
        if impl == "triton":
            out = _SumsTriton.apply(index, y.to(torch.float32), h.to(torch.float32), num_points)
            return out  # type: ignore[no-any-return]
        dtype = torch.promote_types(torch.promote_types(y.dtype, h.dtype), torch.float32)
        return _sums_torch(index, y.to(dtype), h.to(dtype), num_points)
