"""The learned sharpness of NeuS: s = exp(10 v), v initialised to 0.3."""

from __future__ import annotations

import torch
from torch import nn


class Variance(nn.Module):
    """One scalar v; ``inv_s()`` returns s = exp(10 v) clamped to [1e-6, 1e6]."""

    def __init__(self, init: float = 0.3) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.tensor(float(init)))

    def inv_s(self) -> torch.Tensor:
        """() the logistic sharpness s (1 / standard deviation scale)."""
        return torch.exp(self.v * 10.0).clamp(1e-6, 1e6)
