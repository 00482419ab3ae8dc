"""Multi-NeuS: one SDF and one colour network holding many scenes, plus NeuS's variance
(and, optionally, a NeRF++ background model with a code per scene).

The first half of the linear maps of both networks is scene-specific (low-rank in
shared bases), the rest is shared. :meth:`MultiNeuS.add_scene` appends a new scene whose
coefficients are a (weighted) average of the training scenes', the initialisation the
paper fits a new person from.
"""

from __future__ import annotations

import torch
from torch import nn

from multineus.config import MultiNeuSConfig
from multineus.model.background import BackgroundNeRF
from multineus.model.color import ColorNetwork
from multineus.model.layers import LowRankSceneLinear
from multineus.model.sdf import SDFNetwork
from multineus.model.variance import Variance


class MultiNeuS(nn.Module):
    """SDF network, colour network and variance for ``num_scenes`` scenes."""

    def __init__(self, cfg: MultiNeuSConfig, *, seed: int = 0) -> None:
        super().__init__()
        m = cfg.multi
        self.sdf_net = SDFNetwork(
            cfg.sdf,
            num_scenes=m.num_scenes,
            rank=m.rank,
            scene_layers=m.sdf_scene_layers,
            noise=m.basis_noise,
            seed=seed,
        )
        self.color_net = ColorNetwork(
            cfg.color,
            feature_dim=cfg.sdf.feature_dim,
            num_scenes=m.num_scenes,
            rank=m.rank,
            scene_layers=m.color_scene_layers,
            noise=m.basis_noise,
            seed=seed + 1,
        )
        self.variance = Variance(cfg.renderer.init_variance)
        self.background = (
            BackgroundNeRF(cfg.background, m.num_scenes) if cfg.background.enabled else None
        )

    def scene_layers(self) -> list[LowRankSceneLinear]:
        """Every scene-specific map (SDF first, then colour)."""
        return [m for m in self.modules() if isinstance(m, LowRankSceneLinear)]

    @property
    def num_scenes(self) -> int:
        """Number of scenes held."""
        layers = self.scene_layers()
        return layers[0].num_scenes if layers else 1

    def scene_parameters(self) -> list[nn.Parameter]:
        """The scene-specific parameters (coefficient tables, background codes)."""
        params = [m.coefficients for m in self.scene_layers()]
        return params + ([self.background.codes] if self.background is not None else [])

    def shared_parameters(self) -> list[nn.Parameter]:
        """Every parameter that is not a coefficient table."""
        ids = {id(p) for p in self.scene_parameters()}
        return [p for p in self.parameters() if id(p) not in ids]

    def add_scene(
        self, weights: torch.Tensor | None = None, *, from_scenes: list[int] | None = None
    ) -> int:
        """Append a scene initialised to the weighted average of existing scenes' coefficients.

        Args:
            weights: (len(from_scenes),) non-negative averaging weights (uniform if None).
            from_scenes: scenes to average (all current ones if None).

        Returns:
            the new scene's index.
        """
        scenes = list(range(self.num_scenes)) if from_scenes is None else from_scenes
        w = torch.ones(len(scenes)) if weights is None else weights.detach().float().cpu()
        if w.shape != (len(scenes),) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError(
                f"add_scene: weights must be {len(scenes)} non-negative numbers, not all 0"
            )
        w = w / w.sum()
        new = -1
        for layer in self.scene_layers():
            coeffs = layer.coefficients.detach().cpu()[scenes]
            new = layer.append_scene(w @ coeffs)
        if self.background is not None:
            self.background.append_scene(w @ self.background.codes.detach().cpu()[scenes])
        return new

    def sdf(self, x: torch.Tensor, scene: int) -> torch.Tensor:
        """(N, 3) -> (N,) signed distances of scene ``scene``."""
        return self.sdf_net.sdf(x, scene)

    def color_at(self, x: torch.Tensor, scene: int) -> torch.Tensor:
        """(N, 3) -> (N, 3) colours at (surface) points, normals from the SDF gradient."""
        _, feature, grad = self.sdf_net.with_gradient(x, scene, create_graph=False)
        view = -grad / grad.norm(dim=-1, keepdim=True).clamp_min(1e-8)
        with torch.no_grad():
            # NeuS feeds the raw SDF gradient as the normal input.
            return self.color_net(x, grad, feature, scene, view_dirs=view)
