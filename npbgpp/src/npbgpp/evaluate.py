"""Evaluate on held-out views: PSNR / SSIM (LPIPS with local weights) and time-to-render.

For every test scene the modeling stage runs once on its input views (timed), then each
held-out view is rendered (timed) and compared with the true image. The same points
drawn with their mean input colour are scored alongside as the reference to beat.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from npbgpp.data.scene import Scene
from npbgpp.model.baseline import mean_point_colors, render_point_colors
from npbgpp.model.pipeline import NPBGPP, SceneDescriptors
from shared_utils.metrics.image import mask_iou, psnr, ssim
from shared_utils.metrics.lpips import LPIPS


@dataclass
class SceneResult:
    """Scores of one test scene."""

    name: str
    psnr: float
    ssim: float
    baseline_psnr: float
    baseline_ssim: float
    modeling_s: float
    """Wall time of the modeling stage over all input views."""
    render_s: float
    """Mean wall time of one rendered view."""
    num_inputs: int
    lpips: float | None = None
    """LPIPS (AlexNet, v0.1) when local weights were given."""
    baseline_lpips: float | None = None
    """LPIPS of the mean-colour point renders."""
    mask_iou: float | None = None
    """Mean IoU of the predicted foreground (mask logit > 0) with the held-out masks, when
    the model predicts a mask and the scene has masks."""
    renders: list[torch.Tensor] = field(default_factory=list, repr=False)
    """(3, H, W) renders of the held-out views."""
    baselines: list[torch.Tensor] = field(default_factory=list, repr=False)
    """(3, H, W) mean-colour point renders of the held-out views."""


def model_scene(
    model: NPBGPP, scene: Scene, device: str | torch.device = "cpu"
) -> SceneDescriptors:
    """Run the modeling stage over every view of ``scene``."""
    points = scene.point_tensor(device)
    views = ((scene.image_tensor(i, device), scene.camera(i, device)) for i in range(len(scene)))
    return model.model_scene(points, views)


@torch.no_grad()
def evaluate_scene(
    model: NPBGPP,
    inputs: Scene,
    heldout: Scene,
    device: str | torch.device = "cpu",
    lpips: LPIPS | None = None,
) -> SceneResult:
    """Model ``inputs`` without fitting, render the views of ``heldout``, score both methods.

    ``lpips``: an LPIPS module built from local weights (``None``: no LPIPS column).
    """
    model.eval()
    t0 = time.perf_counter()
    desc = model_scene(model, inputs, device)
    modeling_s = time.perf_counter() - t0
    points = inputs.point_tensor(device)
    views = [(inputs.image_tensor(i, device), inputs.camera(i, device)) for i in range(len(inputs))]
    colors, seen = mean_point_colors(points, views, visibility_scale=model.cfg.visibility_scale)
    renders, bases, targets, logits = [], [], [], []
    t1 = time.perf_counter()
    for i in range(len(heldout)):
        image, logit = model.render_with_mask(desc, heldout.camera(i, device))
        renders.append(image.clamp(0, 1))
        logits.append(logit)
    render_s = (time.perf_counter() - t1) / max(1, len(heldout))
    mean_mask_iou = None
    if heldout.masks is not None and model.cfg.predict_mask:
        ious = []
        for i, logit in enumerate(logits):
            assert logit is not None  # predict_mask: every render has a mask logit
            ious.append(mask_iou(logit[0] > 0, heldout.mask_tensor(i, device)[0] > 0.5))
        mean_mask_iou = sum(ious) / len(ious)
    for i in range(len(heldout)):
        cam = heldout.camera(i, device)
        bases.append(render_point_colors(points[seen], colors[seen], cam))
        targets.append(heldout.image_tensor(i, device))
    pred, base, gt = torch.stack(renders), torch.stack(bases), torch.stack(targets)
    perceptual: dict[str, float | None] = {"lpips": None, "baseline_lpips": None}
    if lpips is not None:
        lpips = lpips.to(pred.device)
        perceptual = {
            "lpips": float(lpips(pred, gt).mean()),
            "baseline_lpips": float(lpips(base, gt).mean()),
        }
    return SceneResult(
        name=inputs.name,
        psnr=float(psnr(pred, gt).mean()),
        ssim=float(ssim(pred, gt).mean()),
        baseline_psnr=float(psnr(base, gt).mean()),
        baseline_ssim=float(ssim(base, gt).mean()),
        modeling_s=modeling_s,
        render_s=render_s,
        num_inputs=len(inputs),
        **perceptual,
        mask_iou=mean_mask_iou,
        renders=[r.cpu() for r in renders],
        baselines=[b.cpu() for b in bases],
    )


def summarize(results: Sequence[SceneResult]) -> dict[str, float]:
    """Means over scenes, including time-to-render = modeling + one render."""
    n = max(1, len(results))

    def mean(key: str) -> float:
        return sum(float(getattr(r, key)) for r in results) / n

    out = {k: mean(k) for k in ("psnr", "ssim", "baseline_psnr", "baseline_ssim")}
    if results and all(r.lpips is not None for r in results):
        out["lpips"], out["baseline_lpips"] = mean("lpips"), mean("baseline_lpips")
    if results and all(r.mask_iou is not None for r in results):
        out["mask_iou"] = mean("mask_iou")
    out["modeling_s"] = mean("modeling_s")
    out["modeling_s_per_view"] = sum(r.modeling_s / r.num_inputs for r in results) / n
    out["render_s"] = mean("render_s")
    out["time_to_render_s"] = out["modeling_s"] + out["render_s"]
    return out


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def table3_rows(dataset: str, summary: dict[str, float]) -> tuple[list[str], list[list[object]]]:
    """Rows in the layout of the paper's Table 3 (LPIPS: None without local weights)."""
    headers = ["Method", "Per-scene optimisation", f"{dataset} PSNR", "SSIM", "LPIPS"]
    rows: list[list[object]] = [
        ["NPBG++ (paper, NeRF-Synthetic)", "no", 26.06, 0.936, 0.071],
        [
            "NPBG++ (ours)",
            "no",
            round(summary["psnr"], 2),
            round(summary["ssim"], 3),
            _rounded(summary.get("lpips")),
        ],
        [
            "points, mean input colour",
            "no",
            round(summary["baseline_psnr"], 2),
            round(summary["baseline_ssim"], 3),
            _rounded(summary.get("baseline_lpips")),
        ],
    ]
    return headers, rows
