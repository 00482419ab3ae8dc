"""Per-scene fine-tuning variants of NPBG++ (paper Table 3, "ft" rows).

- ``ft``: model the scene once, then optimise the coefficients (beta, beta0) of every
  point together with the refiner on the scene's own views; the feature extractor and
  the basis MLP stay frozen.
- ``ft-system``: optimise the feature extractor, the basis MLP and the refiner on the
  scene (each step models the scene from the other views and renders a target crop),
  then model the scene with all views.

Both take the crop size, the number of source views and the image losses of a training
:class:`~npbgpp.config.Config` (default: the tiny preset): L1 on downsampled images plus
the VGG-19 perceptual loss when ``loss.perceptual_weight > 0`` (its weights file is then
required) or 1 - SSIM otherwise, on random crops of the scene's input views. The
self-supervised and Dice terms of training are not used. Everything runs on the device
of the model.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from npbgpp.config import Config, preset
from npbgpp.data.scene import Scene
from npbgpp.evaluate import model_scene
from npbgpp.model.pipeline import NPBGPP, SceneDescriptors
from npbgpp.train import SceneLoss

VARIANTS = ("ft", "ft-system")


def finetune(
    model: NPBGPP,
    scene: Scene,
    variant: str = "ft",
    *,
    steps: int = 100,
    lr: float = 1e-3,
    cfg: Config | None = None,
    seed: int = 0,
) -> tuple[NPBGPP, SceneDescriptors]:
    """Fine-tune a copy of ``model`` on ``scene``; returns it and the scene's descriptors.

    Args:
        model: the trained model; the copy and the descriptors live on its device.
        scene: the scene to fit (its input views).
        variant: ``"ft"`` or ``"ft-system"``.
        steps: optimiser steps (one target crop each).
        lr: Adam learning rate.
        cfg: training config giving ``crop_size``, ``source_views`` (ft-system) and the
            image losses (``loss``); default: the tiny preset (32 px crops, L1 + 0.05 SSIM).
        seed: seed of the crop and source-view choices.

    Raises:
        ValueError: unknown variant, or ``loss.perceptual_weight > 0`` without a VGG-19 file.
    """
    if variant not in VARIANTS:
        raise ValueError(f"finetune: variant must be one of {VARIANTS}, got {variant!r}")
    cfg = preset("tiny") if cfg is None else cfg
    losses = SceneLoss([scene], cfg)  # checks the loss config, loads VGG-19 if configured
    device = next(model.parameters()).device
    tuned = copy.deepcopy(model).train()
    g = torch.Generator().manual_seed(seed)
    points = scene.point_tensor(device)
    n = len(scene)
    params: list[nn.Parameter]
    if variant == "ft":
        with torch.no_grad():
            base = model_scene(tuned, scene, device)
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
    ch, cw = min(cfg.crop_size, h), min(cfg.crop_size, w)
    for _ in range(steps):
        t = int(torch.randint(0, n, (1,), generator=g))
        y0 = int(torch.randint(0, h - ch + 1, (1,), generator=g))
        x0 = int(torch.randint(0, w - cw + 1, (1,), generator=g))
        cam = scene.camera(t, device).crop(x0, y0, ch, cw)
        target = scene.image_tensor(t, device)[:, y0 : y0 + ch, x0 : x0 + cw]
        if variant == "ft":
            desc = SceneDescriptors(base.points, beta0, beta, base.source_index)
        else:
            others = [v for v in range(n) if v != t] or [t]
            pick = torch.randperm(len(others), generator=g)[: cfg.source_views].tolist()
            views = [
                (scene.image_tensor(others[k], device), scene.camera(others[k], device))
                for k in pick
            ]
            desc = tuned.model_scene(points, views)
        pred = tuned.render(desc, cam)[None]
        loss = losses.weighted(losses.image_terms(pred, target[None])).to(device)
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
            final = model_scene(tuned, scene, device)
    return tuned, final
