"""GPS and DensePose AP on a small body surface with exact geodesics."""

import numpy as np
import pytest

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
            xy = np.stack([(cx + 0.5) / s * 256, (cy + 0.5) / s * 256], 1)
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
