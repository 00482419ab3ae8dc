"""bits/dim: exact for uniform distributions, converges to the entropy otherwise."""

from __future__ import annotations

import math

import pytest
import torch

from shared_utils.metrics.bits import bits_per_dim, entropy_bits


def test_uniform_is_log2_k() -> None:
    for k in (2, 7, 1024):
        targets = torch.randint(0, k, (3, 5), generator=torch.Generator().manual_seed(k))
        logits = torch.zeros(3, 5, k)
        assert bits_per_dim(logits, targets) == pytest.approx(math.log2(k), rel=1e-6)
        assert float(entropy_bits(torch.full((k,), 1.0 / k))) == pytest.approx(math.log2(k))


def test_sampled_categorical_converges_to_entropy() -> None:
    g = torch.Generator().manual_seed(0)
    probs = torch.tensor([0.5, 0.2, 0.15, 0.1, 0.05, 0.0])
    n = 200_000
    targets = torch.multinomial(probs, n, replacement=True, generator=g)
    logits = torch.log(probs.clamp_min(1e-30)).expand(n, -1)
    h = float(entropy_bits(probs))
    p = probs[probs > 0]
    var = float((p * torch.log2(p) ** 2).sum()) - h**2  # variance of -log2 p(x)
    assert bits_per_dim(logits, targets) == pytest.approx(h, abs=5 * math.sqrt(var / n))


def test_entropy_known_values_and_batching() -> None:
    assert float(entropy_bits(torch.tensor([0.5, 0.25, 0.25]))) == pytest.approx(1.5)
    assert float(entropy_bits(torch.tensor([1.0, 0.0]))) == 0.0
    batch = entropy_bits(torch.tensor([[0.5, 0.5], [1.0, 0.0]]))
    assert batch.shape == (2,) and batch.tolist() == pytest.approx([1.0, 0.0])


def test_errors() -> None:
    with pytest.raises(ValueError, match="logits"):
        bits_per_dim(torch.zeros(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        bits_per_dim(torch.zeros(2, 3), torch.tensor([0, 3]))
