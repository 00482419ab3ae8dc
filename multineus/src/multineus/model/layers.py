"""Linear maps that are shared by all scenes or scene-specific (low-rank in a shared basis).

A scene-specific map of scene s has weight ``W_s = sum_k c[s, k] B_k`` and bias
``b_s = sum_k c[s, k] b_k``: the bases ``B_k, b_k`` are shared, only the K coefficients
``c[s]`` belong to the scene. A new scene therefore costs K numbers per layer and starts
from an average of the training scenes' coefficients (Multi-NeuS fitting).

Both kinds optionally apply weight normalisation ``W = g V / |V|_row`` on the effective
weight (NeuS normalises every linear map).
"""

from __future__ import annotations

import torch
from torch import nn


def _normalise(v: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Weight norm: (O, I) directions, (O,) gains -> (O, I) weight."""
    return v * (g / torch.linalg.norm(v, dim=1).clamp_min(1e-12))[:, None]


class SharedLinear(nn.Module):
    """``y = x W^T + b`` with W optionally weight-normalised; ignores the scene index."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, *, weight_norm: bool) -> None:
        """Args: weight (O, I) and bias (O,) initial values (the effective weight)."""
        super().__init__()
        self.weight_norm = weight_norm
        self.v = nn.Parameter(weight.clone())
        self.g = nn.Parameter(torch.linalg.norm(weight, dim=1)) if weight_norm else None
        self.b = nn.Parameter(bias.clone())

    def weight(self, scene: int) -> torch.Tensor:
        """(O, I) effective weight (the same for every scene)."""
        return _normalise(self.v, self.g) if self.g is not None else self.v

    def forward(self, x: torch.Tensor, scene: int) -> torch.Tensor:
        """(..., I) -> (..., O)."""
        return nn.functional.linear(x, self.weight(scene), self.b)


class LowRankSceneLinear(nn.Module):
    """Scene-specific linear map: per-scene coefficients over K shared bases."""

    def __init__(
        self,
        weight: torch.Tensor,
        bias: torch.Tensor,
        *,
        num_scenes: int,
        rank: int,
        weight_norm: bool,
        noise: float,
        generator: torch.Generator | None = None,
    ) -> None:
        """Every basis starts as the given weight times (1 + noise * N(0, 1)) and every
        scene's coefficients as 1/K, so each scene starts near the given weight.

        Args:
            weight: (O, I) initial effective weight.
            bias: (O,) initial bias.
            num_scenes: S, rows of the coefficient table.
            rank: K, number of bases.
            weight_norm: weight-normalise the combined weight.
            noise: relative noise on each basis copy.
        """
        super().__init__()
        if rank < 1 or num_scenes < 1:
            raise ValueError(f"rank and num_scenes must be >= 1, got {rank}, {num_scenes}")
        self.weight_norm = weight_norm
        jitter = torch.randn((rank, *weight.shape), generator=generator)
        self.basis_v = nn.Parameter(weight[None] * (1.0 + noise * jitter))
        self.basis_b = nn.Parameter(bias[None].repeat(rank, 1))
        norms = torch.linalg.norm(weight, dim=1)
        self.basis_g = nn.Parameter(norms[None].repeat(rank, 1)) if weight_norm else None
        self.coefficients = nn.Parameter(torch.full((num_scenes, rank), 1.0 / rank))

    @property
    def num_scenes(self) -> int:
        """Number of scenes S."""
        return int(self.coefficients.shape[0])

    def weight(self, scene: int) -> torch.Tensor:
        """(O, I) effective weight of one scene."""
        c = self.coefficients[scene]
        v = torch.einsum("k,koi->oi", c, self.basis_v)
        if self.basis_g is None:
            return v
        return _normalise(v, c @ self.basis_g)

    def bias(self, scene: int) -> torch.Tensor:
        """(O,) effective bias of one scene."""
        return self.coefficients[scene] @ self.basis_b

    def forward(self, x: torch.Tensor, scene: int) -> torch.Tensor:
        """(..., I) -> (..., O) with scene ``scene``'s weights."""
        if not 0 <= scene < self.num_scenes:
            raise IndexError(f"scene {scene} out of range [0, {self.num_scenes})")
        return nn.functional.linear(x, self.weight(scene), self.bias(scene))

    def append_scene(self, coefficients: torch.Tensor) -> int:
        """Add a scene with the given (K,) coefficients; returns its index."""
        rows = torch.cat(
            [self.coefficients.data, coefficients.reshape(1, -1).to(self.coefficients)]
        )
        self.coefficients = nn.Parameter(rows)
        return self.num_scenes - 1


SceneLinear = SharedLinear | LowRankSceneLinear
"""Either kind of linear map; both take ``(x, scene)``."""


def make_linear(
    weight: torch.Tensor,
    bias: torch.Tensor,
    *,
    scene_specific: bool,
    num_scenes: int,
    rank: int,
    weight_norm: bool,
    noise: float,
    generator: torch.Generator | None = None,
) -> SharedLinear | LowRankSceneLinear:
    """A shared or low-rank scene-specific map initialised to ``weight``, ``bias``."""
    if scene_specific:
        return LowRankSceneLinear(
            weight,
            bias,
            num_scenes=num_scenes,
            rank=rank,
            weight_norm=weight_norm,
            noise=noise,
            generator=generator,
        )
    return SharedLinear(weight, bias, weight_norm=weight_norm)
