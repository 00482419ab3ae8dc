"""The whole modeling + rendering pipeline gives the same result through the Triton kernels
(interpreter) as through the PyTorch references, gradients included."""

from __future__ import annotations

import numpy as np
import torch

from npbgpp.camera import Camera
from npbgpp.config import ModelConfig
from npbgpp.model.pipeline import NPBGPP
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at
from shared_utils.kernels import assert_close


def _camera(eye: tuple[float, float, float], size: int = 16) -> Camera:
    K = intrinsics_from_fov(45.0, size, size)
    return Camera(
        torch.as_tensor(K, dtype=torch.float32),
        torch.as_tensor(look_at(eye, (0, 0, 0)), dtype=torch.float32),
        size,
        size,
    )


def test_pipeline_triton_matches_torch() -> None:
    cfg = ModelConfig(
        encoder="tiny", decoder_channels=(4, 4, 4, 4, 4), refiner_channels=(4, 4), basis_hidden=8
    )
    g = torch.Generator().manual_seed(0)
    points = torch.rand(80, 3, generator=g) - 0.5
    views = [(torch.rand(3, 16, 16, generator=g), _camera((2.5, y, 1.0))) for y in (-0.5, 0.5)]
    outs, grads = [], []
    for impl in ("torch", "triton"):
        torch.manual_seed(0)
        model = NPBGPP(cfg, implementation=impl)
        desc = model.model_scene(points, views)
        img = model.render(desc, _camera((2.0, 1.0, 1.5)))
        img.square().mean().backward()
        outs.append((desc.beta0.detach(), desc.beta.detach(), img.detach()))
        grads.append(torch.cat([p.grad.flatten() for p in model.extractor.parameters()]))
    for a, e, name in zip(outs[1], outs[0], ("beta0", "beta", "image"), strict=True):
        assert_close(a, e, rtol=1e-4, atol=1e-5, name=name)
    assert_close(grads[1], grads[0], rtol=1e-3, atol=1e-6, name="extractor grad")
    assert np.isfinite(float(outs[0][2].sum()))
