"""Geodesic point similarity (GPS), DensePose's per-point correspondence score.

A ground-truth point and the prediction at the same pixel are both mapped to the body
surface (nearest vertex of their chart in UV), and scored GPS = exp(-d^2 / (2 kappa^2))
with d their geodesic distance on the body; kappa = 0.255 (Guler et al. 2018). A point
predicted as background scores 0. A person's GPS is the mean over its annotated points.

detectron2's newer DensePose evaluator normalises per body region instead: kappa is the
mean geodesic distance of the ground-truth point's region (torso, hands, feet, upper
legs, lower legs, upper arms, lower arms, head), ``PER_PART_KAPPA`` here.
"""

from __future__ import annotations

import torch

from mobile_densepose.data.body import BodySurface
from mobile_densepose.data.smpl_geodesics import MeshGeodesics
from mobile_densepose.kernels.nearest_chart_vertex import nearest_chart_vertex

KAPPA = 0.255
"""DensePose's normalising geodesic distance."""

REGION_KAPPA = (0.351, 0.107, 0.126, 0.237, 0.173, 0.142, 0.128, 0.150)
"""Mean geodesic distance (m, on SMPL) of torso, hands, feet, upper legs, lower legs,
upper arms, lower arms, head: the per-region kappas of detectron2's DensePose evaluator."""
PART_REGION = (1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 7, 8, 8)
"""Region (1..8) of each fine part 1..24."""
PER_PART_KAPPA = torch.tensor([0.0] + [REGION_KAPPA[r - 1] for r in PART_REGION])
"""(25,) kappa of each fine part (index 0, background, unused)."""


class GeodesicScorer:
    """Maps chart points to surface vertices and scores pairs by GPS.

    Args:
        surface: the body surface (vertex charts, UVs, geodesic table).
        kappa: GPS width (ignored with ``per_part_kappa``).
        per_part_kappa: use the ground-truth point's region kappa (``PER_PART_KAPPA``).
        implementation: nearest-vertex backend ('auto', 'torch', 'triton').
        device: where the lookups run.
    """

    def __init__(
        self,
        surface: BodySurface,
        kappa: float = KAPPA,
        implementation: str = "auto",
        device: str = "cpu",
        per_part_kappa: bool = False,
    ) -> None:
        self.parts = torch.as_tensor(surface.parts, device=device)
        self.uv = torch.as_tensor(surface.uv, dtype=torch.float32, device=device)
        self.mesh = surface.geodesic if isinstance(surface.geodesic, MeshGeodesics) else None
        self.geodesic = (
            None
            if self.mesh is not None
            else torch.as_tensor(surface.geodesic, dtype=torch.float32, device=device)
        )
        self.kappa = kappa
        self.part_kappa = PER_PART_KAPPA.to(device) if per_part_kappa else None
        self.implementation = implementation

    def vertices(self, parts: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
        """(P,) charts + (P, 2) UV -> (P,) vertex indices (-1 for background)."""
        dev = self.parts.device
        return nearest_chart_vertex(
            self.parts, self.uv, parts.to(dev), uv.to(dev, torch.float32), self.implementation
        )

    def distances(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """(P,) geodesic distances between surface vertices i and j (P,)."""
        if self.mesh is not None:
            return self.mesh.distances(i, j)
        assert self.geodesic is not None
        return self.geodesic[i, j]

    def scores(
        self,
        gt_parts: torch.Tensor,
        gt_uv: torch.Tensor,
        pred_parts: torch.Tensor,
        pred_uv: torch.Tensor,
    ) -> torch.Tensor:
        """Per-point GPS (P,) in [0, 1] for ground-truth vs predicted (I, U, V)."""
        g = self.vertices(gt_parts, gt_uv)
        p = self.vertices(pred_parts, pred_uv)
        ok = (g >= 0) & (p >= 0)
        d = self.distances(g.clamp(min=0), p.clamp(min=0))
        if self.part_kappa is None:
            kappa: torch.Tensor | float = self.kappa
        else:
            kappa = self.part_kappa[gt_parts.to(self.part_kappa.device).clamp(0, 24)]
        gps = torch.exp(-(d**2) / (2 * kappa**2))
        return torch.where(ok, gps, torch.zeros_like(gps))
