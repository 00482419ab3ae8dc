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
    tuned, desc = finetune(model, scene, variant, steps=15, lr=3e-3, crop_size=24)
    after = _l1(tuned, desc, scene)
    assert after < before
    same_extractor = all(
        torch.equal(a, b)
        for a, b in zip(model.extractor.parameters(), tuned.extractor.parameters(), strict=True)
    )
    assert same_extractor == (variant == "ft")
    assert not all(
        torch.equal(a, b)
        for a, b in zip(model.refiner.parameters(), tuned.refiner.parameters(), strict=True)
    )


def test_unknown_variant() -> None:
    with pytest.raises(ValueError, match="variant"):
        finetune(NPBGPP(preset("tiny").model), _scene(), "full")
