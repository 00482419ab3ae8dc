"""The mask reference that needs no learning: the raw points' coverage, plain and dilated."""

from __future__ import annotations

import pytest
import torch

from npbgpp.camera import Camera
from npbgpp.config import preset
from npbgpp.data.synthetic import make_scene
from npbgpp.evaluate import evaluate_scene, summarize
from npbgpp.model.baseline import point_coverage
from npbgpp.model.pipeline import NPBGPP
from shared_utils.metrics.image import mask_iou


def _camera(size: int = 8) -> Camera:
    # Identity pose, unit focal length, no principal point offset: a point (x, y, 1)
    # lands at pixel coordinates (x, y), i.e. in pixel column floor(x), row floor(y).
    return Camera(torch.eye(3), torch.eye(4), size, size)


def test_coverage_marks_exactly_the_hit_pixels() -> None:
    points = torch.tensor(
        [
            [1.5, 2.5, 1.0],  # pixel (row 2, col 1)
            [1.2, 2.7, 3.0],  # uv (0.4, 0.9): pixel (0, 0), at another depth
            [6.5, 6.5, 1.0],  # pixel (6, 6)
            [13.0, 13.0, 2.0],  # uv (6.5, 6.5) again, farther: still one pixel
            [20.0, 1.0, 1.0],  # off the image
            [1.0, 1.0, -1.0],  # behind the camera
        ]
    )
    hit = point_coverage(points, _camera(), implementation="torch")
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[2, 1] = expected[0, 0] = expected[6, 6] = True
    assert hit.dtype == torch.bool and torch.equal(hit, expected)


def test_dilation_grows_each_hit_by_one_pixel_and_clips_at_the_border() -> None:
    points = torch.tensor([[0.5, 0.5, 1.0], [4.5, 3.5, 1.0]])
    hit = point_coverage(points, _camera(), dilate=True, implementation="torch")
    expected = torch.zeros(8, 8, dtype=torch.bool)
    expected[0:2, 0:2] = True  # the corner pixel's 3x3 block, clipped to the image
    expected[2:5, 3:6] = True  # row 3, column 4 and its 8 neighbours
    assert torch.equal(hit, expected)
    assert int(hit.sum()) == 4 + 9


def test_evaluate_scores_the_coverage_of_all_raw_points() -> None:
    torch.manual_seed(0)
    inputs, held = make_scene(3, views=4, size=48, num_points=1500, heldout=2)
    assert held is not None and held.masks is not None
    result = evaluate_scene(NPBGPP(preset("tiny").model), inputs, held)
    points = inputs.point_tensor()
    for dilate, value in ((False, result.coverage_iou), (True, result.coverage_dilated_iou)):
        ious = [
            mask_iou(
                point_coverage(points, held.camera(i), dilate=dilate), held.mask_tensor(i)[0] > 0.5
            )
            for i in range(len(held))
        ]
        assert value == pytest.approx(sum(ious) / len(ious))
    # 1500 points on a 48 px object leave holes; the coverage still overlaps the object.
    assert result.coverage_iou is not None and 0.3 < result.coverage_iou < 1.0
    assert [c.shape for c in result.coverages] == [(48, 48)] * 2
    summary = summarize([result])
    assert summary["coverage_iou"] == pytest.approx(result.coverage_iou)
    assert summary["coverage_dilated_iou"] == pytest.approx(result.coverage_dilated_iou)
    # a model without the mask channel has no mask_iou and no predicted masks
    assert result.mask_iou is None and result.pred_masks == []


def test_no_coverage_scores_without_masks() -> None:
    inputs, held = make_scene(3, views=4, size=48, num_points=500, heldout=1)
    assert held is not None
    held.masks = None
    result = evaluate_scene(NPBGPP(preset("tiny").model), inputs, held)
    assert result.coverage_iou is None and result.coverage_dilated_iou is None
    assert "coverage_iou" not in summarize([result])
