"""The trainable system: the Multi-NeuS networks plus per-scene camera refinements, and
the NeuS training loss (colour + eikonal + mask)."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import nn

from multineus.config import LossConfig, MultiNeuSConfig
from multineus.data.scenes import SceneViews
from multineus.model.cameras import CameraRefinement
from multineus.model.multineus import MultiNeuS
from multineus.render.neus import RenderResult, render_rays


class MultiNeuSSystem(nn.Module):
    """Networks + one :class:`CameraRefinement` per scene slot of the data."""

    def __init__(
        self,
        cfg: MultiNeuSConfig,
        model: MultiNeuS,
        scenes: list[SceneViews],
        *,
        refine_cameras: bool,
    ) -> None:
        super().__init__()
        if cfg.background.enabled and cfg.loss.color_on != "all":
            raise ValueError(
                "background.enabled needs loss.color_on = 'all' (the background model only "
                "learns from pixels outside the masks)"
            )
        self.cfg = cfg
        self.model = model
        self.cameras = nn.ModuleList(
            CameraRefinement(s.K, s.cam_from_world, learn=refine_cameras) for s in scenes
        )

    def render(self, scene: int, slot: int, view: torch.Tensor, uv: torch.Tensor) -> RenderResult:
        """Render pixels ``uv`` (B, 2) of views ``view`` (B,) of data slot ``slot``."""
        cams = self.cameras[slot]
        assert isinstance(cams, CameraRefinement)
        o, d = cams.rays(view, uv)
        return render_rays(self.model, scene, o, d, self.cfg.renderer)


def image_losses(
    out: RenderResult, batch: Mapping[str, torch.Tensor], cfg: LossConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """The colour loss (L1 or L2 over the foreground, or every ray with
    ``color_on = "all"``) and BCE(opacity, mask) of rendered rays against their pixels."""
    mask = batch["mask"]
    err = (out.color - batch["rgb"]).abs() if cfg.color == "l1" else (out.color - batch["rgb"]) ** 2
    region = mask if cfg.color_on == "foreground" else torch.ones_like(mask)
    color_loss = (err * region[:, None]).sum() / (3.0 * region.sum().clamp_min(1.0))
    opacity = out.opacity.clamp(1e-3, 1.0 - 1e-3)
    return color_loss, nn.functional.binary_cross_entropy(opacity, mask)


def neus_loss(
    system: nn.Module,
    batch: Mapping[str, torch.Tensor] | list[Mapping[str, torch.Tensor]],
    step: int,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Colour L1 over foreground rays (every ray with ``loss.color_on = "all"``) + eikonal +
    BCE(opacity, mask), as NeuS.

    ``batch`` is one ray batch (one scene) or a list of them (a rank's share of a global
    batch of several scenes, :func:`multineus.data.scenes.ray_batch_list`); a list gives the
    mean loss and the mean scalars of its items, so under DDP the gradient averaged over
    ranks is the gradient of the mean over the whole global batch.
    """
    if isinstance(batch, list):
        parts = [_single_loss(system, b) for b in batch]
        loss = torch.stack([p[0] for p in parts]).mean()
        return loss, {k: sum(p[1][k] for p in parts) / len(parts) for k in parts[0][1]}
    return _single_loss(system, batch)


def _single_loss(
    system: nn.Module, batch: Mapping[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, float]]:
    """:func:`neus_loss` of one ray batch of one scene."""
    assert isinstance(system, MultiNeuSSystem)
    cfg = system.cfg.loss
    out = system.render(int(batch["scene"]), int(batch["slot"]), batch["view"], batch["uv"])
    color_loss, mask_loss = image_losses(out, batch, cfg)
    loss = color_loss + cfg.eikonal * out.eikonal + cfg.mask * mask_loss
    with torch.no_grad():
        mse = ((out.color - batch["rgb"]) ** 2).mean()
        psnr = -10.0 * torch.log10(mse.clamp_min(1e-10))
    return loss, {
        "color": float(color_loss.detach()),
        "eikonal": float(out.eikonal.detach()),
        "mask": float(mask_loss.detach()),
        "psnr": float(psnr),
        "s": float(system.model.variance.inv_s().detach()),
    }
