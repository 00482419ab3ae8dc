"""Inference: an image or a video in, an IUV overlay PNG / MP4 out.

Each detection's chart maps (in its box frame) are resized to the box and pasted into
the frame: the overlay colours a body pixel by (U, V, I / 24) blended with the photo, the
classic DensePose visualisation; every other pixel is the input's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mobile_densepose.config import TrainConfig
from mobile_densepose.eval.densepose_ap import maps_to_iuv
from mobile_densepose.model.rcnn import DensePoseRCNN
from shared_utils.io.images import read_image, write_image
from shared_utils.io.video import read_video, write_video
from shared_utils.train.checkpoint import latest_checkpoint, load_checkpoint

VIDEO_SUFFIXES = (".mp4", ".gif", ".avi", ".mov", ".webm")


def load_run(run_dir: str | Path, device: str = "cpu") -> DensePoseRCNN:
    """The trained model of a run folder (config.yaml + latest checkpoint)."""
    from shared_utils.config import load_config

    run = Path(run_dir)
    cfg = load_config(TrainConfig, run / "config.yaml")
    ckpt = latest_checkpoint(run / "checkpoints")
    if ckpt is None:
        raise FileNotFoundError(f"{run / 'checkpoints'}: no checkpoint")
    model = DensePoseRCNN(cfg.model, cfg.loss)
    model.load_state_dict(load_checkpoint(ckpt, map_location=device)["model"])
    return model.to(device).eval()


def iuv_image(
    model: DensePoseRCNN, image: np.ndarray, score_thresh: float = 0.5
) -> tuple[np.ndarray, list[dict[str, torch.Tensor]]]:
    """(H, W, 3) float image -> ((H, W, 3) float IUV image (0 = background), detections)."""
    device = next(model.parameters()).device
    x = torch.from_numpy(np.ascontiguousarray(image[..., :3])).permute(2, 0, 1).float().to(device)
    with torch.no_grad():
        out = model([x])
    assert isinstance(out, list)
    det = out[0]
    h, w = image.shape[:2]
    iuv = np.zeros((h, w, 3), np.float32)
    depth = np.full((h, w), -np.inf)
    keep = torch.nonzero(det["scores"] >= score_thresh).flatten()
    if keep.numel():
        parts, u, v = maps_to_iuv(
            det["coarse"][keep], det["fine"][keep], det["u"][keep], det["v"][keep]
        )
        for k, i in enumerate(keep.tolist()):
            x1, y1, x2, y2 = (round(float(t)) for t in det["boxes"][i])
            x1, y1, x2, y2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
            if x2 <= x1 or y2 <= y1:
                continue
            stack = torch.stack([parts[k].float(), u[k], v[k]])[None]
            box = (
                F.interpolate(stack, size=(y2 - y1, x2 - x1), mode="nearest")[0]
                .permute(1, 2, 0)
                .cpu()
                .numpy()
            )
            body = box[..., 0] > 0
            score = float(det["scores"][i])
            region = depth[y1:y2, x1:x2]
            take = body & (score > region)
            iuv[y1:y2, x1:x2][take] = box[take]
            region[take] = score
    return iuv, out


def overlay(image: np.ndarray, iuv: np.ndarray, alpha: float = 0.7) -> np.ndarray:
    """Blend an IUV map over an image: body pixels coloured (U, V, I / 24)."""
    colour = np.stack([iuv[..., 1], iuv[..., 2], iuv[..., 0] / 24.0], axis=-1)
    body = (iuv[..., 0] > 0)[..., None]
    return np.where(body, (1 - alpha) * image[..., :3] + alpha * colour, image[..., :3]).astype(
        np.float32
    )


def infer_path(
    model: DensePoseRCNN, src: str | Path, dst: str | Path, score_thresh: float = 0.5
) -> int:
    """Image or video file -> overlay PNG/MP4 at dst; returns the number of frames written."""
    src, dst = Path(src), Path(dst)
    if src.suffix.lower() in VIDEO_SUFFIXES:
        frames, fps = read_video(src)
        out = [
            overlay(f / 255.0, iuv_image(model, f / 255.0, score_thresh)[0])
            for f in frames.astype(np.float32)
        ]
        write_video(dst, (np.clip(np.stack(out), 0, 1) * 255).astype(np.uint8), fps)
        return len(out)
    image = read_image(src)[..., :3]
    write_image(dst, overlay(image, iuv_image(model, image, score_thresh)[0]))
    return 1
