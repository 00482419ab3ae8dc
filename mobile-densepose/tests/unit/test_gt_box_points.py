"""Ground-truth-box point scores: known answers on hand-made head outputs, and the model path."""

import dataclasses
import math
from pathlib import Path

import pytest
import torch

from mobile_densepose.config import model_preset
from mobile_densepose.data.dataset import DensePoseDataset
from mobile_densepose.data.synthetic import SyntheticConfig, make_synthetic
from mobile_densepose.eval.gt_box_points import gt_box_point_scores, gt_box_rois, score_points
from mobile_densepose.model.rcnn import DensePoseRCNN

S = 8


def _targets() -> list[dict[str, torch.Tensor]]:
    """Image 0: person A (4 points) and person B (no DensePose); image 1: person C (2 points).

    A's points sit left (dp_x 64) and right (dp_x 192) of its box centre, C's above
    (dp_y 64) and below (dp_y 192)."""
    a = {
        "boxes": torch.tensor([[10.0, 20.0, 74.0, 84.0], [80.0, 0.0, 120.0, 50.0]]),
        "has_dp": torch.tensor([True, False]),
        "dp_instance": torch.tensor([0, 0, 0, 0]),
        "dp_xy": torch.tensor([[64.0, 100.0], [64.0, 150.0], [192.0, 100.0], [192.0, 150.0]]),
        "dp_I": torch.tensor([3, 3, 7, 7]),
        "dp_uv": torch.tensor([[0.2, 0.4], [0.2, 0.4], [0.6, 0.8], [0.6, 0.8]]),
    }
    c = {
        "boxes": torch.tensor([[100.0, 0.0, 132.0, 96.0]]),
        "has_dp": torch.tensor([True]),
        "dp_instance": torch.tensor([0, 0]),
        "dp_xy": torch.tensor([[128.0, 64.0], [128.0, 192.0]]),
        "dp_I": torch.tensor([12, 20]),
        "dp_uv": torch.tensor([[0.1, 0.9], [0.5, 0.3]]),
    }
    return [a, c]


def _perfect() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Head outputs that are exactly right for _targets(): RoI 0 = A split left/right into
    parts 3 / 7, RoI 1 = C split top/bottom into parts 12 / 20; U, V constant per half on
    the right chart, 9.0 (far off) on every other chart."""
    fine = torch.zeros(2, 25, S, S)
    u = torch.full((2, 25, S, S), 9.0)
    v = torch.full((2, 25, S, S), 9.0)
    half = S // 2
    for roi, part, uu, vv, region in (
        (0, 3, 0.2, 0.4, (slice(None), slice(0, half))),
        (0, 7, 0.6, 0.8, (slice(None), slice(half, S))),
        (1, 12, 0.1, 0.9, (slice(0, half), slice(None))),
        (1, 20, 0.5, 0.3, (slice(half, S), slice(None))),
    ):
        fine[(roi, part, *region)] = 5.0
        u[(roi, part, *region)] = uu
        v[(roi, part, *region)] = vv
    return fine, u, v


def test_gt_box_rois_uses_annotated_people_and_their_boxes() -> None:
    rois, points = gt_box_rois(_targets())
    torch.testing.assert_close(
        rois, torch.tensor([[0.0, 10.0, 20.0, 74.0, 84.0], [1.0, 100.0, 0.0, 132.0, 96.0]])
    )
    assert points.roi_index.tolist() == [0, 0, 0, 0, 1, 1]
    # dp / 256 is the normalised RoI coordinate when the RoI is the ground-truth box
    torch.testing.assert_close(
        points.coords,
        torch.tensor(
            [
                [0.25, 100 / 256],
                [0.25, 150 / 256],
                [0.75, 100 / 256],
                [0.75, 150 / 256],
                [0.5, 0.25],
                [0.5, 0.75],
            ]
        ),
    )
    assert points.parts.tolist() == [3, 3, 7, 7, 12, 20]


def test_exactly_right_outputs_score_perfectly() -> None:
    _, points = gt_box_rois(_targets())
    scores = score_points(*_perfect(), points)
    assert scores["part_accuracy"] == 1.0 and scores["n_points"] == scores["n_correct"] == 6
    assert scores["uv_error"] == pytest.approx(0.0, abs=1e-6)  # bilinear blend of equal values
    assert scores["mean_part_recall"] == 1.0
    assert scores["majority_rate"] == pytest.approx(2 / 6)  # parts 3, 3, 7, 7, 12, 20


def test_shifted_part_index_scores_zero() -> None:
    _, points = gt_box_rois(_targets())
    fine, u, v = _perfect()
    scores = score_points(fine.roll(1, dims=1), u, v, points)
    assert scores["part_accuracy"] == scores["mean_part_recall"] == 0.0
    assert scores["n_correct"] == 0
    assert math.isnan(scores["uv_error"])


def test_mirrored_roi_and_uv_offset() -> None:
    """RoI 0 mirrored left-right: A's 4 points get the other half's part (wrong), C's 2 stay
    right; U off by 0.1 and V by 0.05 everywhere -> UV error 0.15 on C's points."""
    _, points = gt_box_rois(_targets())
    fine, u, v = _perfect()
    fine[0] = fine[0].flip(-1)
    scores = score_points(fine, u + 0.1, v - 0.05, points)
    assert scores["part_accuracy"] == pytest.approx(2 / 6) and scores["n_correct"] == 2
    assert scores["uv_error"] == pytest.approx(0.15, abs=1e-6)
    assert scores["mean_part_recall"] == pytest.approx(0.5)  # parts 3, 7: 0; 12, 20: 1


