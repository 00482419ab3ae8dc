"""Bits per dimension and entropy in bits.

bits/dim is the mean cross-entropy (negative log-likelihood) of categorical targets,
in nats, divided by ln 2. For a model whose logits equal the true log-probabilities it
converges to the entropy of the distribution, and for a uniform distribution over K
classes it is exactly log2 K.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def bits_per_dim(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Mean negative log2-likelihood per element.

    Args:
        logits: (..., K) unnormalised log-probabilities.
        targets: (...) integer class indices in [0, K).

    Returns:
        mean over all elements of -log2 softmax(logits)[target].
    """
    if logits.shape[:-1] != targets.shape:
        raise ValueError(
            f"bits_per_dim: logits {tuple(logits.shape)} must be targets {tuple(targets.shape)} + (K,)"
        )
    k = logits.shape[-1]
    t = targets.reshape(-1).long()
    if t.numel() and (int(t.min()) < 0 or int(t.max()) >= k):
        raise ValueError(f"bits_per_dim: targets must lie in [0, {k})")
    nats = F.cross_entropy(logits.reshape(-1, k).float(), t, reduction="mean")
    return float(nats) / math.log(2.0)


def entropy_bits(probs: torch.Tensor) -> torch.Tensor:
    """Shannon entropy in bits of categorical distributions (0 log 0 = 0).

    Args:
        probs: (..., K) probabilities summing to 1 over the last axis.

    Returns:
        (...) entropies; a 0-d tensor for a single (K,) distribution.
    """
    p = torch.as_tensor(probs, dtype=torch.float64)
    logp = torch.where(p > 0, torch.log2(p.clamp_min(1e-300)), torch.zeros_like(p))
    return -(p * logp).sum(dim=-1)
