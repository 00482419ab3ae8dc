"""View-dependent point descriptors and their online, order-independent aggregation.

Each point's descriptor is a function of the unit view direction ``v`` (eq. 3)::

    y(v) = H(v) beta + beta0,   H: R^3 -> R^m (a learnable MLP), beta (m, c), beta0 (c,)

Given samples ``(v_k, y_k)``, k = 1..K, from the views where the point is visible, the
coefficients are a ridge regression with the intercept fixed to the mean (eqs. 4-5)::

    beta0 = mean_k y_k
    beta  = (1/K sum H_k^T H_k + alpha/K I)^-1 (1/K sum H_k^T y_k - 1/K sum H_k^T beta0)

Everything on the right is a function of five running sums (K, sum y, sum H^T y,
sum H^T, sum H^T H), so views are folded in one at a time with memory independent of
their number, and the result does not depend on their order. Points with K = 0 are
dropped.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import torch
from torch import nn

from npbgpp.camera import float32_region
from npbgpp.kernels.aggregate_sums import aggregate_sums


def harmonic_embedding(directions: torch.Tensor, num_frequencies: int) -> torch.Tensor:
    """[v, sin(2^k pi v), cos(2^k pi v) for k < F] of unit directions.

    Args:
        directions: (..., 3) unit vectors.
        num_frequencies: F.

    Returns:
        (..., 3 + 6 F) embedding.
    """
    freqs = math.pi * 2.0 ** torch.arange(num_frequencies, device=directions.device)
    angles = (directions[..., None, :] * freqs[:, None].to(directions.dtype)).flatten(-2)
    return torch.cat([directions, torch.sin(angles), torch.cos(angles)], dim=-1)


class BasisMLP(nn.Module):
    """H(v): m learnable basis functions over the sphere of view directions."""

    def __init__(self, num_basis: int, num_frequencies: int = 3, hidden: int = 64, layers: int = 2):
        super().__init__()
        self.num_frequencies = num_frequencies
        dims = [3 + 6 * num_frequencies] + [hidden] * layers
        blocks: list[nn.Module] = []
        for a, b in itertools.pairwise(dims):
            blocks += [nn.Linear(a, b), nn.ReLU()]
        blocks.append(nn.Linear(dims[-1], num_basis))
        self.net = nn.Sequential(*blocks)

    def forward(self, directions: torch.Tensor) -> torch.Tensor:
        """(..., 3) unit view directions -> (..., m) basis values."""
        return self.net(harmonic_embedding(directions, self.num_frequencies))  # type: ignore[no-any-return]


@dataclass
class AggregationState:
    """The five running sums of N points (memory independent of the number of views)."""

    count: torch.Tensor
    """(N,) K: views in which each point was visible."""
    sum_y: torch.Tensor
    """(N, c) sum of sampled descriptors."""
    sum_h: torch.Tensor
    """(N, m) sum of H(v)^T."""
    sum_hy: torch.Tensor
    """(N, m, c) sum of H(v)^T y."""
    sum_hh: torch.Tensor
    """(N, m, m) sum of H(v)^T H(v)."""

    @classmethod
    def zeros(
        cls,
        num_points: int,
        descriptor_dim: int,
        num_basis: int,
        device: torch.device | str = "cpu",
    ) -> AggregationState:
        n, c, m = num_points, descriptor_dim, num_basis
        z = torch.zeros
        return cls(
            z(n, device=device),
            z(n, c, device=device),
            z(n, m, device=device),
            z(n, m, c, device=device),
            z(n, m, m, device=device),
        )

    def update(
        self,
        index: torch.Tensor,
        y: torch.Tensor,
        h: torch.Tensor,
        *,
        implementation: str = "auto",
    ) -> AggregationState:
        """Fold in the samples of one (or several) views; returns the new state.

        Args:
            index: (R,) indices of the visible points.
            y: (R, c) their sampled descriptors.
            h: (R, m) H(v) of their view directions.
        """
        n = self.count.shape[0]
        sums = aggregate_sums(index, y, h, n, implementation=implementation)
        return AggregationState(
            self.count + sums[0],
            self.sum_y + sums[1],
            self.sum_h + sums[2],
            self.sum_hy + sums[3],
            self.sum_hh + sums[4],
        )

    def nbytes(self) -> int:
        """Memory held by the state."""
        return sum(t.numel() * t.element_size() for t in vars(self).values())


@dataclass
class PointDescriptors:
    """Solved view-dependent descriptors of the kept points."""

    kept: torch.Tensor
    """(N,) bool: points seen in at least one view (the others are dropped)."""
    beta0: torch.Tensor
    """(P, c) mean descriptor of each kept point."""
    beta: torch.Tensor
    """(P, m, c) coefficients of the basis functions."""

    def evaluate(self, h: torch.Tensor) -> torch.Tensor:
        """y(v) = H(v) beta + beta0 for basis values h (P, m) -> (P, c)."""
        return torch.einsum("pm,pmc->pc", h, self.beta) + self.beta0


def solve_descriptors(state: AggregationState, alpha: float = 1.0) -> PointDescriptors:
    """Solve eqs. 4-5 for every point seen at least once (in float32, also under
    autocast: the normal equations lose too much in half precision).

    Returns:
        The kept-point mask and beta0 (P, c), beta (P, m, c) for the P kept points.
    """
    with float32_region(state.count.device):
        dt = torch.promote_types(state.sum_hh.dtype, torch.float32)  # float64 stays
        kept = state.count > 0
        k = state.count[kept][:, None].to(dt)
        beta0 = state.sum_y[kept].to(dt) / k
        m = state.sum_h.shape[1]
        k3 = k[:, :, None]
        sum_h = state.sum_h[kept].to(dt)
        r = (state.sum_hy[kept].to(dt) - sum_h[:, :, None] * beta0[:, None, :]) / k3
        eye = torch.eye(m, dtype=dt, device=state.sum_hh.device)
        a = state.sum_hh[kept].to(dt) / k3 + alpha * eye / k3
        beta = torch.linalg.solve(a, r)
    return PointDescriptors(kept=kept, beta0=beta0, beta=beta)
