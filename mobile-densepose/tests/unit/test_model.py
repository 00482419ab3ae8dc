"""The tiny detector: training losses, inference outputs, BiFPN fusion invariants."""

import torch

from mobile_densepose.config import model_preset
from mobile_densepose.model.bifpn import BiFPN, FastNormalizedFusion
from mobile_densepose.model.rcnn import DensePoseRCNN


def _target() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    masks = torch.zeros(1, 256, 256, dtype=torch.int64)
    masks[0, 40:200, 60:190] = 2
    return {
        "boxes": torch.tensor([[30.0, 20.0, 100.0, 120.0]]),
        "labels": torch.tensor([1]),
        "has_dp": torch.tensor([True]),
        "dp_masks": masks,
        "dp_instance": torch.zeros(30, dtype=torch.int64),
        "dp_xy": torch.rand(30, 2, generator=g) * 200 + 28,
        "dp_I": torch.randint(1, 25, (30,), generator=g),
        "dp_uv": torch.rand(30, 2, generator=g),
    }


def test_tiny_training_losses_and_inference_shapes() -> None:
    torch.manual_seed(0)
    cfg = model_preset("tiny")
    model = DensePoseRCNN(cfg)
    model.train()
    images = [torch.rand(3, 128, 160), torch.rand(3, 140, 128)]
    losses = model(images, [_target(), _target()])
    assert isinstance(losses, dict)
    expected = {
        "loss_objectness",
        "loss_rpn_box_reg",
        "loss_classifier",
        "loss_box_reg",
        "loss_densepose_S",
        "loss_densepose_I",
        "loss_densepose_U",
        "loss_densepose_V",
    }
    assert set(losses) == expected
    total = sum(losses.values())
    assert torch.isfinite(total)
    # the ground-truth box is always a DensePose RoI, so the point losses are live
    assert losses["loss_densepose_I"] > 0 and losses["loss_densepose_U"] > 0
    total.backward()
    assert model.dp_predictor.fine.weight.grad is not None
    assert model.dp_predictor.fine.weight.grad.abs().sum() > 0

    model.eval()
    model.box_stage.score_thresh = 0.0
    dets = model([torch.rand(3, 96, 120)])
    assert isinstance(dets, list)
    d = dets[0]
    n = d["boxes"].shape[0]
    s = cfg.heatmap_size
    assert s == 32
    assert d["fine"].shape == (n, 25, s, s) and d["coarse"].shape == (n, 2, s, s)
    assert d["u"].shape == (n, 25, s, s)
    if n:
        assert float(d["boxes"][:, 2].max()) <= 120 + 1e-3  # boxes in input pixels


def test_fast_normalized_fusion() -> None:
    fuse = FastNormalizedFusion(3)
    with torch.no_grad():
        fuse.weight.copy_(torch.tensor([1.0, -2.0, 3.0]))  # negative weight -> relu -> 0
    a, b, c = torch.ones(1, 1, 2, 2), torch.full((1, 1, 2, 2), 5.0), torch.full((1, 1, 2, 2), 2.0)
    out = fuse([a, b, c])
    expected = (1.0 * 1 + 3.0 * 2) / (4.0 + 1e-4)
    torch.testing.assert_close(out, torch.full_like(out, expected))


def test_bifpn_shapes_and_p6() -> None:
    neck = BiFPN([8, 16, 24, 32], 16).eval()
    feats = [torch.randn(1, c, 64 // s, 64 // s) for c, s in zip([8, 16, 24, 32], [1, 2, 4, 8])]
    out = neck(feats)
    assert [tuple(out[k].shape) for k in ("p2", "p3", "p4", "p5", "p6")] == [
        (1, 16, 64, 64),
        (1, 16, 32, 32),
        (1, 16, 16, 16),
        (1, 16, 8, 8),
        (1, 16, 4, 4),
    ]
    torch.testing.assert_close(out["p6"], out["p5"][:, :, ::2, ::2])


def test_every_trainable_parameter_gets_a_gradient() -> None:
    """What DDP (find_unused_parameters=False) needs: the backbone's parts after its last
    tap are kept for the paper's counts but frozen, everything else takes a gradient."""
    from mobile_densepose.model.backbone import TimmBackbone

    backbone = TimmBackbone("spnasnet_100", "bn", "expansion")
    sum(f.mean() for f in backbone(torch.randn(1, 3, 64, 64))).backward()
    frozen = {n for n, p in backbone.named_parameters() if not p.requires_grad}
    assert frozen == {
        "body.stages.6.0.conv_pwl.weight",
        "body.stages.6.0.bn3.weight",
        "body.stages.6.0.bn3.bias",
    }
    assert all(p.grad is not None for p in backbone.parameters() if p.requires_grad)


def test_densepose_losses_without_rois_reach_every_output() -> None:
    from mobile_densepose.config import LossConfig
    from mobile_densepose.losses import densepose_losses
    from mobile_densepose.model.predictor import DensePoseOutput
    from mobile_densepose.targets import PointTargets

    maps = [
        torch.zeros(r, c, 4, 4, requires_grad=True) for r, c in ((0, 2), (0, 25), (0, 25), (0, 25))
    ]
    out = DensePoseOutput(*maps)
    empty = torch.zeros((0,), dtype=torch.int64)
    points = PointTargets(empty, torch.zeros(0, 2), empty, torch.zeros(0, 2))
    losses = densepose_losses(out, points, torch.zeros((0, 4, 4), dtype=torch.int64), LossConfig())
    assert sorted(losses) == [f"loss_densepose_{k}" for k in "ISUV"]
    total = sum(losses.values())
    assert float(total) == 0.0
    total.backward()
    assert all(m.grad is not None for m in maps)
    # RoIs but no annotated points: S is the mask loss, I/U/V zeros that still reach U and V
    maps = [torch.randn(1, c, 4, 4, requires_grad=True) for c in (2, 25, 25, 25)]
    masks = torch.zeros((1, 4, 4), dtype=torch.int64)
    losses = densepose_losses(DensePoseOutput(*maps), points, masks, LossConfig())
    assert float(losses["loss_densepose_S"]) > 0 and float(losses["loss_densepose_U"]) == 0.0
    sum(losses.values()).backward()
    assert all(m.grad is not None for m in maps)
