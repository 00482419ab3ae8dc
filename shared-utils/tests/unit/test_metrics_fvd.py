"""The I3D network for FVD: layout, state_dict round trip, FVD(x, x) = 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from shared_utils.metrics.fvd import I3D, _same_pads, fvd, i3d_features, load_i3d, preprocess_videos


@pytest.fixture(scope="module")
def i3d_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    model = I3D()
    for m in model.modules():  # non-trivial batch-norm statistics, so loading them matters
        if isinstance(m, torch.nn.BatchNorm3d):
            assert m.running_mean is not None and m.running_var is not None
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    path = tmp_path_factory.mktemp("i3d") / "i3d_kinetics400.pt"
    torch.save(model.state_dict(), path)
    return path


def test_layout_and_shapes() -> None:
    model = I3D().eval()
    keys = model.state_dict().keys()
    for name in (
        "Conv3d_1a_7x7.conv3d.weight",
        "Mixed_5c.b3b.bn.running_var",
        "logits.conv3d.bias",
    ):
        assert name in keys
    assert model.Mixed_5c.out_channels == 1024
    x = torch.rand(2, 3, 8, 64, 64) * 2 - 1
    with torch.no_grad():
        assert model(x).shape == (2, 400)
        assert model.features(x).shape == (2, 1024)


def test_tf_same_padding() -> None:
    assert _same_pads(224, 7, 2) == (2, 3)
    assert _same_pads(16, 7, 2) == (2, 3)
    assert _same_pads(7, 3, 2) == (1, 1)
    assert _same_pads(8, 1, 1) == (0, 0)
    assert _same_pads(3, 2, 2) == (0, 1)


def test_load_round_trip(i3d_file: Path) -> None:
    model = load_i3d(i3d_file)
    reference = I3D().eval()
    reference.load_state_dict(torch.load(i3d_file, weights_only=True))
    x = torch.rand(1, 3, 8, 64, 64) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_missing_weights_message(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"absent\.pt.*Kinetics-400.*local"):
        load_i3d(tmp_path / "absent.pt")
    torch.save({"a": torch.zeros(1)}, tmp_path / "wrong.pt")
    with pytest.raises(ValueError, match=r"wrong\.pt.*logits"):
        load_i3d(tmp_path / "wrong.pt")


def test_preprocess_protocol() -> None:
    videos = np.full((2, 3, 10, 12, 3), 255, np.uint8)
    videos[0] = 0
    x = preprocess_videos(videos, resolution=224)
    assert x.shape == (2, 3, 3, 224, 224)
    assert float(x[0].max()) == -1.0
    assert float(x[1].min()) == pytest.approx(1.0, abs=1e-6)


def test_full_resolution_forward(i3d_file: Path) -> None:
    # the protocol's size: 224 x 224 frames, one 8-frame clip keeps this fast
    model = load_i3d(i3d_file)
    feats = i3d_features(np.random.default_rng(0).random((1, 8, 32, 32, 3)), model, resolution=224)
    assert feats.shape == (1, 400) and np.all(np.isfinite(feats))


def test_fvd_of_a_set_with_itself_is_zero(i3d_file: Path) -> None:
    model = load_i3d(i3d_file)
    rng = np.random.default_rng(1)
    real = rng.random((4, 8, 32, 32, 3)).astype(np.float32)
    same = fvd(real, real, model, batch_size=2, resolution=64)
    y = np.linspace(0, 1, 32, dtype=np.float32)[None, None, :, None, None]
    fake = np.broadcast_to(y, real.shape).copy() * rng.random((4, 1, 1, 1, 3), dtype=np.float32)
    different = fvd(real, fake, model, batch_size=2, resolution=64)
    assert abs(same) < 1e-3 * max(different, 1e-6)
    assert different > 0
