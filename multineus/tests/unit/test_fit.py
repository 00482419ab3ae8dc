"""Two-stage fitting: stage 1 moves only the new scene's coefficients (and cameras)."""

from __future__ import annotations

import numpy as np
import torch

from multineus.config import tiny_config
from multineus.data.scenes import SceneViews
from multineus.fit import averaging_weights, fit_new_scene
from multineus.model.multineus import MultiNeuS
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at


def test_stage1_moves_only_the_new_coefficients(tmp_path) -> None:
    cfg = tiny_config()
    cfg.renderer.n_samples, cfg.renderer.n_importance = 8, 0
    cfg.rays_per_batch = 16
    cfg.fit.stage1_steps, cfg.fit.stage2_steps = 2, 0
    cfg.trainer.log_every = 0
    meta = MultiNeuS(cfg)
    cam = PinholeCamera(
        intrinsics_from_fov(30.0, 8, 8), look_at((0.0, -3.0, 0.0), (0.0, 0.0, 0.0)), 8, 8
    )
    img = np.full((1, 8, 8, 3), 0.7, dtype=np.float32)
    mask = np.zeros((1, 8, 8), dtype=bool)
    mask[:, 2:6, 2:6] = True
    views = SceneViews.from_arrays(img, mask, [cam])
    model, scene, system = fit_new_scene(cfg, meta, views, tmp_path)
    assert scene == cfg.multi.num_scenes
    before = dict(meta.named_parameters())
    for name, p in model.named_parameters():
        if name.endswith("coefficients"):
            assert torch.equal(p[:scene], before[name])  # training scenes untouched
            assert not torch.equal(p[scene], before[name].mean(0))  # the new one moved
        else:
            assert torch.equal(p, before[name]), name
    assert not torch.equal(system.cameras[0].xi.detach(), torch.zeros(1, 6))  # cameras refined


def test_averaging_weights() -> None:
    assert averaging_weights("uniform") is None
    w = averaging_weights("inverse_distance", np.array([[0.0], [1.0]]), np.array([0.0]))
    assert w is not None and float(w[0]) > 100 * float(w[1])
