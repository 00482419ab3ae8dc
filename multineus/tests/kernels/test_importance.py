"""Triton inverse-CDF sampling vs the PyTorch reference."""

from __future__ import annotations

import pytest
import torch

from multineus.kernels.importance import sample_pdf, sample_pdf_reference
from shared_utils.kernels import assert_close


@pytest.mark.parametrize(
    ("R", "M", "S", "det"), [(3, 8, 5, True), (4, 23, 16, False), (2, 64, 70, True)]
)
def test_matches_reference(R: int, M: int, S: int, det: bool) -> None:
    g = torch.Generator().manual_seed(R + M + S)
    bins = torch.sort(torch.rand(R, M + 1, generator=g) * 3, dim=1).values
    weights = torch.rand(R, M, generator=g) ** 4
    weights[0] = 0.0  # an empty ray samples uniformly
    u = None if det else torch.rand(R, S, generator=g)
    out = sample_pdf(bins, weights, S, u=u, implementation="triton")
    ref = sample_pdf(bins, weights, S, u=u, implementation="torch")
    assert_close(out, ref, rtol=1e-5, atol=1e-5, name="samples")


def test_reference_follows_the_pdf() -> None:
    # All the weight in bin 2 of [0, 1, 2, 3, 4]: (almost) all samples land in [2, 3].
    bins = torch.arange(5.0)[None]
    weights = torch.tensor([[0.0, 0.0, 1.0, 0.0]])
    u = torch.linspace(0.01, 0.99, 50)[None]
    s = sample_pdf_reference(bins, weights, u)
    inside = ((s >= 2.0) & (s <= 3.0)).float().mean()
    assert inside > 0.95
    assert torch.all(s[:, 1:] >= s[:, :-1])  # monotone in u
