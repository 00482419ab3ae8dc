"""RoI pooling from P2 against torchvision's roi_align and a brute-force bilinear sampler."""

import math

import torch
from torchvision.ops import roi_align

from mobile_densepose.model.poolers import RoIPooler, assign_levels, boxes_to_rois


def _bilinear(img: torch.Tensor, y: float, x: float) -> torch.Tensor:
    """img (C, H, W) at continuous pixel-centre coordinates, zero outside [-1, H] like RoIAlign."""
    h, w = img.shape[-2:]
    if y < -1 or y > h or x < -1 or x > w:
        return torch.zeros(img.shape[0], dtype=img.dtype)
    y, x = min(max(y, 0.0), h - 1), min(max(x, 0.0), w - 1)
    y0, x0 = math.floor(y), math.floor(x)
    y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
    fy, fx = y - y0, x - x0
    return (
        img[:, y0, x0] * (1 - fy) * (1 - fx)
        + img[:, y0, x1] * (1 - fy) * fx
        + img[:, y1, x0] * fy * (1 - fx)
        + img[:, y1, x1] * fy * fx
    )


def test_p2_roialign_matches_torchvision_and_brute_force() -> None:
    g = torch.Generator().manual_seed(0)
    p2 = torch.randn(2, 3, 20, 24, generator=g, dtype=torch.float64)
    boxes = [
        torch.tensor([[4.0, 8.0, 40.0, 60.0], [0.0, 0.0, 95.0, 79.0]], dtype=torch.float64),
        torch.tensor([[10.5, 3.25, 30.75, 20.0]], dtype=torch.float64),
    ]
    rois = boxes_to_rois(boxes)
    pooler = RoIPooler(4, [4], "roi_align", sampling_ratio=0, aligned=True)
    out = pooler([p2], rois)
    ref = roi_align(p2, rois, 4, spatial_scale=0.25, sampling_ratio=0, aligned=True)
    torch.testing.assert_close(out, ref)
    # brute force: each bin averages ceil(bin size) x ceil(bin size) bilinear samples
    for r in range(rois.shape[0]):
        b, x1, y1, x2, y2 = rois[r].tolist()
        x1, y1, x2, y2 = (v * 0.25 - 0.5 for v in (x1, y1, x2, y2))
        bw, bh = (x2 - x1) / 4, (y2 - y1) / 4
        ny, nx = math.ceil(bh), math.ceil(bw)
        for i in range(4):
            for j in range(4):
                acc = torch.zeros(3, dtype=torch.float64)
                for sy in range(ny):
                    for sx in range(nx):
                        yy = y1 + i * bh + (sy + 0.5) * bh / ny
                        xx = x1 + j * bw + (sx + 0.5) * bw / nx
                        acc += _bilinear(p2[int(b)], yy, xx)
                torch.testing.assert_close(out[r, :, i, j], acc / (ny * nx))


def test_level_assignment_follows_fpn_rule() -> None:
    # sqrt(area) = 224 -> level 4; 112 -> 3; 56 -> 2; 448 -> 5; tiny -> clamped to 2
    boxes = torch.tensor(
        [
            [0, 0, 224, 224],
            [0, 0, 112, 112],
            [0, 0, 56, 56],
            [0, 0, 448, 448],
            [0, 0, 4, 4],
            [0, 0, 2000, 2000],
        ],
        dtype=torch.float32,
    )
    rois = boxes_to_rois([boxes])
    assert assign_levels(rois, 2, 5).tolist() == [2, 1, 0, 3, 0, 3]


def test_multilevel_pooler_reads_the_assigned_level() -> None:
    feats = [torch.full((1, 2, 64 // s, 64 // s), float(s)) for s in (1, 2, 4, 8)]
    pooler = RoIPooler(2, [4, 8, 16, 32], "roi_pool")
    rois = boxes_to_rois([torch.tensor([[0.0, 0.0, 50.0, 50.0], [0.0, 0.0, 230.0, 230.0]])])
    out = pooler(feats, rois)
    assert out[0].unique().tolist() == [1.0]
    assert out[1].unique().tolist() == [4.0]
