"""Triton NeuS weights/accumulation vs the PyTorch reference, forward and backward."""

from __future__ import annotations

import pytest
import torch

from multineus.kernels.neus_weights import neus_render_weights, neus_render_weights_reference
from shared_utils.kernels import assert_close


def _inputs(R: int, N: int, C: int, seed: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    # SDF decreasing along the ray through zero, plus noise: a realistic mix of alphas.
    base = torch.linspace(3.0, -3.0, N + 1)[None].repeat(R, 1) * 10
    base = base + torch.randn(R, N + 1, generator=g) * 5
    a, b = base[:, :-1].clone(), base[:, 1:].clone()
    colors = torch.rand(R, N, C, generator=g)
    z = torch.sort(torch.rand(R, N, generator=g) * 4, dim=1).values
    return [t.requires_grad_(True) for t in (a, b, colors, z)]


@pytest.mark.parametrize(("R", "N", "C"), [(3, 8, 3), (5, 13, 3), (2, 20, 1)])
def test_forward_backward_match_reference(R: int, N: int, C: int) -> None:
    ins = _inputs(R, N, C, seed=R * 100 + N)
    ref = neus_render_weights_reference(*ins)
    ins_t = [t.detach().clone().requires_grad_(True) for t in ins]
    out = neus_render_weights(*ins_t, implementation="triton")
    for name, o, r in zip(("weights", "color", "depth", "opacity"), out, ref, strict=True):
        assert_close(o, r, rtol=1e-5, atol=1e-6, name=name)
    g = torch.Generator().manual_seed(7)
    upstream = [torch.randn(r.shape, generator=g) for r in ref]
    loss_ref = sum((u * r).sum() for u, r in zip(upstream, ref, strict=True))
    loss_out = sum((u * o).sum() for u, o in zip(upstream, out, strict=True))
    grads_ref = torch.autograd.grad(loss_ref, ins)
    grads_out = torch.autograd.grad(loss_out, ins_t)
    for name, go, gr in zip(("a", "b", "colors", "z"), grads_out, grads_ref, strict=True):
        assert_close(go, gr, rtol=1e-4, atol=1e-5, name=f"grad {name}")


def test_reference_weights_of_opaque_step() -> None:
    # A sharp crossing: all weight on the crossing section, opacity 1.
    a = torch.tensor([[1e3, 1e3, 1e3, -1e3]])
    b = torch.tensor([[1e3, 1e3, -1e3, -1e3]])
    colors = torch.rand(1, 4, 3)
    z = torch.arange(4.0)[None]
    w, color, depth, opacity = neus_render_weights_reference(a, b, colors, z)
    assert_close(w, torch.tensor([[0.0, 0.0, 1.0, 0.0]]), atol=1e-4)
    assert_close(depth, torch.tensor([2.0]), atol=1e-3)
    assert_close(color, colors[:, 2], atol=1e-4)
    assert_close(opacity, torch.tensor([1.0]), atol=1e-4)


def test_bad_shapes_are_named() -> None:
    with pytest.raises(ValueError, match="colors"):
        neus_render_weights(
            torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 4, 3), torch.zeros(2, 3)
        )
