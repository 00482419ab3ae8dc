"""DensePose-COCO annotations: reading (with validation), writing, and the part-mask RLEs.

A DensePose-COCO file is a COCO instances json whose person annotations may carry

* ``dp_x``, ``dp_y``: point positions in a 256x256 frame spanning the annotation's
  ``bbox`` (x, y, w, h): image x = x + dp_x / 256 * w;
* ``dp_I`` (fine part 1..24), ``dp_U``, ``dp_V`` (in [0, 1]) per point;
* ``dp_masks``: 14 entries (coarse parts 1..14), each a COCO RLE of a 256x256 mask in
  the same box frame, or an empty list when the part is absent.

Malformed files raise :class:`DensePoseFormatError` naming the file, the annotation id
and the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from shared_utils.io.atomic import atomic_write_text

DP_FIELDS = ("dp_x", "dp_y", "dp_I", "dp_U", "dp_V")
NUM_COARSE = 14


class DensePoseFormatError(ValueError):
    """A DensePose-COCO file does not match the format (names file, annotation and field)."""


@dataclass
class PersonAnnotation:
    """One person: box and, if annotated, the DensePose points and part masks."""

    id: int
    """Annotation id."""
    bbox: np.ndarray
    """(4,) x, y, w, h in image pixels."""
    iscrowd: bool = False
    """COCO crowd flag."""
    dp_xy: np.ndarray | None = None
    """(P, 2) (dp_x, dp_y) in the 256x256 box frame, or None if not annotated."""
    dp_I: np.ndarray | None = None
    """(P,) int64 fine part 1..24."""
    dp_uv: np.ndarray | None = None
    """(P, 2) (U, V)."""
    dp_masks: np.ndarray | None = None
    """(256, 256) int64 coarse part labels (0 = background, 1..14)."""

    @property
    def has_dp(self) -> bool:
        """Whether the person has DensePose points."""
        return self.dp_xy is not None and self.dp_xy.shape[0] > 0


@dataclass
class ImageRecord:
    """One image and its people."""

    id: int
    """Image id."""
    file_name: str
    """Path relative to the image folder."""
    width: int
    """Width in pixels."""
    height: int
    """Height in pixels."""
    people: list[PersonAnnotation] = field(default_factory=list)
    """Person annotations."""


def decode_dp_masks(entries: Any, where: str) -> np.ndarray:
    """The 14 RLEs of ``dp_masks`` -> (256, 256) int64 label map (later parts win overlaps)."""
    if not isinstance(entries, list) or len(entries) != NUM_COARSE:
        n = len(entries) if isinstance(entries, list) else type(entries).__name__
        raise DensePoseFormatError(
            f"{where}: field 'dp_masks': expected a list of 14 RLEs, got {n}"
        )
    labels = np.zeros((256, 256), np.int64)
    for i, rle in enumerate(entries):
        if isinstance(rle, list) and not rle:
            continue
        if not isinstance(rle, dict) or "counts" not in rle or "size" not in rle:
            raise DensePoseFormatError(
                f"{where}: field 'dp_masks[{i}]': expected an RLE dict with size and counts"
            )
        if list(rle["size"]) != [256, 256]:
            raise DensePoseFormatError(
                f"{where}: field 'dp_masks[{i}].size': expected [256, 256], got {rle['size']}"
            )
        try:
            m = mask_utils.decode(rle)
        except Exception as exc:  # pycocotools raises bare exceptions on bad counts
            raise DensePoseFormatError(
                f"{where}: field 'dp_masks[{i}].counts': cannot decode ({exc})"
            ) from exc
        labels[m > 0] = i + 1
    return labels


def encode_dp_masks(labels: np.ndarray) -> list[Any]:
    """(256, 256) coarse label map -> 14 RLE dicts (json-ready) or [] for absent parts."""
    if labels.shape != (256, 256):
        raise ValueError(f"dp_masks label map must be 256x256, got {labels.shape}")
    out: list[Any] = []
    for part in range(1, NUM_COARSE + 1):
        m = labels == part
        if not m.any():
            out.append([])
            continue
        rle = mask_utils.encode(np.asfortranarray(m.astype(np.uint8)))
        out.append({"size": [256, 256], "counts": rle["counts"].decode("ascii")})
    return out


def _person(ann: dict[str, Any], where: str) -> PersonAnnotation:
    bbox = ann.get("bbox")
    if (
        not isinstance(bbox, list)
        or len(bbox) != 4
        or not all(isinstance(v, int | float) for v in bbox)
    ):
        raise DensePoseFormatError(f"{where}: field 'bbox': expected [x, y, w, h], got {bbox!r}")
    if bbox[2] <= 0 or bbox[3] <= 0:
        raise DensePoseFormatError(
            f"{where}: field 'bbox': width and height must be > 0, got {bbox}"
        )
    person = PersonAnnotation(
        int(ann.get("id", -1)), np.asarray(bbox, np.float64), bool(ann.get("iscrowd", 0))
    )
    present = [k for k in DP_FIELDS if k in ann]
    if not present:
        return person
    if len(present) != len(DP_FIELDS):
        missing = sorted(set(DP_FIELDS) - set(present))
        raise DensePoseFormatError(
            f"{where}: field {missing[0]!r} missing (DensePose fields come together)"
        )
    arrays = {}
    for k in DP_FIELDS:
        try:
            arrays[k] = np.asarray(ann[k], np.float64).reshape(-1)
        except (TypeError, ValueError) as exc:
            raise DensePoseFormatError(f"{where}: field {k!r}: expected a list of numbers") from exc
    n = arrays["dp_x"].shape[0]
    for k in DP_FIELDS:
        if arrays[k].shape[0] != n:
            raise DensePoseFormatError(
                f"{where}: field {k!r}: {arrays[k].shape[0]} values, dp_x has {n}"
            )
    parts = arrays["dp_I"]
    if n and (np.any(parts != np.round(parts)) or parts.min() < 1 or parts.max() > 24):
        raise DensePoseFormatError(f"{where}: field 'dp_I': values must be integers in 1..24")
    for k in ("dp_U", "dp_V"):
        if n and (arrays[k].min() < 0 or arrays[k].max() > 1):
            raise DensePoseFormatError(f"{where}: field {k!r}: values must lie in [0, 1]")
    for k in ("dp_x", "dp_y"):
        if n and (arrays[k].min() < 0 or arrays[k].max() > 256):
            raise DensePoseFormatError(
                f"{where}: field {k!r}: values must lie in [0, 256] (box frame)"
            )
    person.dp_xy = np.stack([arrays["dp_x"], arrays["dp_y"]], axis=1)
    person.dp_I = parts.astype(np.int64)
    person.dp_uv = np.stack([arrays["dp_U"], arrays["dp_V"]], axis=1)
    if "dp_masks" in ann:
        person.dp_masks = decode_dp_masks(ann["dp_masks"], where)
    return person


def load_densepose_coco(path: str | Path, person_category: int = 1) -> list[ImageRecord]:
    """Read a DensePose-COCO json: every image with its (non-crowd and crowd) people."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise
    except json.JSONDecodeError as exc:
        raise DensePoseFormatError(f"{path}: not valid json ({exc})") from exc
    for key in ("images", "annotations"):
        if key not in data or not isinstance(data[key], list):
            raise DensePoseFormatError(f"{path}: field {key!r}: missing or not a list")
    images: dict[int, ImageRecord] = {}
    for i, im in enumerate(data["images"]):
        for key in ("id", "file_name", "width", "height"):
            if key not in im:
                raise DensePoseFormatError(f"{path}: images[{i}]: field {key!r} missing")
        images[int(im["id"])] = ImageRecord(
            int(im["id"]), str(im["file_name"]), int(im["width"]), int(im["height"])
        )
    for i, ann in enumerate(data["annotations"]):
        where = f"{path}: annotation {ann.get('id', f'#{i}')}"
        if "image_id" not in ann:
            raise DensePoseFormatError(f"{where}: field 'image_id' missing")
        if int(ann.get("category_id", person_category)) != person_category:
            continue
        image_id = int(ann["image_id"])
        if image_id not in images:
            raise DensePoseFormatError(f"{where}: field 'image_id': no image with id {image_id}")
        images[image_id].people.append(_person(ann, where))
    return list(images.values())


