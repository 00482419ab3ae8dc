"""GPS and DensePose AP on a small body surface with exact geodesics."""

import numpy as np
import pytest
import torch

from mobile_densepose.data.body import BodySurface
from mobile_densepose.data.densepose_coco import ImageRecord, PersonAnnotation
from mobile_densepose.eval.densepose_ap import DensePoseDetection, box_ap, densepose_ap, mean_gps
from mobile_densepose.eval.gps import KAPPA, GeodesicScorer

NU, NV, RADIUS, LENGTH = 16, 8, 0.3, 0.8


def cylinder_surface() -> BodySurface:
    """Chart 1 is a cylinder (U = angle / 2 pi, V = height / L): its geodesics are exact."""
    u = (np.arange(NU) + 0.5) / NU
    v = (np.arange(NV) + 0.5) / NV
    uu, vv = (a.ravel() for a in np.meshgrid(u, v, indexing="ij"))
    du = np.abs(uu[:, None] - uu[None])
    du = np.minimum(du, 1 - du) * 2 * np.pi * RADIUS
    dv = np.abs(vv[:, None] - vv[None]) * LENGTH
    geo = np.sqrt(du**2 + dv**2)
    return BodySurface(np.ones(NU * NV, np.int64), np.stack([uu, vv], 1), geo.astype(np.float32))


