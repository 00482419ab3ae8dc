"""LPIPS with weights saved in the real file formats (random values, made here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torchvision.models import alexnet
from torchvision.models.vgg import cfgs, make_layers

from shared_utils.metrics.lpips import LPIPS

ALEX_CHANNELS = (64, 192, 384, 256, 256)
VGG_CHANNELS = (64, 128, 256, 512, 512)


def _heads(channels: tuple[int, ...], seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {
        f"lin{i}.model.1.weight": torch.rand(1, c, 1, 1, generator=g)
        for i, c in enumerate(channels)
    }


@pytest.fixture(scope="module")
def alex_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("lpips")
    torch.manual_seed(0)
    torch.save(alexnet(weights=None).state_dict(), folder / "alexnet-owt-7be5be79.pth")
    torch.save(_heads(ALEX_CHANNELS, 1), folder / "alex.pth")
    return folder / "alexnet-owt-7be5be79.pth", folder / "alex.pth"


def test_alex_properties(alex_files: tuple[Path, Path]) -> None:
    model = LPIPS("alex", backbone_weights=alex_files[0], head_weights=alex_files[1])
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2, 3, 64, 64, generator=g)
    y = torch.rand(2, 3, 64, 64, generator=g)
    d = model(x, y)
    assert d.shape == (2,)
    assert torch.all(d > 0)
    torch.testing.assert_close(d, model(y, x))
    torch.testing.assert_close(model(x, x), torch.zeros(2))
    # closer images are closer
    assert torch.all(model(x, (x + 0.02 * (y - x))) < d)


def test_alex_equals_hand_computation(alex_files: tuple[Path, Path]) -> None:
    model = LPIPS("alex", backbone_weights=alex_files[0], head_weights=alex_files[1])
    with torch.device("meta"):
        net = alexnet(weights=None)
    net = net.to_empty(device="cpu")
    net.load_state_dict(torch.load(alex_files[0], weights_only=True))
    heads = torch.load(alex_files[1], weights_only=True)
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 48, 48, generator=g)
    y = torch.rand(1, 3, 48, 48, generator=g)
    shift = torch.tensor([-0.030, -0.088, -0.188]).view(1, 3, 1, 1)
    scale = torch.tensor([0.458, 0.448, 0.450]).view(1, 3, 1, 1)

    def taps(img: torch.Tensor) -> list[torch.Tensor]:
        h = ((img * 2 - 1) - shift) / scale
        out = []
        for i, layer in enumerate(net.features[:12]):
            h = F.relu(h) if isinstance(layer, torch.nn.ReLU) else layer(h)
            if i in (1, 4, 7, 9, 11):  # the five ReLUs
                out.append(h)
        return out

    expected = torch.zeros(())
    for i, (fx, fy) in enumerate(zip(taps(x), taps(y))):
        nx = fx / (fx.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        ny = fy / (fy.pow(2).sum(1, keepdim=True).sqrt() + 1e-10)
        w = heads[f"lin{i}.model.1.weight"].view(1, -1, 1, 1)
        expected = expected + ((nx - ny) ** 2 * w).sum(1).mean()
    torch.testing.assert_close(model(x, y)[0], expected, rtol=1e-5, atol=1e-6)


def test_vgg_loads_features_only_state_dict(tmp_path: Path) -> None:
    torch.manual_seed(4)
    trunk = {f"features.{k}": v for k, v in make_layers(cfgs["D"]).state_dict().items()}
    torch.save(trunk, tmp_path / "vgg16-397923af.pth")
    torch.save(_heads(VGG_CHANNELS, 5), tmp_path / "vgg.pth")
    model = LPIPS(
        "vgg", backbone_weights=tmp_path / "vgg16-397923af.pth", head_weights=tmp_path / "vgg.pth"
    )
    x = torch.rand(1, 3, 32, 32)
    y = torch.rand(1, 3, 32, 32)
    assert float(model(x, y)[0]) > 0
    assert float(model(x, x)[0]) == 0.0


def test_missing_and_wrong_files(alex_files: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(
        FileNotFoundError, match=r"alexnet-owt-7be5be79\.pth.*download\.pytorch\.org"
    ):
        LPIPS("alex", backbone_weights=tmp_path / "nope.pth", head_weights=alex_files[1])
    with pytest.raises(FileNotFoundError, match=r"alex\.pth.*lpips"):
        LPIPS("alex", backbone_weights=alex_files[0], head_weights=None)
    bad = _heads(ALEX_CHANNELS, 0)
    del bad["lin3.model.1.weight"]
    torch.save(bad, tmp_path / "bad.pth")
    with pytest.raises(ValueError, match=r"bad\.pth.*lin3\.model\.1\.weight"):
        LPIPS("alex", backbone_weights=alex_files[0], head_weights=tmp_path / "bad.pth")
    with pytest.raises(ValueError, match="no 'features"):
        LPIPS("alex", backbone_weights=alex_files[1], head_weights=alex_files[1])