def test_constant_majority_guess() -> None:
    """Every pixel says part 3: accuracy = majority rate 2/6, recall 1/4 (4 annotated parts)."""
    _, points = gt_box_rois(_targets())
    fine, u, v = _perfect()
    fine = torch.zeros_like(fine)
    fine[:, 3] = 1.0
    scores = score_points(fine, u, v, points)
    assert scores["part_accuracy"] == pytest.approx(scores["majority_rate"])
    assert scores["mean_part_recall"] == pytest.approx(0.25)


def test_bad_inputs_raise_clear_errors() -> None:
    targets = _targets()
    del targets[1]["dp_uv"]
    with pytest.raises(KeyError, match="image 1 has no field 'dp_uv'"):
        gt_box_rois(targets)
    no_dp = _targets()[:1]
    no_dp[0]["has_dp"] = torch.tensor([False, False])
    with pytest.raises(ValueError, match="no person with DensePose points"):
        gt_box_rois(no_dp)
    _, points = gt_box_rois(_targets())
    fine, u, v = _perfect()
    with pytest.raises(ValueError, match="must share"):
        score_points(fine, u[:, :24], v, points)


def test_model_path_scores_every_point_and_restores_mode(tmp_path: Path) -> None:
    make_synthetic(tmp_path, SyntheticConfig(num_images=3, height=64, width=96, n_points=20))
    items = DensePoseDataset(tmp_path)
    total = sum(int(items[k][1]["dp_I"].numel()) for k in range(len(items)))
    torch.manual_seed(0)
    cfg = dataclasses.replace(model_preset("tiny"), min_size=64, max_size=96)
    model = DensePoseRCNN(cfg).train()
    one = gt_box_point_scores(model, items, batch_size=1)
    assert model.training
    three = gt_box_point_scores(model, items, batch_size=3)
    assert one["n_points"] == three["n_points"] == total > 0
    assert one["n_correct"] == three["n_correct"]
    assert 0.0 <= one["part_accuracy"] <= 1.0
    if one["n_correct"]:
        assert one["uv_error"] == pytest.approx(three["uv_error"], abs=1e-5)
