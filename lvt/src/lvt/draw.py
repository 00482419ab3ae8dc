"""Inverse-CDF sampling of one code per batch element from logits and a given uniform.

Both samplers draw code (b, t, y, x, k) with the same pre-drawn uniform number through
this one function, so they return the same code whenever their logits agree to rounding.
"""

from __future__ import annotations

import torch


def draw(logits: torch.Tensor, uniform: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Inverse-CDF sample: (B, K) logits, uniforms in [0, 1) -> (B,) int64.

    The result is the number of entries of the (float64) cumulative distribution below
    the uniform, at most K - 1 (against rounding of the last cumulative sum).

    Args:
        logits: (B, K).
        uniform: (B,) or, to skip a reshape in the cached sampler's loop, a contiguous
            float64 column (B, 1).
    """
    scaled = logits.double() if temperature == 1.0 else logits.double() / temperature
    cdf = torch.softmax(scaled, dim=-1).cumsum(-1)
    column = uniform if uniform.dim() == 2 else uniform[:, None].double().contiguous()
    # the cdf is sorted: one binary search counts the entries below u
    return torch.searchsorted(cdf, column).squeeze(-1).clamp(max=logits.shape[-1] - 1)
