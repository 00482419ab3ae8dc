"""DensePose training targets: annotated points and part masks moved into RoI frames.

DensePose-COCO stores each person's points as (dp_x, dp_y) in a 256x256 frame spanning
its ground-truth box, so image pixel x = x0 + dp_x / 256 * w (and likewise y), and its
coarse part masks as a 256x256 label map in the same frame. A RoI (proposal box) of side
S x S heatmap pixels sees an image point x at the normalised RoI coordinate
t = (x - rx0) / rw in [0, 1]; heatmap pixel j covers t in [j / S, (j + 1) / S) (the
RoIAlign ``aligned=True`` convention), so the point falls in column floor(t S).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class PointTargets:
    """Annotated points that fall inside their RoIs."""

    roi_index: torch.Tensor
    """RoI of each point (P,) int64."""
    coords: torch.Tensor
    """Normalised RoI coordinates (t_x, t_y) in [0, 1] (P, 2)."""
    parts: torch.Tensor
    """Fine part index I in 1..24 (P,) int64."""
    uv: torch.Tensor
    """(U, V) in [0, 1] (P, 2)."""


def box_frame_to_image(points_256: torch.Tensor, boxes: torch.Tensor) -> torch.Tensor:
    """(P, 2) points in the 256x256 box frame + (P, 4) x1y1x2y2 boxes -> (P, 2) image pixels."""
    wh = boxes[:, 2:] - boxes[:, :2]
    return boxes[:, :2] + points_256 / 256.0 * wh


def image_to_roi(points: torch.Tensor, rois: torch.Tensor) -> torch.Tensor:
    """(P, 2) image pixels + (P, 4) RoI boxes -> (P, 2) normalised RoI coordinates."""
    wh = (rois[:, 2:] - rois[:, :2]).clamp(min=1e-6)
    return (points - rois[:, :2]) / wh


def point_targets(
    rois: torch.Tensor,
    gt_boxes: torch.Tensor,
    point_instance: torch.Tensor,
    points_256: torch.Tensor,
    parts: torch.Tensor,
    uv: torch.Tensor,
    roi_gt: torch.Tensor,
) -> PointTargets:
    """Points of each RoI's matched person, in that RoI's frame.

    Args:
        rois: (R, 4) RoI boxes in image pixels.
        gt_boxes: (G, 4) ground-truth boxes of the image.
        point_instance: (P,) ground-truth index of each annotated point.
        points_256: (P, 2) (dp_x, dp_y) in the 256x256 box frame.
        parts: (P,) fine part I (1..24).
        uv: (P, 2) (U, V).
        roi_gt: (R,) ground-truth index matched to each RoI.

    Returns:
        PointTargets for the (RoI, point) pairs where the point's person is the RoI's
        match and the point lies inside the RoI.
    """
    same = roi_gt[:, None] == point_instance[None, :]  # (R, P)
    roi_idx, pt_idx = torch.nonzero(same, as_tuple=True)
    image_pts = box_frame_to_image(points_256[pt_idx], gt_boxes[point_instance[pt_idx]])
    t = image_to_roi(image_pts, rois[roi_idx])
    inside = ((t >= 0) & (t < 1)).all(dim=1)
    return PointTargets(roi_idx[inside], t[inside], parts[pt_idx[inside]], uv[pt_idx[inside]])


def mask_targets(
    rois: torch.Tensor,
    gt_boxes: torch.Tensor,
    gt_masks: torch.Tensor,
    roi_gt: torch.Tensor,
    size: int,
) -> torch.Tensor:
    """Coarse part labels on each RoI's S x S grid (nearest lookup of pixel centres).

    Args:
        rois: (R, 4) RoI boxes.
        gt_boxes: (G, 4) ground-truth boxes.
        gt_masks: (G, 256, 256) int64 part labels (0 = background, 1..14) in the box frame.
        roi_gt: (R,) matched ground truth per RoI.
        size: S.

    Returns:
        (R, S, S) int64 labels; pixels outside the ground-truth box are background.
    """
    device = rois.device
    centres = (torch.arange(size, device=device, dtype=rois.dtype) + 0.5) / size  # (S,)
    r, g = rois, gt_boxes[roi_gt]
    xs = r[:, None, 0] + centres[None] * (r[:, None, 2] - r[:, None, 0])  # (R, S) image x
    ys = r[:, None, 1] + centres[None] * (r[:, None, 3] - r[:, None, 1])
    mx = (xs - g[:, None, 0]) / (g[:, None, 2] - g[:, None, 0]).clamp(min=1e-6) * 256.0
    my = (ys - g[:, None, 1]) / (g[:, None, 3] - g[:, None, 1]).clamp(min=1e-6) * 256.0
    ix, iy = torch.floor(mx).long(), torch.floor(my).long()  # (R, S)
    valid = ((ix >= 0) & (ix < 256))[:, None, :] & ((iy >= 0) & (iy < 256))[:, :, None]
    masks = gt_masks[roi_gt]  # (R, 256, 256)
    rows = iy.clamp(0, 255)[:, :, None].expand(-1, -1, size)
    cols = ix.clamp(0, 255)[:, None, :].expand(-1, size, -1)
    batch = torch.arange(rois.shape[0], device=device)[:, None, None].expand(-1, size, size)
    labels = masks[batch, rows, cols]
    return torch.where(valid, labels, torch.zeros_like(labels))


def sample_maps(maps: torch.Tensor, roi_index: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear values of per-RoI maps at normalised RoI coordinates.

    Args:
        maps: (R, C, H, W).
        roi_index: (P,) RoI of each point.
        coords: (P, 2) (t_x, t_y) in [0, 1]; pixel j's centre is at t = (j + 0.5) / W.

    Returns:
        (P, C) values (coordinates clamped to the outer pixel centres).
    """
    _, _, h, w = maps.shape
    x = (coords[:, 0] * w - 0.5).clamp(0, w - 1)
    y = (coords[:, 1] * h - 0.5).clamp(0, h - 1)
    x0, y0 = (
        x.floor().long().clamp(max=w - 2 if w > 1 else 0),
        y.floor().long().clamp(max=h - 2 if h > 1 else 0),
    )
    x1, y1 = (x0 + 1).clamp(max=w - 1), (y0 + 1).clamp(max=h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]

    def at(yy: torch.Tensor, xx: torch.Tensor) -> torch.Tensor:
        # advanced indexing on (R, C, H, W) with (P,) indices in dims 0, 2, 3 -> (P, C)
        return maps[roi_index, :, yy, xx]

    top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
    bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
    return top * (1 - fy) + bottom * fy
