"""NeRF positional encoding: x -> (x, sin(2^k x), cos(2^k x)) for k < L."""

from __future__ import annotations

import torch


def encoded_dim(in_dim: int, multires: int) -> int:
    """Width of the encoding of an ``in_dim`` input with ``multires`` frequencies."""
    return in_dim * (1 + 2 * multires)


def positional_encoding(x: torch.Tensor, multires: int) -> torch.Tensor:
    """Encode points.

    Args:
        x: (..., D) inputs.
        multires: number of octaves L (0 returns x unchanged).

    Returns:
        (..., D (1 + 2L)) ``[x, sin(x), cos(x), sin(2x), cos(2x), ...]``.
    """
    parts = [x]
    for k in range(multires):
        freq = 2.0**k
        parts.append(torch.sin(x * freq))
        parts.append(torch.cos(x * freq))
    return torch.cat(parts, dim=-1)
