"""DensePose AP: COCO-style average precision with GPS in place of IoU; and box AP.

Detections and ground truths of each image are matched greedily by score as in COCO,
with the "overlap" of a detection and a person being the person's mean GPS when the
detection's I/U/V maps are read at the person's annotated points; AP averages over GPS
thresholds 0.50:0.05:0.95, at most 20 detections per image (DensePose's setting).
The GPSm variant uses sqrt(GPS x mask IoU) instead, where the mask IoU compares the
person's annotated body mask (``dp_masks``, any part) with the detection's foreground
(I > 0), both pasted into image pixels; it also penalises a body shape that is wrong
away from the annotated points.
People without DensePose points are ignored (like crowd regions): as in detectron2's
evaluator, a detection whose box overlaps such a person's box with IoU >= 0.8 (and that
no annotated person claims) is ignored instead of counted as a false positive.
pycocotools' COCOeval does the matching and accumulation; only its overlap function is
replaced.

Note on coordinates: as the official evaluator (and the spec), evaluation places an
annotated point at x0 + dp_x / 255 * w, y0 + dp_y / 255 * h (:data:`EVAL_POINT_SCALE`);
training targets (``targets.py``) use detectron2's training convention, x0 + dp_x / 256 *
w. The two differ by under 0.4 % of the box side.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass

import numpy as np
import torch
from pycocotools import mask as maskUtils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from mobile_densepose.data.densepose_coco import ImageRecord
from mobile_densepose.eval.gps import GeodesicScorer


@dataclass
class DensePoseDetection:
    """One detected person with its chart maps (in the detection box frame)."""

    image_id: int
    """Image id."""
    box: np.ndarray
    """(4,) x1, y1, x2, y2 in image pixels."""
    score: float
    """Detection score."""
    parts: np.ndarray
    """(S, S) int chart I per box pixel (0 = background)."""
    u: np.ndarray
    """(S, S) U per box pixel."""
    v: np.ndarray
    """(S, S) V per box pixel."""


def maps_to_iuv(
    coarse: torch.Tensor, fine: torch.Tensor, u: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Predictor maps (N, ., S, S) -> I (N, S, S) int64 (0 where coarse says background), U, V (N, S, S)."""
    fg = coarse.argmax(1) > 0
    parts = fine.argmax(1) * fg
    idx = parts[:, None]
    return parts, u.gather(1, idx)[:, 0].clamp(0, 1), v.gather(1, idx)[:, 0].clamp(0, 1)


