"""Feature extractor and gated refiner: shapes, architecture facts, gating behaviour."""

from __future__ import annotations

import torch

from npbgpp.model.extractor import FeatureExtractor
from npbgpp.model.refiner import GatedConv, Refiner


def test_tiny_extractor_keeps_resolution_any_size() -> None:
    torch.manual_seed(0)
    net = FeatureExtractor(8, "tiny", (16, 16, 8, 8, 8))
    for h, w in [(32, 32), (40, 56)]:
        out = net(torch.rand(2, 3, h, w))
        assert out.shape == (2, 8, h, w)
        assert bool(torch.isfinite(out).all())


def test_paper_extractor_uses_spnasnet_without_download() -> None:
    net = FeatureExtractor(8, "spnasnet_100", (256, 128, 64, 32, 16))
    assert net.encoder.feature_info.channels() == [16, 24, 40, 96, 320]
    assert [b.body[0].out_channels for b in net.decoder] == [256, 128, 64, 32, 16]
    assert all(isinstance(b.body[1], torch.nn.LeakyReLU) for b in net.decoder)
    net.eval()
    with torch.no_grad():
        out = net(torch.rand(1, 3, 64, 64))
    assert out.shape == (1, 8, 64, 64)


def _rasters(c: int, h: int, w: int, scales: int) -> list[torch.Tensor]:
    return [torch.rand(1, c, h >> s, w >> s) for s in range(scales)]


def test_refiner_paper_filters_and_output_shape() -> None:
    torch.manual_seed(0)
    net = Refiner(9, (16, 32, 48, 64, 80))
    assert [blk[0].feature.out_channels for blk in net.down] == [16, 32, 48, 64, 80]
    assert all(blk[0].feature.padding_mode == "reflect" for blk in net.down)
    out = net(_rasters(9, 32, 48, 5))
    assert out.shape == (1, 3, 32, 48)
    assert bool(torch.isfinite(out).all())


def test_refiner_uses_every_scale() -> None:
    torch.manual_seed(0)
    net = Refiner(9, (8, 8, 8))
    rasters = [r.requires_grad_(True) for r in _rasters(9, 16, 16, 3)]
    net(rasters).sum().backward()
    assert all(r.grad is not None and float(r.grad.abs().sum()) > 0 for r in rasters)


def test_gated_conv_closed_gate_gives_zero() -> None:
    g = GatedConv(2, 3)
    with torch.no_grad():
        g.gate.weight.zero_()
        g.gate.bias.fill_(-1e4)
    assert float(g(torch.randn(1, 2, 5, 5)).abs().max()) == 0.0
