"""The fused VQ nearest-code search: Triton (interpreter) vs reference vs cdist+argmin,
and the straight-through gradient."""

from __future__ import annotations

import pytest
import torch

from lvt.kernels.vq_search import quantize_straight_through, vq_nearest, vq_nearest_reference
from shared_utils.kernels import assert_close


def _separated(
    n: int, k: int, d: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Codebook entries far apart, rows = a random entry + small noise: a unique answer."""
    gen = torch.Generator().manual_seed(seed)
    codebook = torch.randn(k, d, generator=gen) * 3.0
    truth = torch.randint(0, k, (n,), generator=gen)
    z = codebook[truth] + 0.01 * torch.randn(n, d, generator=gen)
    return z, codebook, truth


@pytest.mark.parametrize("n,k,d", [(1, 3, 4), (37, 70, 16), (64, 130, 33), (100, 512, 64)])
@pytest.mark.parametrize("implementation", ["torch", "triton"])
def test_indices_match_cdist_argmin(n: int, k: int, d: int, implementation: str) -> None:
    z, codebook, truth = _separated(n, k, d, seed=n + k)
    idx, dist = vq_nearest(z, codebook, implementation=implementation)
    expected = torch.cdist(z, codebook).argmin(1)
    assert torch.equal(idx, expected) and torch.equal(idx, truth)
    assert_close(dist, ((z - codebook[idx]) ** 2).sum(1), rtol=1e-3, atol=1e-3, name="distance")


@pytest.mark.parametrize("n,k,d", [(50, 100, 8), (33, 65, 20)])
def test_triton_matches_reference_on_random_data(n: int, k: int, d: int) -> None:
    gen = torch.Generator().manual_seed(3)
    z, codebook = torch.randn(n, d, generator=gen), torch.randn(k, d, generator=gen)
    idx_t, dist_t = vq_nearest(z, codebook, implementation="triton")
    idx_r, dist_r = vq_nearest_reference(z, codebook)
    # compare the distances reached (robust to near ties), then the indices
    true_dist = ((z[:, None] - codebook[None]) ** 2).sum(-1)
    assert_close(true_dist.gather(1, idx_t[:, None])[:, 0], true_dist.min(1).values, atol=1e-4)
    assert_close(dist_t, dist_r, rtol=1e-4, atol=1e-4, name="min distance")
    assert (idx_t == idx_r).float().mean() > 0.95


def test_ties_go_to_the_smallest_index() -> None:
    codebook = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]).repeat(40, 1)
    z = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    for impl in ("torch", "triton"):
        idx, _ = vq_nearest(z, codebook, implementation=impl)
        assert idx.tolist() == [1, 0]


@pytest.mark.parametrize("implementation", ["torch", "triton"])
def test_straight_through_gradient_is_identity(implementation: str) -> None:
    z, codebook, truth = _separated(20, 40, 8, seed=5)
    z = z.clone().requires_grad_(True)
    codebook.requires_grad_(True)
    zq, idx = quantize_straight_through(z, codebook, implementation=implementation)
    assert torch.equal(idx, truth)
    assert_close(zq, codebook[truth].detach(), atol=1e-6, name="forward value")
    upstream = torch.randn_like(zq)
    (zq * upstream).sum().backward()
    assert z.grad is not None
    assert_close(z.grad, upstream, atol=0.0, rtol=0.0, name="d z_q / d z")
    assert codebook.grad is None


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="codebook"):
        vq_nearest(torch.zeros(3, 4), torch.zeros(5, 3))
