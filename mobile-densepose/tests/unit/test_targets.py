"""DensePose targets land on the right RoI pixels (hand-made boxes and the real annotation)."""

import pickle

import numpy as np
import pytest
import torch

from mobile_densepose.config import LossConfig
from mobile_densepose.losses import densepose_losses
from mobile_densepose.model.predictor import DensePoseOutput
from mobile_densepose.targets import mask_targets, point_targets, sample_maps
from shared_utils.testing import shared_fixtures_dir


def test_points_move_into_roi_frames() -> None:
    gt = torch.tensor([[10.0, 20.0, 110.0, 220.0]])
    xy = torch.tensor([[128.0, 64.0], [0.0, 0.0], [255.0, 255.0]])  # box frame
    parts, uv = torch.tensor([5, 6, 7]), torch.rand(3, 2)
    inst = torch.zeros(3, dtype=torch.int64)
    rois = torch.tensor([[10.0, 20.0, 110.0, 220.0], [60.0, 70.0, 160.0, 270.0]])
    pt = point_targets(rois, gt, inst, xy, parts, uv, torch.tensor([0, 0]))
    # image positions: (60, 70), (10, 20), (109.6, 219.2)
    got = {(int(r), int(p)) for r, p in zip(pt.roi_index, pt.parts)}
    assert got == {(0, 5), (0, 6), (0, 7), (1, 5), (1, 7)}  # (10, 20) is outside RoI 1
    first = (pt.roi_index == 0) & (pt.parts == 5)
    torch.testing.assert_close(pt.coords[first], torch.tensor([[0.5, 0.25]]))
    second = (pt.roi_index == 1) & (pt.parts == 5)
    torch.testing.assert_close(pt.coords[second], torch.tensor([[0.0, 0.0]]))
    # a RoI matched to another person gets none of these points
    none = point_targets(rois[:1], torch.cat([gt, gt]), inst, xy, parts, uv, torch.tensor([1]))
    assert none.parts.numel() == 0


def test_sample_maps_reads_pixel_centres() -> None:
    s = 8
    ii, jj = torch.meshgrid(torch.arange(s), torch.arange(s), indexing="ij")
    field = (jj + 100 * ii).float()[None, None].repeat(2, 3, 1, 1)
    field[1] *= -1
    coords = torch.tensor([[(3 + 0.5) / s, (5 + 0.5) / s], [(2.25 + 0.5) / s, (1.75 + 0.5) / s]])
    out = sample_maps(field, torch.tensor([0, 1]), coords)
    torch.testing.assert_close(out[:, 0], torch.tensor([503.0, -177.25]))


def test_mask_targets_resample_box_frame() -> None:
    masks = torch.zeros(1, 256, 256, dtype=torch.int64)
    masks[0, :128, :128] = 3  # top-left quadrant of the person's box is part 3
    gt = torch.tensor([[0.0, 0.0, 64.0, 64.0]])
    same = mask_targets(gt, gt, masks, torch.tensor([0]), 8)
    expected = torch.zeros(8, 8, dtype=torch.int64)
    expected[:4, :4] = 3
    assert torch.equal(same[0], expected)
    big = mask_targets(torch.tensor([[0.0, 0.0, 128.0, 128.0]]), gt, masks, torch.tensor([0]), 8)
    expected = torch.zeros(8, 8, dtype=torch.int64)
    expected[:2, :2] = 3
    assert torch.equal(big[0], expected)


def _fixture() -> dict[str, np.ndarray]:
    root = shared_fixtures_dir()
    path = None if root is None else root / "densepose-demo" / "demo_dp_single_ann.pkl"
    if path is None or not path.exists():
        pytest.skip("real DensePose annotation fixture ../shared/fixtures/densepose-demo is absent")
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def test_real_annotation_points_land_on_their_pixels() -> None:
    ann = _fixture()
    h, w = ann["ICrop"].shape[:2]
    x0, y0 = 40.0, 25.0  # the crop is the person's box; place it anywhere in an image
    gt = torch.tensor([[x0, y0, x0 + w, y0 + h]], dtype=torch.float64)
    xy = torch.tensor(np.stack([ann["x"] / w * 256, ann["y"] / h * 256], 1))
    parts = torch.tensor(ann["I"]).long()
    uv = torch.tensor(np.stack([ann["U"], ann["V"]], 1))
    n = parts.numel()
    assert n == 125
    s = 64
    pt = point_targets(gt, gt, torch.zeros(n, dtype=torch.int64), xy, parts, uv, torch.tensor([0]))
    assert pt.parts.numel() == n
    cols = torch.floor(pt.coords[:, 0] * s).long()
    rows = torch.floor(pt.coords[:, 1] * s).long()
    assert torch.equal(cols, torch.floor(torch.tensor(ann["x"]) / w * s).long())
    assert torch.equal(rows, torch.floor(torch.tensor(ann["y"]) / h * s).long())
    # a prediction holding the annotation at exactly those pixels gives zero U/V loss and
    # a near-zero I loss
    fine = torch.full((1, 25, s, s), -20.0)
    u = torch.zeros(1, 25, s, s)
    v = torch.zeros(1, 25, s, s)
    for r, c, i, (uu, vv) in zip(rows, cols, pt.parts, pt.uv):
        fine[0, :, r, c] = -20.0
        fine[0, i, r, c] = 20.0
        u[0, i, r, c], v[0, i, r, c] = float(uu), float(vv)
    # sample at the pixel centres the points fall in (bilinear reads exactly that pixel)
    pt.coords = torch.stack([(cols + 0.5) / s, (rows + 0.5) / s], 1).double()
    out = DensePoseOutput(torch.zeros(1, 15, s, s), fine.double(), u.double(), v.double())
    losses = densepose_losses(out, pt, torch.zeros(1, s, s, dtype=torch.int64), LossConfig())
    assert float(losses["loss_densepose_U"]) < 1e-12 and float(losses["loss_densepose_V"]) < 1e-12
    assert float(losses["loss_densepose_I"]) < 1e-6
    # shifting U by 0.1 costs 0.1 * sum(0.5 * 0.1^2) = 0.1 * 125 * 0.005
    shifted = DensePoseOutput(out.coarse, out.fine, out.u + 0.1, out.v)
    losses = densepose_losses(shifted, pt, torch.zeros(1, s, s, dtype=torch.int64), LossConfig())
    assert float(losses["loss_densepose_U"]) == pytest.approx(0.1 * n * 0.005, rel=1e-6)
