"""Evaluate on held-out views: PSNR / SSIM (LPIPS with local weights) and time-to-render.

For every test scene the modeling stage runs once on its input views (timed), then each
held-out view is rendered (timed) and compared with the true image. The same points
drawn with their mean input colour are scored alongside as the reference to beat. On
scenes with masks, the raw points' coverage (plain and 3x3-dilated) is scored as a
foreground mask alongside the mask-predicting model's ``mask_iou``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from npbgpp.data.scene import Scene
from npbgpp.model.baseline import mean_point_colors, point_coverage, render_point_colors
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
    coverage_iou: float | None = None
    """Mean IoU of the raw points' coverage (pixels hit by a projected point) with the
    held-out masks, when the scene has masks: the mask reference that needs no learning."""
    coverage_dilated_iou: float | None = None
    """The same after one 3x3 dilation of the coverage."""
    renders: list[torch.Tensor] = field(default_factory=list, repr=False)
    """(3, H, W) renders of the held-out views."""
    baselines: list[torch.Tensor] = field(default_factory=list, repr=False)
    """(3, H, W) mean-colour point renders of the held-out views."""
    pred_masks: list[torch.Tensor] = field(default_factory=list, repr=False)
    """(H, W) bool predicted foregrounds (mask logit > 0), when ``mask_iou`` is set."""
    coverages: list[torch.Tensor] = field(default_factory=list, repr=False)
    """(H, W) bool point coverages (undilated), when the scene has masks."""


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
    mean_mask_iou = coverage_iou = coverage_dilated_iou = None
    pred_masks: list[torch.Tensor] = []
    coverages: list[torch.Tensor] = []
    if heldout.masks is not None:
        truths = [heldout.mask_tensor(i, device)[0] > 0.5 for i in range(len(heldout))]
        if model.cfg.predict_mask:
            for logit in logits:
                assert logit is not None  # predict_mask: every render has a mask logit
                pred_masks.append(logit[0] > 0)
            mean_mask_iou = _mean_iou(pred_masks, truths)
        # All raw points, not only those the input views see: the reference gets every
        # point the scene has.
        dilated = []
        for i in range(len(heldout)):
            cam = heldout.camera(i, device)
            coverages.append(point_coverage(points, cam))
            dilated.append(point_coverage(points, cam, dilate=True))
        coverage_iou = _mean_iou(coverages, truths)
        coverage_dilated_iou = _mean_iou(dilated, truths)
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
        coverage_iou=coverage_iou,
        coverage_dilated_iou=coverage_dilated_iou,
        renders=[r.cpu() for r in renders],
        baselines=[b.cpu() for b in bases],
        pred_masks=[m.cpu() for m in pred_masks],
        coverages=[c.cpu() for c in coverages],
    )


def _mean_iou(preds: Sequence[torch.Tensor], truths: Sequence[torch.Tensor]) -> float:
    """Mean over views of the IoU of boolean (H, W) masks."""
    ious = [mask_iou(p, t) for p, t in zip(preds, truths, strict=True)]
    return sum(ious) / len(ious)


def summarize(results: Sequence[SceneResult]) -> dict[str, float]:
    """Means over scenes, including time-to-render = modeling + one render."""
    n = max(1, len(results))

    def mean(key: str) -> float:
        return sum(float(getattr(r, key)) for r in results) / n

    out = {k: mean(k) for k in ("psnr", "ssim", "baseline_psnr", "baseline_ssim")}
    if results and all(r.lpips is not None for r in results):
        out["lpips"], out["baseline_lpips"] = mean("lpips"), mean("baseline_lpips")
    for key in ("mask_iou", "coverage_iou", "coverage_dilated_iou"):
        if results and all(getattr(r, key) is not None for r in results):
            out[key] = mean(key)
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