def test_gps_perfect_is_one_and_falls_with_geodesic_error() -> None:
    import torch

    scorer = GeodesicScorer(cylinder_surface(), implementation="torch")
    surf = cylinder_surface()
    parts, uv = torch.from_numpy(surf.parts), torch.from_numpy(surf.uv)
    torch.testing.assert_close(scorer.scores(parts, uv, parts, uv), torch.ones(NU * NV))
    previous = 1.0
    for k in range(1, NU // 2 + 1):
        shifted = uv.clone()
        shifted[:, 0] = (shifted[:, 0] + k / NU) % 1.0
        gps = scorer.scores(parts, uv, parts, shifted)
        d = 2 * np.pi * RADIUS * k / NU
        expected = np.exp(-(d**2) / (2 * KAPPA**2))
        torch.testing.assert_close(gps, torch.full_like(gps, float(expected)), atol=1e-6, rtol=1e-5)
        assert expected < previous
        previous = expected
    background = scorer.scores(parts, uv, torch.zeros_like(parts), uv)
    assert float(background.abs().max()) == 0.0


def test_per_part_kappa_uses_the_ground_truth_region() -> None:
    from mobile_densepose.eval.gps import PER_PART_KAPPA, REGION_KAPPA

    # hands (3, 4) use 0.107, torso (1, 2) 0.351, head (23, 24) 0.150 (detectron2's values)
    assert REGION_KAPPA[1] == 0.107
    for part, kappa in ((3, 0.107), (4, 0.107), (1, 0.351), (2, 0.351), (24, 0.150)):
        assert float(PER_PART_KAPPA[part]) == pytest.approx(kappa)
    surf = cylinder_surface()
    d = 2 * np.pi * RADIUS * 2 / NU  # a 2-column shift on the cylinder
    for part in (1, 3, 24):
        relabelled = BodySurface(np.full_like(surf.parts, part), surf.uv, surf.geodesic)
        scorer = GeodesicScorer(relabelled, implementation="torch", per_part_kappa=True)
        parts = torch.from_numpy(relabelled.parts)
        uv = torch.from_numpy(surf.uv)
        shifted = uv.clone()
        shifted[:, 0] = (shifted[:, 0] + 2 / NU) % 1.0
        gps = scorer.scores(parts, uv, parts, shifted)
        kappa = float(PER_PART_KAPPA[part])
        expected = float(np.exp(-(d**2) / (2 * kappa**2)))
        torch.testing.assert_close(gps, torch.full_like(gps, expected), atol=1e-6, rtol=1e-5)


def _scene(
    rng: np.random.Generator, surf: BodySurface
) -> tuple[list[ImageRecord], list[DensePoseDetection]]:
    records, dets = [], []
    for image_id in range(1, 4):
        rec = ImageRecord(image_id, f"{image_id}.png", 200, 200)
        for k in range(2):
            box = np.array([20.0 + 90 * k, 30.0, 70.0, 120.0])
            s = 32
            pick = rng.integers(0, len(surf.parts), size=(s, s))
            parts, u, v = surf.parts[pick], surf.uv[pick, 0], surf.uv[pick, 1]
            cy, cx = rng.integers(0, s, 40), rng.integers(0, s, 40)
            xy = np.stack([(cx + 0.5) / s * 255, (cy + 0.5) / s * 255], 1)  # cell centres
            rec.people.append(
                PersonAnnotation(
                    len(rec.people) + 1,
                    box,
                    False,
                    xy,
                    parts[cy, cx],
                    np.stack([u[cy, cx], v[cy, cx]], 1),
                )
            )
            x1y1x2y2 = np.array([box[0], box[1], box[0] + box[2], box[1] + box[3]])
            dets.append(DensePoseDetection(image_id, x1y1x2y2, 0.9 - 0.1 * k, parts, u, v))
        records.append(rec)
    return records, dets


def test_densepose_ap_perfect_noisy_untrained() -> None:
    surf = cylinder_surface()
    scorer = GeodesicScorer(surf, implementation="torch")
    records, dets = _scene(np.random.default_rng(0), surf)
    perfect = densepose_ap(records, dets, scorer)
    assert perfect["AP"] == pytest.approx(100.0)
    assert box_ap(records, dets)["AP"] == pytest.approx(100.0)
    assert mean_gps(records, dets, scorer) == pytest.approx(100.0)
    noisy = [
        DensePoseDetection(d.image_id, d.box, d.score, d.parts, (d.u + 0.09) % 1, d.v) for d in dets
    ]
    ap_noisy = densepose_ap(records, noisy, scorer)["AP"]
    assert 0 < ap_noisy < 100
    rng = np.random.default_rng(1)
    untrained = [
        DensePoseDetection(
            d.image_id, d.box, d.score, d.parts, rng.random(d.u.shape), rng.random(d.v.shape)
        )
        for d in dets
    ]
    assert densepose_ap(records, untrained, scorer)["AP"] < ap_noisy
    background = [
        DensePoseDetection(d.image_id, d.box, d.score, d.parts * 0, d.u, d.v) for d in dets
    ]
    assert densepose_ap(records, background, scorer)["AP"] == 0.0
    assert mean_gps(records, background, scorer) == 0.0
    assert 0 < mean_gps(records, noisy, scorer) < 100


def _with_masks(records: list[ImageRecord], dets: list[DensePoseDetection]) -> None:
    """Give every person the body mask its detection predicts (parts > 0, upsampled to 256)."""
    by_box = {(d.image_id, tuple(np.round(d.box, 3))): d for d in dets}
    for rec in records:
        for p in rec.people:
            x, y, w, h = p.bbox
            d = by_box[(rec.id, tuple(np.round([x, y, x + w, y + h], 3)))]
            idx = np.arange(256) * d.parts.shape[0] // 256
            p.dp_masks = (d.parts[idx][:, idx] > 0).astype(np.int64)


def test_points_are_placed_with_the_official_255_scale() -> None:
    """dp_x = 127.6 over a 256-pixel box lands in pixel 128 with the evaluator's w / 255
    (128.1) and in pixel 127 with w / 256 (127.6); only pixel 128 carries the right chart."""
    from mobile_densepose.eval.densepose_ap import EVAL_POINT_SCALE, person_gps

    assert EVAL_POINT_SCALE == 255.0
    surf = cylinder_surface()
    scorer = GeodesicScorer(surf, implementation="torch")
    rec = ImageRecord(1, "a.png", 300, 300)
    xy = np.array([[127.6, 127.6]])
    rec.people.append(
        PersonAnnotation(1, np.array([0.0, 0.0, 256.0, 256.0]), False, xy, np.ones(1, np.int64),
                         np.array([[0.25, 0.5]]))
    )  # fmt: skip
    s = 256
    parts = np.zeros((s, s), np.int64)
    parts[128, 128] = 1
    u, v = np.full((s, s), 0.25), np.full((s, s), 0.5)
    det = DensePoseDetection(1, np.array([0.0, 0.0, 256.0, 256.0]), 0.9, parts, u, v)
    assert person_gps(rec, 0, det, scorer) == pytest.approx(1.0)
    parts_256 = np.zeros((s, s), np.int64)
    parts_256[127, 127] = 1  # where a w / 256 reading would look
    det_256 = DensePoseDetection(1, det.box, 0.9, parts_256, u, v)
    assert person_gps(rec, 0, det_256, scorer) == 0.0


def test_mask_iou_and_gpsm_known_values() -> None:
    from mobile_densepose.eval.densepose_ap import person_gps, person_gpsm, person_mask_iou

    surf = cylinder_surface()
    scorer = GeodesicScorer(surf, implementation="torch")
    rec = ImageRecord(1, "a.png", 100, 100)
    labels = np.zeros((256, 256), np.int64)
    labels[:, :128] = 3  # left half of the box is body
    xy = np.array([[32.0, 100.0], [64.0, 200.0]])
    rec.people.append(
        PersonAnnotation(1, np.array([10.0, 10.0, 40.0, 40.0]), False, xy, np.ones(2, np.int64),
                         np.array([[0.2, 0.3], [0.4, 0.5]]), labels)
    )  # fmt: skip
    # A detection on the same box whose maps are exact at the points and whose foreground is
    # the whole box: GPS 1, mask IoU = 800 / 1600 = 0.5, GPSm = sqrt(0.5).
    s = 8
    parts = np.ones((s, s), np.int64)
    u, v = np.zeros((s, s)), np.zeros((s, s))
    for (px, py), (pu, pv) in zip(xy, [[0.2, 0.3], [0.4, 0.5]]):
        u[int(py / 255 * s), int(px / 255 * s)] = pu  # the evaluator's w / 255 placement
        v[int(py / 255 * s), int(px / 255 * s)] = pv
    det = DensePoseDetection(1, np.array([10.0, 10.0, 50.0, 50.0]), 0.9, parts, u, v)
    assert person_gps(rec, 0, det, scorer) == pytest.approx(1.0)
    assert person_mask_iou(rec, 0, det) == pytest.approx(0.5)
    assert person_gpsm(rec, 0, det, scorer) == pytest.approx(np.sqrt(0.5))
    # The same foreground shifted right by the box's half width: no overlap at all.
    half = parts.copy()
    half[:, s // 2 :] = 0
    shifted = DensePoseDetection(1, np.array([30.0, 10.0, 70.0, 50.0]), 0.9, half, u, v)
    assert person_mask_iou(rec, 0, shifted) == 0.0
    # A foreground equal to the annotated mask: IoU 1.
    exact = DensePoseDetection(1, np.array([10.0, 10.0, 50.0, 50.0]), 0.9, half, u, v)
    assert person_mask_iou(rec, 0, exact) == pytest.approx(1.0)
    rec.people[0].dp_masks = None
    with pytest.raises(ValueError, match="dp_masks"):
        person_mask_iou(rec, 0, det)


def test_densepose_ap_gpsm_perfect_and_wrong_shape() -> None:
    surf = cylinder_surface()
    scorer = GeodesicScorer(surf, implementation="torch")
    records, dets = _scene(np.random.default_rng(0), surf)
    _with_masks(records, dets)
    assert densepose_ap(records, dets, scorer, overlap="gpsm")["AP"] == pytest.approx(100.0)
    # The box stretched to twice its width, its left half carrying the (subsampled) maps and
    # the right half all body: GPS at the points barely changes, the mask IoU halves.
    wide = []
    for d in dets:
        w = d.box[2] - d.box[0]
        box = d.box + np.array([0.0, 0.0, w, 0.0])
        parts = np.concatenate([d.parts, np.ones_like(d.parts)], axis=1)
        s = d.parts.shape[0]
        cols = np.arange(s) * 2
        wide.append(
            DensePoseDetection(
                d.image_id,
                box,
                d.score,
                parts[:, cols],
                np.concatenate([d.u, d.u], 1)[:, cols],
                np.concatenate([d.v, d.v], 1)[:, cols],
            )
        )
    gps_wide = densepose_ap(records, wide, scorer)["AP"]
    gpsm_wide = densepose_ap(records, wide, scorer, overlap="gpsm")["AP"]
    assert gpsm_wide < gps_wide
    with pytest.raises(ValueError, match="overlap"):
        densepose_ap(records, dets, scorer, overlap="iou")


def test_pair_scores_shared_across_metrics_computes_each_gps_once() -> None:
    from mobile_densepose.eval.densepose_ap import PairScores

    surf = cylinder_surface()
    scorer = GeodesicScorer(surf, implementation="torch")
    records, dets = _scene(np.random.default_rng(0), surf)
    _with_masks(records, dets)
    fresh = (
        densepose_ap(records, dets, scorer),
        densepose_ap(records, dets, scorer, overlap="gpsm"),
        mean_gps(records, dets, scorer),
    )
    calls = 0
    plain = scorer.scores

    def counted(*args: torch.Tensor) -> torch.Tensor:
        nonlocal calls
        calls += 1
        return plain(*args)

    scorer.scores = counted  # type: ignore[method-assign]
    pairs = PairScores(dets, scorer)
    shared = (
        densepose_ap(records, dets, scorer, pairs=pairs),
        densepose_ap(records, dets, scorer, overlap="gpsm", pairs=pairs),
        mean_gps(records, dets, scorer, pairs=pairs),
    )
    assert shared == fresh
    assert calls == len(pairs._gps) > 0
    with pytest.raises(ValueError, match="another detection list"):
        densepose_ap(records, dets[:1], scorer, pairs=pairs)


def test_detections_of_people_without_points_are_ignored_not_false_positives() -> None:
    surf = cylinder_surface()
    scorer = GeodesicScorer(surf, implementation="torch")
    records, dets = _scene(np.random.default_rng(0), surf)
    assert densepose_ap(records, dets, scorer)["AP"] == pytest.approx(100.0)
    # an unannotated person (box only) in every image, detected with a higher score
    extra = []
    for rec in records:
        rec.people.append(PersonAnnotation(99, np.array([60.0, 150.0, 40.0, 40.0])))
        parts = np.ones((32, 32), np.int64)
        u = np.full((32, 32), 0.5)
        box = np.array([60.0, 150.0, 100.0, 190.0])
        extra.append(DensePoseDetection(rec.id, box, 0.99, parts, u, u))
    assert densepose_ap(records, dets + extra, scorer)["AP"] == pytest.approx(100.0)
    # the same detections shifted to box IoU 0.6 with the unannotated people: false positives
    shifted = [
        DensePoseDetection(
            d.image_id, d.box + np.array([10.0, 0.0, 10.0, 0.0]), d.score, d.parts, d.u, d.v
        )
        for d in extra
    ]
    assert densepose_ap(records, dets + shifted, scorer)["AP"] < 90.0
