"""Torch dataset over a DensePose-COCO folder: images + detector targets.

Each item is ``(image (3, H, W) float in [0, 1], target)`` with the target keys that
:class:`mobile_densepose.model.rcnn.DensePoseRCNN` trains on (boxes in x1y1x2y2 pixels,
labels, has_dp, dp_masks, dp_instance, dp_xy, dp_I, dp_uv) plus ``image_id``. Crowd
annotations are dropped. With a ``UVSymmetry`` the dataset also holds every image's
horizontal mirror (items ``N..2N-1``), its parts and chart coordinates relabelled.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from mobile_densepose.data.densepose_coco import ImageRecord, load_densepose_coco
from mobile_densepose.data.flip import UVSymmetry, flip_record
from shared_utils.io.images import read_image


def record_target(record: ImageRecord) -> dict[str, torch.Tensor]:
    """An ImageRecord -> the detector's target dict (see the module docstring)."""
    people = [p for p in record.people if not p.iscrowd]
    boxes = np.array(
        [[p.bbox[0], p.bbox[1], p.bbox[0] + p.bbox[2], p.bbox[1] + p.bbox[3]] for p in people],
        np.float32,
    ).reshape(-1, 4)
    masks = np.zeros((len(people), 256, 256), np.int64)
    inst, xy, parts, uv = [], [], [], []
    has_dp = np.zeros(len(people), bool)
    for k, p in enumerate(people):
        if p.dp_masks is not None:
            masks[k] = p.dp_masks
        if p.has_dp:
            assert p.dp_xy is not None and p.dp_I is not None and p.dp_uv is not None
            has_dp[k] = True
            inst.append(np.full(p.dp_xy.shape[0], k))
            xy.append(p.dp_xy)
            parts.append(p.dp_I)
            uv.append(p.dp_uv)
    cat = lambda xs, shape, dt: np.concatenate(xs).astype(dt) if xs else np.zeros(shape, dt)  # noqa: E731
    return {
        "image_id": torch.tensor(record.id),
        "boxes": torch.from_numpy(boxes),
        "labels": torch.ones(len(people), dtype=torch.int64),
        "has_dp": torch.from_numpy(has_dp),
        "dp_masks": torch.from_numpy(masks),
        "dp_instance": torch.from_numpy(cat(inst, (0,), np.int64)),
        "dp_xy": torch.from_numpy(cat(xy, (0, 2), np.float32)),
        "dp_I": torch.from_numpy(cat(parts, (0,), np.int64)),
        "dp_uv": torch.from_numpy(cat(uv, (0, 2), np.float32)),
    }


class DensePoseDataset(Dataset[tuple[torch.Tensor, dict[str, torch.Tensor]]]):
    """Images of a DensePose-COCO folder with at least one person.

    Args:
        root: folder with the images (``image_dir`` inside it).
        annotations: json path (absolute or relative to root).
        image_dir: image sub-folder.
        ids: optional subset of image ids.
        flip: the body's chart symmetry; when given, items ``len(records)`` and beyond are
            the horizontally flipped images (flip augmentation without random state, so
            the trainer's sampler alone decides what a step sees and resumes exactly).
    """

    def __init__(
        self,
        root: str | Path,
        annotations: str = "annotations.json",
        image_dir: str = "images",
        ids: list[int] | None = None,
        flip: UVSymmetry | None = None,
    ) -> None:
        self.root = Path(root)
        ann_path = Path(annotations) if Path(annotations).is_absolute() else self.root / annotations
        records = [r for r in load_densepose_coco(ann_path) if any(not p.iscrowd for p in r.people)]
        if ids is not None:
            wanted = set(ids)
            records = [r for r in records if r.id in wanted]
        self.records = records
        self.image_dir = self.root / image_dir
        self.flip = flip

    def __len__(self) -> int:
        return len(self.records) * (2 if self.flip is not None else 1)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        if not 0 <= i < len(self):
            raise IndexError(f"DensePoseDataset: index {i} out of range for {len(self)} items")
        record = self.records[i % len(self.records)]
        img = read_image(self.image_dir / record.file_name)[..., :3]
        if i >= len(self.records):
            assert self.flip is not None
            img, record = img[:, ::-1], flip_record(record, self.flip)
        return torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1), record_target(record)


def collate(
    batch: list[tuple[torch.Tensor, dict[str, torch.Tensor]]],
) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """Keep images and targets as lists (images differ in size)."""
    return [b[0] for b in batch], [b[1] for b in batch]