def person_to_json(person: PersonAnnotation, image_id: int) -> dict[str, Any]:
    """A PersonAnnotation -> a DensePose-COCO annotation dict."""
    x, y, w, h = (float(v) for v in person.bbox)
    ann: dict[str, Any] = {
        "id": person.id, "image_id": image_id, "category_id": 1, "iscrowd": int(person.iscrowd),
        "bbox": [x, y, w, h], "area": w * h,
    }  # fmt: skip
    if person.has_dp:
        assert person.dp_xy is not None and person.dp_I is not None and person.dp_uv is not None
        ann["dp_x"] = person.dp_xy[:, 0].tolist()
        ann["dp_y"] = person.dp_xy[:, 1].tolist()
        ann["dp_I"] = person.dp_I.astype(float).tolist()
        ann["dp_U"] = person.dp_uv[:, 0].tolist()
        ann["dp_V"] = person.dp_uv[:, 1].tolist()
    if person.dp_masks is not None:
        ann["dp_masks"] = encode_dp_masks(person.dp_masks)
    return ann


def write_densepose_coco(path: str | Path, images: list[ImageRecord]) -> None:
    """Write ImageRecords as a DensePose-COCO json (category 1 = person)."""
    data = {
        "images": [
            {"id": im.id, "file_name": im.file_name, "width": im.width, "height": im.height}
            for im in images
        ],
        "annotations": [person_to_json(p, im.id) for im in images for p in im.people],
        "categories": [{"id": 1, "name": "person", "supercategory": "person"}],
    }
    atomic_write_text(Path(path), json.dumps(data))