def _gt_coco(
    records: list[ImageRecord], ignore_without_dp: bool = True
) -> tuple[COCO, dict[int, tuple[ImageRecord, int]]]:
    anns: list[dict[str, object]] = []
    where: dict[int, tuple[ImageRecord, int]] = {}
    for rec in records:
        for k, p in enumerate(rec.people):
            x, y, w, h = (float(t) for t in p.bbox)
            ann_id = len(anns) + 1
            ignore = p.iscrowd or (ignore_without_dp and not p.has_dp)
            anns.append(
                {
                    "id": ann_id,
                    "image_id": rec.id,
                    "category_id": 1,
                    "bbox": [x, y, w, h],
                    "area": w * h,
                    "iscrowd": int(ignore),
                }
            )
            where[ann_id] = (rec, k)
    coco = COCO()
    coco.dataset = {
        "images": [{"id": r.id, "width": r.width, "height": r.height} for r in records],
        "annotations": anns,
        "categories": [{"id": 1, "name": "person"}],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco, where


def _det_coco(gt: COCO, dets: list[DensePoseDetection]) -> COCO:
    res = []
    for i, d in enumerate(dets):
        x1, y1, x2, y2 = (float(t) for t in d.box)
        res.append(
            {
                "id": i + 1,
                "image_id": d.image_id,
                "category_id": 1,
                "bbox": [x1, y1, x2 - x1, y2 - y1],
                "score": float(d.score),
                "det_index": i,
            }
        )
    with contextlib.redirect_stdout(io.StringIO()):
        return gt.loadRes(res) if res else COCO()


EVAL_POINT_SCALE = 255.0
"""Evaluation reads dp_x, dp_y as x0 + dp_x / EVAL_POINT_SCALE * w (the official
DensePose evaluator's bbox_w / 255; training targets divide by 256, as detectron2's
training does)."""


def _cells(coords: np.ndarray, lo: float, hi: float, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell of each coordinate when [lo, hi) is cut into n equal cells: (clipped index, inside)."""
    c = np.floor((coords - lo) / max(hi - lo, 1e-6) * n).astype(np.int64)
    return np.clip(c, 0, n - 1), (c >= 0) & (c < n)


def person_gps(rec: ImageRecord, k: int, det: DensePoseDetection, scorer: GeodesicScorer) -> float:
    """Mean GPS of a detection's maps read at person k's annotated points."""
    p = rec.people[k]
    if not p.has_dp:
        return 0.0
    assert p.dp_xy is not None and p.dp_I is not None and p.dp_uv is not None
    x0, y0, w, h = p.bbox
    px = x0 + p.dp_xy[:, 0] / EVAL_POINT_SCALE * w
    py = y0 + p.dp_xy[:, 1] / EVAL_POINT_SCALE * h
    s = det.parts.shape[0]
    bx1, by1, bx2, by2 = (float(t) for t in det.box)
    cxc, in_x = _cells(px, bx1, bx2, s)
    cyc, in_y = _cells(py, by1, by2, s)
    pred_i = np.where(in_x & in_y, det.parts[cyc, cxc], 0)
    pred_uv = np.stack([det.u[cyc, cxc], det.v[cyc, cxc]], axis=1)
    scores = scorer.scores(
        torch.from_numpy(p.dp_I),
        torch.from_numpy(p.dp_uv),
        torch.from_numpy(pred_i),
        torch.from_numpy(pred_uv),
    )
    return float(scores.mean())


def _box_mask_at(mask: np.ndarray, box: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Sample a (S, S) mask stretched over ``box`` (x1, y1, x2, y2) at pixel centres.

    Returns (len(ys), len(xs)) bool; pixels outside the box are False.
    """
    s_h, s_w = mask.shape
    x1, y1, x2, y2 = (float(t) for t in box)
    cx, in_x = _cells(xs + 0.5, x1, x2, s_w)
    cy, in_y = _cells(ys + 0.5, y1, y2, s_h)
    return mask[cy[:, None], cx[None, :]] & in_y[:, None] & in_x[None, :]


def person_mask_iou(rec: ImageRecord, k: int, det: DensePoseDetection) -> float:
    """IoU, in image pixels, of person k's ``dp_masks`` body mask and the detection's I > 0."""
    p = rec.people[k]
    if p.dp_masks is None:
        raise ValueError(
            f"image {rec.id} ({rec.file_name}), annotation {p.id}: field 'dp_masks' is missing; "
            "GPSm needs the body masks (use the GPS metric for annotations without them)"
        )
    x0, y0, w, h = (float(t) for t in p.bbox)
    gt_box = np.array([x0, y0, x0 + w, y0 + h])
    lo = np.floor(np.minimum(gt_box[:2], det.box[:2])).astype(np.int64)
    hi = np.ceil(np.maximum(gt_box[2:], det.box[2:])).astype(np.int64)
    xs = np.arange(max(lo[0], 0), min(hi[0], rec.width), dtype=np.float64)
    ys = np.arange(max(lo[1], 0), min(hi[1], rec.height), dtype=np.float64)
    gt = _box_mask_at(p.dp_masks > 0, gt_box, xs, ys)
    dt = _box_mask_at(det.parts > 0, det.box, xs, ys)
    union = int(np.sum(gt | dt))
    return float(np.sum(gt & dt)) / union if union else 0.0


def person_gpsm(rec: ImageRecord, k: int, det: DensePoseDetection, scorer: GeodesicScorer) -> float:
    """sqrt(GPS x mask IoU) of a detection and person k (DensePose's GPSm)."""
    return float(np.sqrt(person_gps(rec, k, det, scorer) * person_mask_iou(rec, k, det)))


IGNORE_BOX_IOU = 0.8
"""Box IoU above which a detection of a person without DensePose points is ignored."""

OVERLAPS = ("gps", "gpsm")
"""Overlap measures DensePose AP can use."""


class PairScores:
    """GPS and mask IoU of (person, detection) pairs, each computed once.

    One evaluation asks for the same pair's GPS up to three times (GPS AP, GPSm AP and
    the mean GPS); share one instance between those calls so the geodesic lookups run once.
    Keys are (image id, person index, detection index into ``dets``).
    """

    def __init__(self, dets: list[DensePoseDetection], scorer: GeodesicScorer) -> None:
        self.dets, self.scorer = dets, scorer
        self._gps: dict[tuple[int, int, int], float] = {}
        self._iou: dict[tuple[int, int, int], float] = {}

    def gps(self, rec: ImageRecord, k: int, det_index: int) -> float:
        """Mean GPS of detection ``det_index`` at person k's points (see ``person_gps``)."""
        key = (rec.id, k, det_index)
        if key not in self._gps:
            self._gps[key] = person_gps(rec, k, self.dets[det_index], self.scorer)
        return self._gps[key]

    def gpsm(self, rec: ImageRecord, k: int, det_index: int) -> float:
        """sqrt(GPS x mask IoU) of detection ``det_index`` and person k."""
        key = (rec.id, k, det_index)
        if key not in self._iou:
            self._iou[key] = person_mask_iou(rec, k, self.dets[det_index])
        return float(np.sqrt(self.gps(rec, k, det_index) * self._iou[key]))


class _GPSeval(COCOeval):
    """COCOeval whose overlap matrix is GPS (or GPSm) instead of IoU."""

    def __init__(
        self,
        gt: COCO,
        dt: COCO,
        where: dict[int, tuple[ImageRecord, int]],
        pairs: PairScores,
        overlap: str = "gps",
    ) -> None:
        super().__init__(gt, dt, "bbox")
        self._where = where
        self._overlap = pairs.gpsm if overlap == "gpsm" else pairs.gps

    def computeIoU(self, imgId: int, catId: int) -> np.ndarray | list:
        gts = self._gts[imgId, catId]
        dts = self._dts[imgId, catId]
        if not gts or not dts:
            return []
        order = np.argsort([-d["score"] for d in dts], kind="mergesort")
        dts = [dts[i] for i in order][: self.params.maxDets[-1]]
        out = np.zeros((len(dts), len(gts)))
        ignored = [j for j, g in enumerate(gts) if g["iscrowd"]]
        if ignored:  # box IoU >= 0.8 with an ignored person: overlap 1, the match is ignored
            boxes = maskUtils.iou(
                [d["bbox"] for d in dts], [gts[j]["bbox"] for j in ignored], [0] * len(ignored)
            )
            out[:, ignored] = (np.asarray(boxes) >= IGNORE_BOX_IOU).astype(np.float64)
        for i, d in enumerate(dts):
            for j, g in enumerate(gts):
                if g["iscrowd"]:
                    continue
                rec, k = self._where[g["id"]]
                out[i, j] = self._overlap(rec, k, d["det_index"])
        return out


def _summarise(ev: COCOeval) -> dict[str, float]:
    prec = ev.eval["precision"]  # (T, R, K, A, M)

    def ap(t: int | None = None, area: int = 0) -> float:
        p = prec[:, :, 0, area, -1] if t is None else prec[t, :, 0, area, -1]
        p = p[p > -1]
        return float(p.mean()) * 100 if p.size else 0.0

    return {"AP": ap(), "AP50": ap(0), "AP75": ap(5), "APm": ap(None, 2), "APl": ap(None, 3)}


def densepose_ap(
    records: list[ImageRecord],
    dets: list[DensePoseDetection],
    scorer: GeodesicScorer,
    overlap: str = "gps",
    pairs: PairScores | None = None,
) -> dict[str, float]:
    """DensePose AP with ``overlap`` "gps" or "gpsm", in percent: AP, AP50, AP75, APm, APl.

    ``pairs``: a ``PairScores`` of these ``dets`` to reuse across calls (made when None).
    """
    if overlap not in OVERLAPS:
        raise ValueError(f"densepose_ap: overlap must be one of {OVERLAPS}, got {overlap!r}")
    gt, where = _gt_coco(records)
    if not dets:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "APm": 0.0, "APl": 0.0}
    if pairs is None:
        pairs = PairScores(dets, scorer)
    elif pairs.dets is not dets:
        raise ValueError("densepose_ap: pairs was made for another detection list")
    ev = _GPSeval(gt, _det_coco(gt, dets), where, pairs, overlap)
    ev.params.maxDets = [20]
    ev.params.catIds = [1]
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    return _summarise(ev)


def box_ap(records: list[ImageRecord], dets: list[DensePoseDetection]) -> dict[str, float]:
    """Box AP (pycocotools, IoU 0.50:0.95, 100 detections), in percent: AP, AP50, AP75, APm, APl."""
    gt, _ = _gt_coco(records, ignore_without_dp=False)
    if not dets:
        return {"AP": 0.0, "AP50": 0.0, "AP75": 0.0, "APm": 0.0, "APl": 0.0}
    ev = COCOeval(gt, _det_coco(gt, dets), "bbox")
    ev.params.catIds = [1]
    with contextlib.redirect_stdout(io.StringIO()):
        ev.evaluate()
        ev.accumulate()
    return _summarise(ev)


def mean_gps(
    records: list[ImageRecord],
    dets: list[DensePoseDetection],
    scorer: GeodesicScorer,
    min_iou: float = 0.5,
    pairs: PairScores | None = None,
) -> float:
    """Mean over annotated people of the GPS of their best-overlapping detection (box IoU >=
    min_iou; 0 when none): a smooth companion of DensePose AP for small models."""
    from torchvision.ops import box_iou

    if pairs is None:
        pairs = PairScores(dets, scorer)
    elif pairs.dets is not dets:
        raise ValueError("mean_gps: pairs was made for another detection list")
    by_image: dict[int, list[int]] = {}
    for i, d in enumerate(dets):
        by_image.setdefault(d.image_id, []).append(i)
    total, count = 0.0, 0
    for rec in records:
        for k, p in enumerate(rec.people):
            if p.iscrowd or not p.has_dp:
                continue
            count += 1
            cands = by_image.get(rec.id, [])
            if not cands:
                continue
            x, y, w, h = p.bbox
            gt = torch.tensor([[x, y, x + w, y + h]], dtype=torch.float64)
            boxes = torch.tensor(np.stack([dets[c].box for c in cands]), dtype=torch.float64)
            iou = box_iou(gt, boxes)[0]
            best = int(iou.argmax())
            if float(iou[best]) >= min_iou:
                total += pairs.gps(rec, k, cands[best])
    return 100.0 * total / max(count, 1)
