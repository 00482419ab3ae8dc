"""The histogram loss of Imani & White (2018) as DEF uses it.

A distance in [0, truncation] is represented by a distribution over ``n_bins`` equal
bins covering [0, truncation] plus ``margin`` extra bins of the same width on each side
(240 + 2 + 2 = 244 in the paper). The target of a distance ``d`` is a Gaussian centred at
``d`` with sigma equal to one bin width, integrated over every bin (differences of the
normal CDF, i.e. of erf) and renormalised to sum to one over all bins. The loss is the
KL divergence from that target to the softmax of the logits; the prediction is the
expectation of the bin centres under the softmax, clamped to [0, truncation].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class HistogramBins:
    """Bin layout of the histogram head."""

    n_bins: int = 240
    """Bins covering [0, truncation]."""
    margin: int = 2
    """Extra bins on each side."""
    truncation: float = 1.0
    """Upper end of the inner range."""

    @property
    def total(self) -> int:
        """All bins, margins included."""
        return self.n_bins + 2 * self.margin

    @property
    def width(self) -> float:
        """Width of one bin."""
        return self.truncation / self.n_bins

    def edges(self, device: torch.device | None = None) -> torch.Tensor:
        """(total + 1,) bin edges, from ``-margin * width`` to ``truncation + margin * width``."""
        k = torch.arange(self.total + 1, dtype=torch.float64, device=device)
        return ((k - self.margin) * self.width).float()

    def centres(self, device: torch.device | None = None) -> torch.Tensor:
        """(total,) bin centres."""
        e = self.edges(device)
        return 0.5 * (e[1:] + e[:-1])


def histogram_target(distance: torch.Tensor, bins: HistogramBins) -> torch.Tensor:
    """Gaussian-smoothed target distribution of each distance.

    Args:
        distance: (...) distances (typically in [0, truncation]).
        bins: the bin layout.

    Returns:
        (..., total) probabilities summing to 1 over the last axis.
    """
    edges = bins.edges(distance.device).to(distance.dtype)
    sigma = bins.width
    z = (edges - distance.unsqueeze(-1)) / (sigma * math.sqrt(2.0))
    cdf = 0.5 * (1.0 + torch.erf(z))
    mass = (cdf[..., 1:] - cdf[..., :-1]).clamp_min(0.0)
    return mass / mass.sum(dim=-1, keepdim=True).clamp_min(1e-12)


def histogram_loss(
    logits: torch.Tensor,
    distance: torch.Tensor,
    bins: HistogramBins,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean KL(target || softmax(logits)) over (masked) pixels.

    Args:
        logits: (B, total, H, W) bin logits.
        distance: (B, H, W) target distances.
        bins: the bin layout.
        mask: (B, H, W) bool, pixels that count (surface pixels); all when None.

    Returns:
        scalar loss.
    """
    if logits.shape[1] != bins.total:
        raise ValueError(
            f"histogram_loss: logits have {logits.shape[1]} bins, expected {bins.total}"
        )
    log_p = F.log_softmax(logits.float(), dim=1).movedim(1, -1)
    target = histogram_target(distance.float(), bins)
    # Bins with zero target mass contribute nothing (0 * log 0 = 0).
    terms = target * (torch.log(target.clamp_min(1e-30)) - log_p)
    kl = torch.where(target > 0, terms, torch.zeros_like(terms)).sum(dim=-1)
    return _masked_mean(kl, mask)


def histogram_expectation(logits: torch.Tensor, bins: HistogramBins) -> torch.Tensor:
    """Predicted distance: expectation of bin centres, clamped to [0, truncation].

    Args:
        logits: (B, total, H, W).

    Returns:
        (B, H, W) distances.
    """
    p = torch.softmax(logits.float(), dim=1)
    centres = bins.centres(logits.device).view(1, -1, 1, 1)
    return (p * centres).sum(dim=1).clamp(0.0, bins.truncation)


def regression_loss(
    prediction: torch.Tensor, distance: torch.Tensor, kind: str, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """MSE or L1 between predicted and target distances (the paper's ablations).

    Args:
        prediction: (B, H, W); distance: (B, H, W); kind: ``"mse"`` or ``"l1"``;
        mask: (B, H, W) bool or None.
    """
    diff = prediction.float() - distance.float()
    if kind == "mse":
        per_pixel = diff.square()
    elif kind == "l1":
        per_pixel = diff.abs()
    else:
        raise ValueError(f"regression_loss: kind must be 'mse' or 'l1', got {kind!r}")
    return _masked_mean(per_pixel, mask)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is None:
        return values.mean()
    m = mask.to(values.dtype)
    return (values * m).sum() / m.sum().clamp_min(1.0)
