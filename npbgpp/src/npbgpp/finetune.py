"""Per-scene fine-tuning variants of NPBG++ (paper Table 3, "ft" rows).

- ``ft``: model the scene once, then optimise the coefficients (beta, beta0) of every
  point together with the refiner on the scene's own views.
- ``ft-system``: optimise the feature extractor, the basis MLP and the refiner on the
  scene (each step models the scene from the other views and renders a target crop),
  then model the scene with all views.

Both use the training losses (L1 on downsampled images + SSIM / perceptual) on random
crops of the scene's input views.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from npbgpp.data.scene import Scene
from npbgpp.evaluate import model_scene
from npbgpp.losses import downsampled_l1, ssim_loss
from npbgpp.model.pipeline import NPBGPP, SceneDescriptors

VARIANTS = ("ft", "ft-system")


def _crop_loss(pred: torch.Tensor, target: torch.Tensor, ssim_weight: float) -> torch.Tensor:
    loss = downsampled_l1(pred[None], target[None], 4)
    if ssim_weight > 0 and min(pred.shape[-2:]) >= 11:
        loss = loss + ssim_weight * ssim_loss(pred[None], target[None])
    return loss


def finetune(
    model: NPBGPP,
    scene: Scene,
    variant: str = "ft",
    *,
    steps: int = 100,
    lr: float = 1e-3,
    crop_size: int = 32,
    source_views: int = 3,
    ssim_weight: float = 0.05,
    seed: int = 0,
) -> tuple[NPBGPP, SceneDescriptors]:
    """Fine-tune a copy of ``model`` on ``scene``; returns it and the scene's descriptors."""
    if variant not in VARIANTS:
        raise ValueError(f"finetune: variant must be one of {VARIANTS}, got {variant!r}")
    tuned = copy.deepcopy(model).train()
    g = torch.Generator().manual_seed(seed)
    points = scene.point_tensor()
    n = len(scene)
    params: list[nn.Parameter]
    if variant == "ft":
        with torch.no_grad():
            base = model_scene(tuned, scene)
        beta0 = nn.Parameter(base.beta0.clone())
        beta = nn.Parameter(base.beta.clone())
        params = [beta0, beta, *tuned.refiner.parameters()]
    else:
        params = [
            *tuned.extractor.parameters(),
            *tuned.basis.parameters(),
            *tuned.refiner.parameters(),
        ]
    opt = torch.optim.Adam(params, lr=lr)
    h, w = scene.images.shape[1:3]
    ch, cw = min(crop_size, h), min(crop_size, w)
    for _ in range(steps):
        t = int(torch.randint(0, n, (1,), generator=g))
        y0 = int(torch.randint(0, h - ch + 1, (1,), generator=g))
        x0 = int(torch.randint(0, w - cw + 1, (1,), generator=g))
        cam = scene.camera(t).crop(x0, y0, ch, cw)
        target = scene.image_tensor(t)[:, y0 : y0 + ch, x0 : x0 + cw]
        if variant == "ft":
            desc = SceneDescriptors(base.points, beta0, beta, base.source_index)
        else:
            others = [v for v in range(n) if v != t] or [t]
            pick = torch.randperm(len(others), generator=g)[:source_views].tolist()
            views = [(scene.image_tensor(others[k]), scene.camera(others[k])) for k in pick]
            desc = tuned.model_scene(points, views)
        loss = _crop_loss(tuned.render(desc, cam), target, ssim_weight)
        opt.zero_grad()
        loss.backward()
        opt.step()
    tuned.eval()
    if variant == "ft":
        final = SceneDescriptors(
            base.points, beta0.detach().clone(), beta.detach().clone(), base.source_index
        )
    else:
        with torch.no_grad():
            final = model_scene(tuned, scene)
    return tuned, final
