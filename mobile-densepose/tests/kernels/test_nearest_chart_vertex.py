"""Triton nearest-chart-vertex kernel vs its PyTorch reference (CPU interpreter)."""

import pytest
import torch

from mobile_densepose.kernels.nearest_chart_vertex import (
    nearest_chart_vertex,
    nearest_chart_vertex_reference,
    nearest_chart_vertex_triton,
)
from shared_utils.kernels import assert_close


def _brute(
    vp: torch.Tensor, vuv: torch.Tensor, qp: torch.Tensor, quv: torch.Tensor
) -> torch.Tensor:
    out = []
    for p, q in zip(qp.tolist(), quv):
        best, idx = float("inf"), -1
        for i, (vpi, v) in enumerate(zip(vp.tolist(), vuv)):
            d = float(((q - v) ** 2).sum())
            if vpi == p and d < best:
                best, idx = d, i
        out.append(idx if p > 0 else -1)
    return torch.tensor(out, dtype=torch.int64)


@pytest.mark.parametrize(("n_vert", "n_query"), [(1, 1), (37, 50), (130, 70), (200, 33)])
def test_triton_matches_reference(n_vert: int, n_query: int) -> None:
    g = torch.Generator().manual_seed(n_vert * 7 + n_query)
    vp = torch.randint(1, 6, (n_vert,), generator=g)
    vuv = torch.rand(n_vert, 2, generator=g)
    qp = torch.randint(0, 7, (n_query,), generator=g)  # 0 = background, 6 = chart with no vertex
    quv = torch.rand(n_query, 2, generator=g)
    ref = nearest_chart_vertex_reference(vp, vuv, qp, quv)
    tri = nearest_chart_vertex_triton(vp, vuv, qp, quv)
    assert_close(tri, ref, name="nearest vertex")
    if n_vert * n_query <= 2000:
        assert_close(ref, _brute(vp, vuv, qp, quv), name="reference vs brute force")
    assert bool((ref[qp == 0] == -1).all()) and bool((ref[qp == 6] == -1).all())


def test_ties_pick_the_first_vertex() -> None:
    vp = torch.tensor([2, 1, 1, 1])
    vuv = torch.tensor([[0.5, 0.5], [0.2, 0.2], [0.8, 0.8], [0.2, 0.2]])
    qp = torch.tensor([1, 1, 2])
    quv = torch.tensor([[0.2, 0.2], [0.79, 0.8], [0.0, 0.0]])
    expected = torch.tensor([1, 2, 0])
    assert_close(nearest_chart_vertex_triton(vp, vuv, qp, quv), expected, name="triton")
    assert_close(
        nearest_chart_vertex(vp, vuv, qp, quv, implementation="torch"), expected, name="torch"
    )
