"""Aggregation-sum scatter: Triton (interpreter) vs reference, forward and backward."""

from __future__ import annotations

import pytest
import torch

from npbgpp.kernels.aggregate_sums import aggregate_sums
from shared_utils.kernels import assert_close


@pytest.mark.parametrize(("r", "n", "c", "m"), [(1, 1, 1, 1), (40, 7, 8, 6), (70, 20, 3, 5)])
def test_triton_matches_reference(r: int, n: int, c: int, m: int) -> None:
    g = torch.Generator().manual_seed(r + n)
    index = torch.randint(0, n, (r,), generator=g)
    y = torch.randn(r, c, generator=g)
    h = torch.randn(r, m, generator=g)
    weights = [torch.randn(s, generator=g) for s in [(n, c), (n, m), (n, m, c), (n, m, m)]]
    outs, grads = [], []
    for impl in ("torch", "triton"):
        yy = y.clone().requires_grad_(True)
        hh = h.clone().requires_grad_(True)
        sums = aggregate_sums(index, yy, hh, n, implementation=impl)
        loss = sum((s * w).sum() for s, w in zip(sums[1:], weights, strict=True))
        loss.backward()
        outs.append(sums)
        grads.append((yy.grad, hh.grad))
    names = ["count", "sum_y", "sum_h", "sum_hy", "sum_hh"]
    for a, e, name in zip(outs[1], outs[0], names, strict=True):
        assert_close(a, e, rtol=1e-5, atol=1e-5, name=name)
    assert_close(grads[1][0], grads[0][0], rtol=1e-5, atol=1e-5, name="dy")
    assert_close(grads[1][1], grads[0][1], rtol=1e-5, atol=1e-5, name="dh")


def test_known_values_single_sample() -> None:
    y = torch.tensor([[1.0, 2.0]])
    h = torch.tensor([[3.0, 4.0, 5.0]])
    for impl in ("torch", "triton"):
        count, sy, sh, shy, shh = aggregate_sums(torch.tensor([1]), y, h, 3, implementation=impl)
        assert count.tolist() == [0.0, 1.0, 0.0]
        assert_close(sy[1], y[0])
        assert_close(sh[1], h[0])
        assert_close(shy[1], torch.outer(h[0], y[0]))
        assert_close(shh[1], torch.outer(h[0], h[0]))
        assert float(shy[0].abs().sum() + shh[2].abs().sum()) == 0.0


def test_out_of_range_index_raises() -> None:
    with pytest.raises(ValueError, match="out of range"):
        aggregate_sums(torch.tensor([5]), torch.zeros(1, 2), torch.zeros(1, 3), 3)
