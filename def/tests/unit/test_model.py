"""The U-Net, the histogram target/loss and the ablation losses."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from def_features.config import PRESETS, ModelConfig, preset
from def_features.model.histogram import (
    HistogramBins,
    histogram_expectation,
    histogram_loss,
    histogram_target,
    regression_loss,
)
from def_features.model.unet import DefUNet, normalise_depth


def test_paper_preset_matches_the_paper() -> None:
    cfg = preset("paper")
    assert cfg.model.encoder == "resnet152"
    assert cfg.model.decoder_channels == (512, 256, 128, 64)
    bins = HistogramBins(cfg.model.n_bins, cfg.model.margin_bins, cfg.data.truncation)
    assert bins.total == 244
    assert cfg.data.patch_size == 64 and cfg.data.pixel_size == 0.02
    assert cfg.data.truncation == 1.0
    assert set(PRESETS) >= {"paper", "tiny", "mse", "l1"}
    with pytest.raises(KeyError, match="unknown DEF preset"):
        preset("nope")


def test_histogram_target_integrates_to_one_and_recovers_distance() -> None:
    bins = HistogramBins(240, 2, 1.0)
    d = torch.tensor([0.0, 0.013, 0.25, 0.5, 0.777, 0.99, 1.0], dtype=torch.float64)
    t = histogram_target(d, bins)
    assert t.shape == (7, 244)
    torch.testing.assert_close(t.sum(-1), torch.ones(7, dtype=torch.float64))
    expect = (t * bins.centres().double()).sum(-1)
    # Away from the ends the Gaussian is symmetric: exact up to discretisation.
    torch.testing.assert_close(expect[2:5], d[2:5], atol=1e-4, rtol=0)
    # Near the ends the renormalised tails are cut by the margins: within a bin width.
    assert (expect - d).abs().max() < bins.width
    # sigma is one bin width: ~68% of the mass within one bin width of d (interior).
    centres = bins.centres().double()
    near = ((centres - 0.5).abs() <= bins.width).double()
    assert 0.6 < float((t[3] * near).sum()) < 0.9


def test_histogram_loss_is_zero_at_target_and_prediction_matches() -> None:
    bins = HistogramBins(60, 2, 1.0)
    d = torch.rand(2, 8, 8, generator=torch.Generator().manual_seed(0))
    logits = torch.log(histogram_target(d, bins).clamp_min(1e-30)).movedim(-1, 1)
    loss = histogram_loss(logits, d, bins)
    assert abs(float(loss)) < 1e-5
    pred = histogram_expectation(logits, bins)
    assert (pred - d).abs().max() < bins.width
    worse = histogram_loss(torch.zeros_like(logits), d, bins)
    assert float(worse) > 1.0


def test_regression_losses_on_known_values() -> None:
    p = torch.tensor([[[0.0, 1.0], [0.5, 0.25]]])
    t = torch.tensor([[[0.5, 0.0], [0.5, 0.0]]])
    m = torch.tensor([[[True, True], [False, True]]])
    assert float(regression_loss(p, t, "mse")) == pytest.approx((0.25 + 1 + 0 + 0.0625) / 4)
    assert float(regression_loss(p, t, "l1", m)) == pytest.approx((0.5 + 1 + 0.25) / 3)
    with pytest.raises(ValueError, match="mse"):
        regression_loss(p, t, "huber")


def test_normalise_depth_subtracts_surface_minimum() -> None:
    depth = torch.tensor([[[5.0, 3.0], [100.0, 4.0]]])
    mask = torch.tensor([[[True, True], [False, True]]])
    x = normalise_depth(depth, mask, 2.0)
    torch.testing.assert_close(x, torch.tensor([[[[1.0, 0.0], [0.0, 0.5]]]]))


@pytest.mark.parametrize("head", ["histogram", "regression"])
def test_unet_shapes_and_gradients(head: str) -> None:
    cfg = dataclasses.replace(
        ModelConfig(encoder="resnet10t", decoder_channels=(32, 16, 16, 8), n_bins=20), head=head
    )
    torch.manual_seed(0)
    net = DefUNet(cfg)
    x = torch.randn(2, 1, 64, 64)
    out = net(x)
    assert out.shape == (2, 24 if head == "histogram" else 1, 64, 64)
    out.square().mean().backward()
    assert all(p.grad is not None for p in net.encoder.parameters() if p.requires_grad)
    d = net.predict_distance(x)
    d = d.detach()
    assert d.shape == (2, 64, 64) and float(d.min()) >= 0 and float(d.max()) <= 1
    with pytest.raises(ValueError, match="multiples of 32"):
        net(torch.randn(1, 1, 40, 40))
