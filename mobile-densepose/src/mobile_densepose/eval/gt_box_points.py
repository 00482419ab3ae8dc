"""DensePose head quality on ground-truth boxes, scored at the annotated points.

Detection is bypassed: every annotated person's ground-truth box is the RoI, the network
core (:class:`mobile_densepose.export.ExportCore`) gives the head's fine part logits I
(25 = background + 24 charts) and the per-chart U, V maps on that RoI's grid, and each
annotated point is looked up exactly as the training losses do: its (dp_x, dp_y) is moved
into the RoI by :func:`mobile_densepose.targets.point_targets` and the maps are sampled
bilinearly there by :func:`mobile_densepose.targets.sample_maps`. Two numbers come out:

* ``part_accuracy``: fraction of annotated points whose argmax over the 25 part logits is
  the annotated part (chance 1/25 for a uniform guess);
* ``uv_error``: mean |U - U*| + |V - V*| over the points whose part is right, U and V
  read from the annotated (= predicted) chart's channel (NaN when no point is right);
* ``mean_part_recall``: part accuracy averaged over the annotated parts (a constant
  guess scores 1 / number of annotated parts however skewed the parts are);
* ``majority_rate``: the part accuracy of always answering the most common annotated
  part, the bar a head that learned only the part prior reaches.

Unlike the DensePose AP, which needs a detection and a GPS above 0.5 before it moves off
zero, these are smooth and move within a few dozen training steps.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from mobile_densepose.export import ExportCore
from mobile_densepose.model.rcnn import DensePoseRCNN
from mobile_densepose.targets import PointTargets, point_targets, sample_maps


def gt_box_rois(targets: Sequence[dict[str, torch.Tensor]]) -> tuple[torch.Tensor, PointTargets]:
    """Ground-truth boxes of annotated people as RoIs, and their points in RoI frames.

    Args:
        targets: per image target dicts (``boxes`` in the network's pixels, ``has_dp``,
            ``dp_instance``, ``dp_xy``, ``dp_I``, ``dp_uv``; see
            :mod:`mobile_densepose.data.dataset`).

    Returns:
        (R, 5) RoIs (batch index, x1y1x2y2), one per person with DensePose points, and
        the points mapped into them by :func:`~mobile_densepose.targets.point_targets`
        (``roi_index`` indexes the returned RoIs).
    """
    rois, roi_idx, coords, parts, uv = [], [], [], [], []
    offset = 0
    for img, tgt in enumerate(targets):
        for key in ("boxes", "has_dp", "dp_instance", "dp_xy", "dp_I", "dp_uv"):
            if key not in tgt:
                raise KeyError(f"gt_box_rois: target of image {img} has no field {key!r}")
        people = torch.nonzero(tgt["has_dp"]).flatten()
        if people.numel() == 0:
            continue
        boxes = tgt["boxes"][people]
        pt = point_targets(
            boxes, tgt["boxes"], tgt["dp_instance"], tgt["dp_xy"], tgt["dp_I"], tgt["dp_uv"], people
        )
        rois.append(torch.cat([torch.full_like(boxes[:, :1], float(img)), boxes], dim=1))
        roi_idx.append(pt.roi_index + offset)
        coords.append(pt.coords)
        parts.append(pt.parts)
        uv.append(pt.uv)
        offset += boxes.shape[0]
    if not rois:
        raise ValueError("gt_box_rois: no person with DensePose points in these targets")
    points = PointTargets(torch.cat(roi_idx), torch.cat(coords), torch.cat(parts), torch.cat(uv))
    return torch.cat(rois), points


def score_points(
    fine: torch.Tensor, u: torch.Tensor, v: torch.Tensor, points: PointTargets
) -> dict[str, float]:
    """Part accuracy and U/V error of head outputs at annotated points.

    Args:
        fine: (R, 25, S, S) part logits I.
        u: (R, 25, S, S) U per chart.
        v: (R, 25, S, S) V per chart.
        points: annotated points in the RoIs' normalised frames.

    Returns:
        {"part_accuracy", "uv_error", "mean_part_recall", "majority_rate", "n_points",
        "n_correct"} (see the module docstring).
    """
    if not fine.shape[:2] == u.shape[:2] == v.shape[:2] or fine.shape[0] == 0:
        raise ValueError(
            f"score_points: fine {tuple(fine.shape)}, u {tuple(u.shape)}, v {tuple(v.shape)} "
            "must share (R, C) with R > 0"
        )
    n = int(points.parts.numel())
    if n == 0:
        raise ValueError("score_points: no annotated points to score")
    pred = sample_maps(fine, points.roi_index, points.coords).argmax(dim=1)
    right = pred == points.parts
    chart = points.parts[:, None]
    u_at = sample_maps(u, points.roi_index, points.coords).gather(1, chart)[:, 0]
    v_at = sample_maps(v, points.roi_index, points.coords).gather(1, chart)[:, 0]
    err = (u_at - points.uv[:, 0]).abs() + (v_at - points.uv[:, 1]).abs()
    n_right = int(right.sum())
    counts = torch.bincount(points.parts, minlength=fine.shape[1]).double()
    hits = torch.bincount(points.parts[right], minlength=fine.shape[1]).double()
    seen = counts > 0
    return {
        "part_accuracy": n_right / n,
        "uv_error": float(err[right].mean()) if n_right else float("nan"),
        "mean_part_recall": float((hits[seen] / counts[seen]).mean()),
        "majority_rate": float(counts.max()) / n,
        "n_points": n,
        "n_correct": n_right,
    }


def gt_box_point_scores(
    model: DensePoseRCNN,
    items: Sequence[tuple[torch.Tensor, dict[str, torch.Tensor]]],
    batch_size: int = 4,
) -> dict[str, float]:
    """Score the model's DensePose head on ground-truth boxes (detection bypassed).

    Args:
        model: the detector (put in eval mode for the call, then restored).
        items: ``(image (3, H, W) in [0, 1], target)`` pairs, e.g. a
            :class:`~mobile_densepose.data.dataset.DensePoseDataset`.
        batch_size: images per forward pass.

    Returns:
        :func:`score_points`' dict over all items' annotated points.
    """
    was_training = model.training
    core = ExportCore(model).eval()
    device = next(model.parameters()).device
    outs: dict[str, list[torch.Tensor]] = {"fine": [], "u": [], "v": []}
    pts: dict[str, list[torch.Tensor]] = {"roi": [], "t": [], "i": [], "uv": []}
    offset = 0
    try:
        model.eval()
        with torch.no_grad():
            for start in range(0, len(items), batch_size):
                batch = [items[k] for k in range(start, min(start + batch_size, len(items)))]
                images = [b[0].to(device) for b in batch]
                targets = [{k: t.to(device) for k, t in b[1].items()} for b in batch]
                # resize + normalise + pad, moving the boxes into the network's pixels
                image_list, targets_net = model.transform(images, targets)
                assert targets_net is not None
                if not any(bool(t["has_dp"].any()) for t in targets_net):
                    continue
                rois, points = gt_box_rois(targets_net)
                _, _, _, fine, u, v = core(image_list.tensors, rois)[:6]
                outs["fine"].append(fine)
                outs["u"].append(u)
                outs["v"].append(v)
                pts["roi"].append(points.roi_index + offset)
                pts["t"].append(points.coords)
                pts["i"].append(points.parts)
                pts["uv"].append(points.uv)
                offset += rois.shape[0]
    finally:
        model.train(was_training)
    if not outs["fine"]:
        raise ValueError("gt_box_point_scores: no person with DensePose points in the items")
    points = PointTargets(*(torch.cat(pts[k]) for k in ("roi", "t", "i", "uv")))
    return score_points(torch.cat(outs["fine"]), torch.cat(outs["u"]), torch.cat(outs["v"]), points)
