"""Online descriptor aggregation (eqs. 3-5): order independence, batch ridge, memory."""

from __future__ import annotations

import torch

from npbgpp.model.aggregation import (
    AggregationState,
    BasisMLP,
    harmonic_embedding,
    solve_descriptors,
)
from shared_utils.kernels import assert_close

N, C, M = 5, 4, 6


def _views(num_views: int, seed: int):
    """Per view: visible indices, sampled descriptors, view directions."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(num_views):
        visible = torch.nonzero(torch.rand(N, generator=g) < 0.7).flatten()
        visible = visible[visible != N - 1]  # the last point is never seen
        y = torch.randn(len(visible), C, generator=g)
        v = torch.nn.functional.normalize(torch.randn(len(visible), 3, generator=g), dim=-1)
        out.append((visible, y, v))
    return out


def _aggregate(views, basis, impl="torch"):
    state = AggregationState.zeros(N, C, M)
    for index, y, v in views:
        state = state.update(index, y, basis(v), implementation=impl)
    return state


def test_harmonic_embedding_values() -> None:
    v = torch.tensor([[0.0, 0.5, 1.0]])
    e = harmonic_embedding(v, 3)
    assert e.shape == (1, 21)
    assert_close(e[0, :3], v[0])
    # frequency pi on the x, y, z components, then 2 pi, 4 pi
    assert_close(e[0, 3:6], torch.sin(torch.pi * v[0]), atol=1e-6)
    assert_close(e[0, 12:15], torch.cos(torch.pi * v[0]), atol=1e-6)


def test_order_independent() -> None:
    torch.manual_seed(0)
    basis = BasisMLP(M, 3, 16, 2)
    views = _views(6, seed=1)
    with torch.no_grad():
        a = solve_descriptors(_aggregate(views, basis))
        b = solve_descriptors(_aggregate(views[::-1], basis))
        c = solve_descriptors(_aggregate([views[i] for i in (3, 0, 5, 1, 4, 2)], basis))
    for other in (b, c):
        assert torch.equal(a.kept, other.kept)
        assert_close(other.beta0, a.beta0, rtol=1e-5, atol=1e-5, name="beta0")
        assert_close(other.beta, a.beta, rtol=1e-4, atol=1e-4, name="beta")


def test_equals_batch_ridge_solution() -> None:
    torch.manual_seed(0)
    basis = BasisMLP(M, 3, 16, 2).double()
    views = [(i, y.double(), v.double()) for i, y, v in _views(8, seed=2)]
    state = AggregationState(*(t.double() for t in vars(AggregationState.zeros(N, C, M)).values()))
    with torch.no_grad():
        for index, y, v in views:
            state = state.update(index, y, basis(v), implementation="torch")
        sol = solve_descriptors(state, alpha=1.0)
        kept_ids = torch.nonzero(sol.kept).flatten().tolist()
        for row, p in enumerate(kept_ids):
            hs, ys = [], []
            for index, y, v in views:
                hit = torch.nonzero(index == p).flatten()
                if len(hit):
                    hs.append(basis(v[hit]))
                    ys.append(y[hit])
            h = torch.cat(hs)
            yy = torch.cat(ys)
            beta0 = yy.mean(0)
            # argmin ||Y - beta0 - H beta||^2 + alpha ||beta||^2
            beta = torch.linalg.solve(h.T @ h + torch.eye(M, dtype=h.dtype), h.T @ (yy - beta0))
            assert_close(sol.beta0[row], beta0, rtol=1e-10, atol=1e-10, name="beta0")
            assert_close(sol.beta[row], beta, rtol=1e-8, atol=1e-8, name="beta")


def test_points_seen_in_no_view_are_dropped() -> None:
    basis = BasisMLP(M, 3, 8, 1)
    with torch.no_grad():
        sol = solve_descriptors(_aggregate(_views(4, seed=3), basis))
    assert not bool(sol.kept[N - 1])
    assert sol.beta0.shape == (int(sol.kept.sum()), C)
    assert sol.beta.shape == (int(sol.kept.sum()), M, C)


def test_state_size_independent_of_view_count() -> None:
    basis = BasisMLP(M, 3, 8, 1)
    with torch.no_grad():
        few = _aggregate(_views(2, seed=4), basis)
        many = _aggregate(_views(40, seed=4), basis)
    assert few.nbytes() == many.nbytes() == AggregationState.zeros(N, C, M).nbytes()
    assert float(many.count.max()) > 2


def test_gradients_flow_to_basis_and_samples() -> None:
    torch.manual_seed(0)
    basis = BasisMLP(M, 3, 8, 1)
    views = _views(3, seed=5)
    y0 = views[0][1].clone().requires_grad_(True)
    views[0] = (views[0][0], y0, views[0][2])
    sol = solve_descriptors(_aggregate(views, basis))
    out = sol.evaluate(basis(torch.nn.functional.normalize(torch.ones(len(sol.beta0), 3), dim=-1)))
    out.square().sum().backward()
    assert y0.grad is not None and float(y0.grad.abs().sum()) > 0
    assert all(p.grad is not None for p in basis.parameters())
