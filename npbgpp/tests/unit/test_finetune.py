"""Fine-tuning variants: what each one changes, and that it fits the scene's views."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from npbgpp.config import preset
from npbgpp.data.scene import Scene
from npbgpp.evaluate import model_scene
from npbgpp.finetune import finetune
from npbgpp.model.pipeline import NPBGPP
from shared_utils.cameras.rigs import intrinsics_from_fov, orbit_cameras


def _scene() -> Scene:
    g = np.random.default_rng(1)
    K = intrinsics_from_fov(45.0, 24, 24)
    cams = orbit_cameras(4, 2.8, 30.0, K, 24, 24)
    images = np.repeat(g.random((4, 24, 24, 1)), 3, axis=-1).astype(np.float32) * 0.5
    return Scene("toy", images, cams, (g.random((400, 3)) - 0.5).astype(np.float32))


def _l1(model: NPBGPP, desc, scene: Scene) -> float:  # type: ignore[no-untyped-def]
    with torch.no_grad():
        return sum(
            float((model.render(desc, scene.camera(i)) - scene.image_tensor(i)).abs().mean())
            for i in range(len(scene))
        )


@pytest.mark.parametrize("variant", ["ft", "ft-system"])
def test_finetune_fits_views_and_touches_only_its_parameters(variant: str) -> None:
    torch.manual_seed(0)
    model = NPBGPP(preset("tiny").model, implementation="torch").eval()
    scene = _scene()
    with torch.no_grad():
        before = _l1(model, model_scene(model, scene), scene)
    cfg = preset("tiny")
    cfg.crop_size = 24
    tuned, desc = finetune(model, scene, variant, steps=15, lr=3e-3, cfg=cfg)
    after = _l1(tuned, desc, scene)
    assert after < before

    def same(part: str) -> bool:
        a, b = getattr(model, part).parameters(), getattr(tuned, part).parameters()
        return all(torch.equal(x, y) for x, y in zip(a, b, strict=True))

    # ft freezes the feature extractor and the basis MLP; ft-system updates them
    assert same("extractor") == (variant == "ft")
    assert same("basis") == (variant == "ft")
    assert not same("refiner")
    assert desc.beta.device == next(tuned.parameters()).device


def test_crop_size_and_losses_come_from_the_config() -> None:
    torch.manual_seed(0)
    model = NPBGPP(preset("tiny").model, implementation="torch").eval()
    scene = _scene()
    cfg = preset("tiny")
    runs = {}
    for crop in (16, 24):
        cfg.crop_size = crop
        runs[crop] = finetune(model, scene, "ft", steps=3, cfg=cfg)[1].beta0
    assert not torch.equal(runs[16], runs[24])  # the crop size is the config's
    cfg.crop_size = 24
    assert torch.equal(finetune(model, scene, "ft", steps=3, cfg=cfg)[1].beta0, runs[24])
    # the default is the tiny preset (32 px crops, clipped to the 24 px views here)
    assert torch.equal(finetune(model, scene, "ft", steps=3)[1].beta0, runs[24])
    cfg.loss.ssim_weight = 1.0  # the weights are the config's too
    assert not torch.equal(finetune(model, scene, "ft", steps=3, cfg=cfg)[1].beta0, runs[24])
    cfg.loss.perceptual_weight = 1.0  # VGG-19 without its file: the training error
    with pytest.raises(ValueError, match=r"--loss\.vgg19-weights"):
        finetune(model, scene, "ft", steps=3, cfg=cfg)


def test_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variant"):
        finetune(NPBGPP(preset("tiny").model), _scene(), "full")


def test_cli_finetune_config_is_the_runs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import argparse

    from npbgpp.cli import _finetune_config
    from shared_utils.config import save_config

    weights = tmp_path / "run" / "model.pt"
    weights.parent.mkdir()
    a = argparse.Namespace(weights=weights, config=None)
    assert _finetune_config(a) is None  # no config.yaml beside: the tiny preset
    cfg = preset("tiny")
    cfg.crop_size, cfg.loss.ssim_weight = 40, 0.5
    save_config(cfg, weights.parent / "config.yaml")
    got = _finetune_config(a)
    assert got is not None and (got.crop_size, got.loss.ssim_weight) == (40, 0.5)
    cfg.crop_size = 16
    save_config(cfg, tmp_path / "other.yaml")
    got = _finetune_config(argparse.Namespace(weights=weights, config=tmp_path / "other.yaml"))
    assert got is not None and got.crop_size == 16
    with pytest.raises(SystemExit, match=r"missing\.yaml"):
        _finetune_config(argparse.Namespace(weights=weights, config=tmp_path / "missing.yaml"))
