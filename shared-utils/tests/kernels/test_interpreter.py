"""The interpreter set-up lets a Triton kernel run on CPU tensors and match torch."""

from __future__ import annotations

import pytest
import torch

from shared_utils.kernels import assert_close, triton_available, triton_interpreter_enabled

pytestmark = pytest.mark.skipif(not triton_available(), reason="triton is not installed")


def _scaled_add(x: torch.Tensor, y: torch.Tensor, alpha: float) -> torch.Tensor:
    import triton
    import triton.language as tl

    @triton.jit
    def kernel(x_ptr, y_ptr, out_ptr, n, alpha, BLOCK: tl.constexpr):
        offs = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
        mask = offs < n
        x = tl.load(x_ptr + offs, mask=mask)
        y = tl.load(y_ptr + offs, mask=mask)
        tl.store(out_ptr + offs, x + alpha * y, mask=mask)

    out = torch.empty_like(x)
    n = x.numel()
    kernel[(triton.cdiv(n, 256),)](x, y, out, n, alpha, BLOCK=256)
    return out


def test_conftest_enabled_the_interpreter() -> None:
    assert triton_interpreter_enabled()


@pytest.mark.parametrize("n", [1, 255, 256, 1000])
def test_triton_kernel_matches_torch_on_cpu(n: int) -> None:
    g = torch.Generator().manual_seed(n)
    x = torch.randn(n, generator=g)
    y = torch.randn(n, generator=g)
    assert_close(_scaled_add(x, y, 0.5), x + 0.5 * y, rtol=1e-6, atol=1e-6)
