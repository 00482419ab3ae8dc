"""Real photos: model a calibrated stereo pair from its left photo, render the right one.

The check runs on a Middlebury 2014 scene (``load_scene(fmt="middlebury")``): the points
come from the left photo's ground-truth disparity, so geometry and cameras are exact and
only appearance is tested. Three renders of the right camera are scored against the right
photo: NPBG++ without any fitting, NPBG++ after the paper's ``ft`` fine-tuning on the left
photo alone (coefficients + refiner; the right photo is never seen), and the points in
their mean input colour (here: their left-photo colour).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from npbgpp.data.loaders import load_scene
from npbgpp.evaluate import evaluate_scene
from npbgpp.finetune import finetune
from npbgpp.model.pipeline import NPBGPP
from shared_utils.metrics.image import psnr, ssim


@dataclass
class StereoCheck:
    """Scores on the right photo of a stereo pair modeled from the left one."""

    psnr: float
    ssim: float
    ft_psnr: float
    ft_ssim: float
    baseline_psnr: float
    baseline_ssim: float
    ft_steps: int
    ft_s: float
    """Wall time of the fine-tuning."""
    num_points: int
    image_size: tuple[int, int]
    """(H, W) of the rendered views."""
    picture: np.ndarray = field(repr=False)
    """(H, 4 W, 3) float32: right photo | NPBG++ | NPBG++ ft | points in mean colour."""


def stereo_pair_check(
    model: NPBGPP,
    scene_root: str | Path,
    *,
    downscale: int = 4,
    max_points: int | None = None,
    ft_steps: int = 300,
    seed: int = 0,
) -> StereoCheck:
    """Score ``model`` on the right view of the Middlebury scene at ``scene_root``."""
    scene = load_scene(scene_root, "middlebury", downscale=downscale, max_points=max_points)
    left, right = scene.subset([0]), scene.subset([1], f"{scene.name}-right")
    plain = evaluate_scene(model, left, right)
    t0 = time.perf_counter()
    tuned, desc = finetune(model, left, "ft", steps=ft_steps, seed=seed)
    ft_s = time.perf_counter() - t0
    with torch.no_grad():
        ft_render = tuned.render(desc, right.camera(0)).clamp(0, 1)
    truth = right.image_tensor(0)
    columns = [truth, plain.renders[0], ft_render, plain.baselines[0]]
    picture = torch.cat(columns, dim=2).permute(1, 2, 0).numpy()
    return StereoCheck(
        psnr=plain.psnr,
        ssim=plain.ssim,
        ft_psnr=float(psnr(ft_render[None], truth[None])),
        ft_ssim=float(ssim(ft_render[None], truth[None])),
        baseline_psnr=plain.baseline_psnr,
        baseline_ssim=plain.baseline_ssim,
        ft_steps=ft_steps,
        ft_s=ft_s,
        num_points=len(scene.points),
        image_size=(int(truth.shape[1]), int(truth.shape[2])),
        picture=picture.astype(np.float32),
    )
