"""NPBG++ end to end: the modeling stage (views -> point descriptors) and rendering.

Modeling, once per scene and without optimisation: for every input view, align it to
the canonical orientation, extract a c-channel feature map, z-buffer the points at a
reduced resolution to find the visible ones (nearest per pixel), sample their features
bilinearly, and fold (view direction, feature) into the five running sums. At the end
solve for beta, beta0 and drop the points never seen.

Rendering, per query camera: align it, evaluate every point's descriptor for its view
direction, rasterise descriptors + a coverage mask at the refiner's scales (1, 1/2,
...), run the gated refiner and rotate the image back to the query orientation.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from npbgpp.camera import Camera
from npbgpp.config import ModelConfig
from npbgpp.kernels.rasterize import rasterize_points
from npbgpp.model.aggregation import AggregationState, BasisMLP, solve_descriptors
from npbgpp.model.alignment import Alignment, align_camera, align_image, unalign_image
from npbgpp.model.extractor import FeatureExtractor
from npbgpp.model.refiner import Refiner


@dataclass
class SceneDescriptors:
    """The output of the modeling stage: kept points and their descriptor coefficients."""

    points: torch.Tensor
    """(P, 3) world positions of the points seen in at least one view."""
    beta0: torch.Tensor
    """(P, c) mean descriptors."""
    beta: torch.Tensor
    """(P, m, c) view-dependence coefficients."""
    source_index: torch.Tensor
    """(P,) index of each kept point in the input point cloud."""


@dataclass
class ViewSamples:
    """Descriptors sampled from one view at its visible points."""

    index: torch.Tensor
    """(R,) indices of the visible points."""
    features: torch.Tensor
    """(R, c) bilinearly sampled features."""
    directions: torch.Tensor
    """(R, 3) unit view directions (camera centre -> point)."""


def sample_bilinear(feature_map: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of a (C, H, W) map at pixel coordinates uv (R, 2) -> (R, C)."""
    h, w = feature_map.shape[-2:]
    grid = torch.stack([uv[:, 0] / w * 2 - 1, uv[:, 1] / h * 2 - 1], -1).view(1, 1, -1, 2)
    out = F.grid_sample(
        feature_map[None], grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return out[0, :, 0].T


def splat(values: torch.Tensor, index_map: torch.Tensor) -> torch.Tensor:
    """Raster (C + 1, H, W) of per-point values (P, C) at an index map (H, W) + a mask channel."""
    hit = index_map >= 0
    gathered = values[index_map.clamp_min(0)] * hit[..., None].to(values.dtype)
    return torch.cat([gathered.permute(2, 0, 1), hit[None].to(values.dtype)], 0)


class NPBGPP(nn.Module):
    """Feature extractor + basis MLP + refiner, with the two stages as methods."""

    def __init__(self, cfg: ModelConfig, *, implementation: str = "auto"):
        super().__init__()
        self.cfg = cfg
        self.implementation = implementation
        self.extractor = FeatureExtractor(cfg.descriptor_dim, cfg.encoder, cfg.decoder_channels)
        self.basis = BasisMLP(
            cfg.num_basis, cfg.harmonic_frequencies, cfg.basis_hidden, cfg.basis_layers
        )
        self.refiner = Refiner(
            cfg.descriptor_dim + 1, cfg.refiner_channels, 4 if cfg.predict_mask else 3
        )
        self.up: torch.Tensor
        self.register_buffer("up", torch.tensor(cfg.up_axis, dtype=torch.float32), persistent=False)

    @property
    def scales(self) -> tuple[float, ...]:
        return tuple(0.5**s for s in range(self.cfg.num_scales))

    def _align(self, camera: Camera) -> Alignment:
        multiple = 2 ** (self.cfg.num_scales - 1)
        return align_camera(camera, self.up, multiple, enabled=self.cfg.align_views)

    # ------------------------------------------------------------------ modeling stage
    def view_samples(
        self, points: torch.Tensor, image: torch.Tensor, camera: Camera
    ) -> ViewSamples:
        """Features of the points visible in one view.

        Args:
            points: (N, 3) world points.
            image: (3, H, W) view in [0, 1].
            camera: its camera.
        """
        al = self._align(camera)
        aligned, valid = align_image(image[None], al)
        features = self.extractor(aligned)[0]
        cam = al.aligned
        uv, depth = cam.project(points)
        (winners,) = rasterize_points(
            uv,
            depth,
            cam.height,
            cam.width,
            (self.cfg.visibility_scale,),
            implementation=self.implementation,
        )
        index = torch.unique(winners[winners >= 0])
        # Only points whose pixel came from inside the original image (not the padding).
        inside = sample_bilinear(valid[0], uv[index].detach())[:, 0] > 0.99
        index = index[inside]
        return ViewSamples(
            index=index,
            features=sample_bilinear(features, uv[index]),
            directions=cam.view_directions(points[index]),
        )

    def model_scene(
        self, points: torch.Tensor, views: Iterable[tuple[torch.Tensor, Camera]]
    ) -> SceneDescriptors:
        """Fold the views into per-point descriptors (online; memory independent of views).

        Args:
            points: (N, 3) world points.
            views: (image (3, H, W), camera) pairs, in any order.
        """
        state = AggregationState.zeros(
            points.shape[0], self.cfg.descriptor_dim, self.cfg.num_basis, device=points.device
        )
        for image, camera in views:
            s = self.view_samples(points, image, camera)
            state = state.update(
                s.index, s.features, self.basis(s.directions), implementation=self.implementation
            )
        sol = solve_descriptors(state, self.cfg.ridge_alpha)
        kept = torch.nonzero(sol.kept).flatten()
        return SceneDescriptors(points[kept], sol.beta0, sol.beta, kept)

    # ----------------------------------------------------------------- rendering stage
    def render_descriptors(
        self, points: torch.Tensor, descriptors: torch.Tensor, camera: Camera
    ) -> torch.Tensor:
        """Rasterise given per-point descriptors (P, c) for ``camera`` (already aligned)
        and refine -> (3, H, W), or (4, H, W) with the mask logit when ``predict_mask``."""
        uv, depth = camera.project(points)
        maps = rasterize_points(
            uv,
            depth,
            camera.height,
            camera.width,
            self.scales,
            implementation=self.implementation,
        )
        rasters = [splat(descriptors, m)[None] for m in maps]
        return self.refiner(rasters)[0]  # type: ignore[no-any-return]

    def render(self, scene: SceneDescriptors, camera: Camera) -> torch.Tensor:
        """Render the scene from ``camera`` -> (3, H, W) in [0, 1]."""
        return self._render_all(scene, camera)[:3]

    def render_with_mask(
        self, scene: SceneDescriptors, camera: Camera
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(3, H, W) image and (1, H, W) foreground-mask logit (None without ``predict_mask``)."""
        out = self._render_all(scene, camera)
        return out[:3], (out[3:4] if self.cfg.predict_mask else None)

    def _render_all(self, scene: SceneDescriptors, camera: Camera) -> torch.Tensor:
        al = self._align(camera)
        cam = al.aligned
        h = self.basis(cam.view_directions(scene.points))
        y = torch.einsum("pm,pmc->pc", h, scene.beta) + scene.beta0
        out = self.render_descriptors(scene.points, y, cam)
        return unalign_image(out[None], al)[0]

    def render_self_supervised(
        self, points: torch.Tensor, image: torch.Tensor, camera: Camera
    ) -> torch.Tensor:
        """Render a view from descriptors sampled from that very view (the self-supervised
        term): only its visible points, with their sampled features as descriptors."""
        s = self.view_samples(points, image, camera)
        al = self._align(camera)
        out = self.render_descriptors(points[s.index], s.features, al.aligned)[:3]
        return unalign_image(out[None], al)[0]
