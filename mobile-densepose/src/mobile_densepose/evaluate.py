"""Evaluate a detector on a DensePose-COCO folder: box AP and DensePose AP (GPS).

The geodesic table comes from a local ``.npz`` (fields ``parts`` (N,), ``uv`` (N, 2),
``geodesic`` (N, N)): the synthetic sets ship their own (``body_surface.npz``); for
DensePose-COCO, ``mobile-densepose convert-geodesics`` builds one from the official
evaluator's SMPL files (its distances stay memory-mapped).
"""

from __future__ import annotations

import numpy as np
import torch

from mobile_densepose.data.body import BodySurface
from mobile_densepose.data.dataset import DensePoseDataset
from mobile_densepose.eval.densepose_ap import (
    DensePoseDetection,
    PairScores,
    box_ap,
    densepose_ap,
    maps_to_iuv,
    mean_gps,
)
from mobile_densepose.eval.gps import GeodesicScorer
from mobile_densepose.model.rcnn import DensePoseRCNN


@torch.no_grad()
def predict(
    model: DensePoseRCNN,
    dataset: DensePoseDataset,
    max_images: int | None = None,
    batch_size: int = 4,
) -> list[DensePoseDetection]:
    """Run the detector on (up to max_images of) a dataset -> DensePoseDetections."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    n = len(dataset) if max_images is None else min(max_images, len(dataset))
    dets: list[DensePoseDetection] = []
    for start in range(0, n, batch_size):
        items = [dataset[i] for i in range(start, min(n, start + batch_size))]
        outputs = model([img.to(device) for img, _ in items])
        assert isinstance(outputs, list)
        for (_, target), out in zip(items, outputs):
            if out["boxes"].shape[0] == 0:
                continue
            parts, u, v = maps_to_iuv(out["coarse"], out["fine"], out["u"], out["v"])
            for k in range(out["boxes"].shape[0]):
                dets.append(
                    DensePoseDetection(
                        int(target["image_id"]),
                        out["boxes"][k].cpu().numpy().astype(np.float64),
                        float(out["scores"][k]),
                        parts[k].cpu().numpy(),
                        u[k].cpu().numpy(),
                        v[k].cpu().numpy(),
                    )
                )
    model.train(was_training)
    return dets


def evaluate(
    model: DensePoseRCNN,
    dataset: DensePoseDataset,
    surface: BodySurface,
    max_images: int | None = None,
    per_part_kappa: bool = False,
) -> dict[str, float]:
    """Box AP, DensePose AP and mean GPS (percent) on a dataset.

    ``per_part_kappa``: GPS with the per-region kappas of detectron2's evaluator.

    Keys: box_AP*, dp_AP* (GPS), dpm_AP* (GPSm; only when every annotated person has
    ``dp_masks``), dp_mean_GPS, detections_per_image.
    """
    n = len(dataset) if max_images is None else min(max_images, len(dataset))
    dets = predict(model, dataset, n)
    records = dataset.records[:n]
    device = str(next(model.parameters()).device)
    scorer = GeodesicScorer(surface, device=device, per_part_kappa=per_part_kappa)
    pairs = PairScores(dets, scorer)  # GPS of each pair computed once for all three metrics
    metrics = {f"box_{k}": v for k, v in box_ap(records, dets).items()}
    gps = densepose_ap(records, dets, scorer, pairs=pairs)
    metrics |= {f"dp_{k}": v for k, v in gps.items()}
    if all(p.dp_masks is not None for r in records for p in r.people if p.has_dp):
        gpsm = densepose_ap(records, dets, scorer, overlap="gpsm", pairs=pairs)
        metrics |= {f"dpm_{k}": v for k, v in gpsm.items()}
    metrics["dp_mean_GPS"] = mean_gps(records, dets, scorer, pairs=pairs)
    metrics["detections_per_image"] = len(dets) / max(n, 1)
    return metrics
