"""Two-stage fitting: stage 1 moves only the new scene's coefficients (and cameras)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from multineus.config import tiny_config
from multineus.data.scenes import SceneViews
from multineus.fit import CoefficientPrior, averaging_weights, fit_new_scene
from multineus.model.multineus import MultiNeuS
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at


def _one_view() -> SceneViews:
    cam = PinholeCamera(
        intrinsics_from_fov(30.0, 8, 8), look_at((0.0, -3.0, 0.0), (0.0, 0.0, 0.0)), 8, 8
    )
    img = np.full((1, 8, 8, 3), 0.7, dtype=np.float32)
    mask = np.zeros((1, 8, 8), dtype=bool)
    mask[:, 2:6, 2:6] = True
    return SceneViews.from_arrays(img, mask, [cam])


def _prior_fits(
    cfg, field: str, weights: tuple[float, ...], stages: tuple[int, int], tmp_path
) -> tuple[MultiNeuS, dict[float, tuple[MultiNeuS, int]]]:
    """One cheap fit of the one-view scene per value of a FitConfig prior weight."""
    cfg.renderer.n_samples, cfg.renderer.n_importance = 8, 0
    cfg.rays_per_batch = 16
    cfg.fit.stage1_steps, cfg.fit.stage2_steps = stages
    cfg.fit.refine_cameras = False
    cfg.trainer.log_every = 0
    meta = MultiNeuS(cfg)
    fits = {}
    for weight in weights:
        setattr(cfg.fit, field, weight)
        torch.manual_seed(0)
        fitted, new, _ = fit_new_scene(cfg, meta, _one_view(), tmp_path / f"{field}{weight}")
        fits[weight] = (fitted, new)
    return meta, fits


def test_stage1_moves_only_the_new_coefficients(tmp_path) -> None:
    cfg = tiny_config()
    cfg.renderer.n_samples, cfg.renderer.n_importance = 8, 0
    cfg.rays_per_batch = 16
    cfg.fit.stage1_steps, cfg.fit.stage2_steps = 2, 0
    cfg.trainer.log_every = 0
    meta = MultiNeuS(cfg)
    model, scene, system = fit_new_scene(cfg, meta, _one_view(), tmp_path)
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


def test_coefficient_prior_value_gradient_and_pull(tmp_path) -> None:
    cfg = tiny_config()
    torch.manual_seed(0)
    model = MultiNeuS(cfg)
    scene = model.add_scene()
    prior = CoefficientPrior(model, scene, weight=1.0)
    assert float(prior.deviation()) == 0.0
    params = model.scene_parameters()
    count = sum(p.shape[1] for p in params)
    with torch.no_grad():
        params[0][scene] += 0.3  # one layer's K entries move by 0.3
        params[1][0] += 5.0  # another scene: not part of the prior
    assert float(prior.deviation()) == pytest.approx(0.09 * params[0].shape[1] / count)
    prior.deviation().backward()
    grad = params[0].grad
    assert grad is not None and torch.count_nonzero(grad[:scene]) == 0
    torch.testing.assert_close(grad[scene], torch.full_like(grad[scene], 0.6 / count))
    # fitting with a strong prior stays much closer to the average than without
    meta, fits = _prior_fits(cfg, "coefficient_prior", (0.0, 1000.0), (20, 0), tmp_path)
    drift = {}
    for weight, (fitted, new) in fits.items():
        drift[weight] = sum(
            float((p[new] - p0.mean(0)).abs().sum())
            for p, p0 in zip(fitted.scene_parameters(), meta.scene_parameters(), strict=True)
        )
    assert drift[1000.0] < 0.2 * drift[0.0], drift


def test_warmup_cosine_schedule_values() -> None:
    from multineus.train import warmup_cosine

    assert warmup_cosine(0, 100, 10, 0.05) == 0.0
    assert warmup_cosine(5, 100, 10, 0.05) == pytest.approx(0.5)
    assert warmup_cosine(10, 100, 10, 0.05) == pytest.approx(1.0)
    assert warmup_cosine(55, 100, 10, 0.05) == pytest.approx(0.525)  # cosine midpoint
    assert warmup_cosine(100, 100, 10, 0.05) == pytest.approx(0.05)
    after = [warmup_cosine(s, 100, 10, 0.05) for s in range(10, 101)]
    assert all(a >= b for a, b in itertools.pairwise(after))
    assert {warmup_cosine(s, 50, 0, 1.0) for s in range(51)} == {1.0}  # constant
    from multineus.config import preset

    paper = preset("paper")
    assert (paper.lr_warmup_steps, paper.lr_final_factor) == (5000, 0.05)  # NeuS's values


def test_meta_training_follows_the_schedule(tmp_path) -> None:
    from multineus.train import meta_train, warmup_cosine

    cfg = tiny_config()
    cfg.renderer.n_samples, cfg.renderer.n_importance = 8, 0
    cfg.rays_per_batch, cfg.multi.num_scenes = 16, 1
    cfg.trainer.steps, cfg.trainer.log_every = 5, 1
    cfg.lr_warmup_steps, cfg.lr_final_factor = 2, 0.1
    meta_train(cfg, [_one_view()], tmp_path)
    import json

    final = json.loads((tmp_path / "metrics.json").read_text())["final"]
    assert final["train/lr"] == pytest.approx(cfg.lr * warmup_cosine(4, 5, 2, 0.1))


def _rendered_views(cfg, model: MultiNeuS, scene: int, size: int = 12) -> SceneViews:
    """Two views of one of the model's own scenes, rendered by the model itself."""
    from multineus.system import MultiNeuSSystem

    cams = [
        PinholeCamera(
            intrinsics_from_fov(30.0, size, size), look_at(eye, (0.0, 0.0, 0.0)), size, size
        )
        for eye in ((0.0, -3.0, 0.0), (2.0, -2.0, 0.5))
    ]
    blank = SceneViews.from_arrays(
        np.zeros((2, size, size, 3), np.float32), np.ones((2, size, size), bool), cams
    )
    system = MultiNeuSSystem(cfg, model, [blank], refine_cameras=False)
    rows, cols = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
    uv = torch.tensor(np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], -1), dtype=torch.float32)
    images, masks = [], []
    for v in range(2):
        out = system.render(scene, 0, torch.full((len(uv),), v), uv)
        images.append(out.color.detach().reshape(size, size, 3).numpy())
        masks.append(out.opacity.detach().reshape(size, size).numpy() > 0.5)
    return SceneViews.from_arrays(np.stack(images), np.stack(masks), cams)


def test_photometric_weights_pick_the_scene_that_rendered_the_views(tmp_path) -> None:
    from multineus.fit import photometric_weights

    cfg = tiny_config()
    cfg.renderer.n_samples, cfg.renderer.n_importance = 16, 0
    torch.manual_seed(0)
    model = MultiNeuS(cfg)
    with torch.no_grad():  # make the scenes clearly different people
        for p in model.scene_parameters():
            p.add_(0.5 * torch.randn_like(p))
    target = 2
    views = _rendered_views(cfg, model, target)
    w = photometric_weights(cfg, model, views, rays=144, temperature=0.5)
    assert w.shape == (cfg.multi.num_scenes,)
    assert float(w.sum()) == pytest.approx(1.0, abs=1e-6)
    assert int(torch.argmax(w)) == target and float(w[target]) > 1.0 / cfg.multi.num_scenes
    # Temperature: sharp -> the target alone; soft -> close to the plain mean.
    sharp = photometric_weights(cfg, model, views, rays=144, temperature=1e-3)
    assert float(sharp[target]) > 0.99
    soft = photometric_weights(cfg, model, views, rays=144, temperature=1e3)
    np.testing.assert_allclose(soft.numpy(), 1.0 / cfg.multi.num_scenes, atol=1e-3)
    with pytest.raises(ValueError, match="temperature"):
        photometric_weights(cfg, model, views, temperature=0.0)
    # fit_new_scene uses them when the config asks: the new scene starts at their average.
    cfg.fit.init_weights, cfg.fit.init_rays, cfg.fit.init_temperature = "photometric", 144, 1e-3
    cfg.fit.stage1_steps = cfg.fit.stage2_steps = 0
    fitted, scene, _ = fit_new_scene(cfg, model, views, tmp_path)
    for p_fit, p0 in zip(fitted.scene_parameters(), model.scene_parameters(), strict=True):
        expected = (sharp[:, None] * p0.detach().reshape(len(sharp), -1)).sum(0)
        np.testing.assert_allclose(
            p_fit[scene].detach().reshape(-1).numpy(), expected.numpy(), rtol=1e-4, atol=1e-6
        )


def test_shared_prior_value_gradient_and_pull(tmp_path) -> None:
    cfg = tiny_config()
    torch.manual_seed(0)
    model = MultiNeuS(cfg)
    scene = model.add_scene()
    prior = CoefficientPrior(model, scene, weight=0.0, shared_weight=1.0)
    assert float(prior.shared_deviation()) == 0.0
    coeff_ids = {id(p) for p in model.scene_parameters()}
    shared = [p for p in model.parameters() if id(p) not in coeff_ids]
    count = sum(p.numel() for p in shared)
    with torch.no_grad():
        shared[0].add_(0.5)  # one shared tensor moves
        model.scene_parameters()[0][scene] += 9.0  # coefficients: not this prior's term
    assert float(prior.shared_deviation()) == pytest.approx(0.25 * shared[0].numel() / count)
    prior.shared_deviation().backward()
    grad = shared[0].grad
    assert grad is not None
    torch.testing.assert_close(grad, torch.full_like(grad, 1.0 / count))
    assert model.scene_parameters()[0].grad is None
    # Stage 2 with a strong shared prior leaves the shared layers closer to the meta weights.
    cfg.fit.stage2_lr = 1e-3
    meta, fits = _prior_fits(cfg, "shared_prior", (0.0, 1e5), (0, 15), tmp_path)
    drift = {}
    for weight, (fitted, _) in fits.items():
        ids = {id(p) for p in fitted.scene_parameters()}
        drift[weight] = sum(
            float((p - p0).abs().sum())
            for (p, p0) in zip(fitted.parameters(), meta.parameters(), strict=True)
            if id(p) not in ids
        )
    assert drift[1e5] < 0.5 * drift[0.0], drift


def test_stage2_moves_shared_layers_at_its_own_rates(tmp_path, monkeypatch) -> None:
    import multineus.fit as fit_module

    cfg = tiny_config()
    cfg.renderer.n_samples, cfg.renderer.n_importance = 8, 0
    cfg.rays_per_batch = 16
    cfg.fit.stage1_steps, cfg.fit.stage2_steps = 1, 2
    cfg.fit.lr, cfg.fit.stage2_lr, cfg.fit.camera_lr = 7e-3, 1e-3, 3e-3
    cfg.fit.refine_cameras = True
    cfg.trainer.log_every = 0
    groups: dict[str, list[tuple[float, set[int]]]] = {}

    class Recording(fit_module.Trainer):  # type: ignore[misc, valid-type]
        def __init__(self, tcfg, **kw) -> None:
            super().__init__(tcfg, **kw)
            stage = kw["run_dir"].name
            groups[stage] = [
                (g["lr"], {id(p) for p in g["params"]}) for g in self.optimizer.param_groups
            ]

    monkeypatch.setattr(fit_module, "Trainer", Recording)
    meta = MultiNeuS(cfg)
    model, scene, system = fit_new_scene(cfg, meta, _one_view(), tmp_path)
    cams = {id(p) for p in system.cameras.parameters()}
    assert len(cams) == 2  # the se(3) correction and the focal multipliers
    # stage 1: the scene coefficients at fit.lr, the cameras at camera_lr
    (lr1, p1), (lr1_cam, c1) = groups["stage1"]
    assert (lr1, lr1_cam) == (7e-3, 3e-3) and c1 == cams
    assert p1 == {id(p) for p in model.scene_parameters()}
    # stage 2: every network parameter at stage2_lr, the cameras at camera_lr
    (lr2, p2), (lr2_cam, c2) = groups["stage2"]
    assert (lr2, lr2_cam) == (1e-3, 3e-3) and c2 == cams
    assert p2 == {id(p) for p in model.parameters()}
    # the shared layers moved (only stage 2 can move them); the training scenes'
    # coefficients got no gradient and stayed
    before = dict(meta.named_parameters())
    moved = [n for n, p in model.named_parameters() if not n.endswith("coefficients")]
    assert moved and all(
        not torch.equal(dict(model.named_parameters())[n], before[n]) for n in moved
    )
    for name, p in model.named_parameters():
        if name.endswith("coefficients"):
            assert torch.equal(p[:scene], before[name])


def test_stage2_scene_layers_moves_only_the_scene_specific_layers(tmp_path) -> None:
    cfg = tiny_config()
    cfg.renderer.n_samples, cfg.renderer.n_importance = 8, 0
    cfg.rays_per_batch = 16
    cfg.fit.stage1_steps, cfg.fit.stage2_steps = 0, 2
    cfg.fit.stage2_params = "scene_layers"
    cfg.fit.refine_cameras = False
    cfg.trainer.log_every = 0
    meta = MultiNeuS(cfg)
    model, scene, _ = fit_new_scene(cfg, meta, _one_view(), tmp_path)
    before = dict(meta.named_parameters())
    scene_layer_ids = {id(p) for layer in model.scene_layers() for p in layer.parameters()}
    moved, kept = [], []
    for name, p in model.named_parameters():
        if name.endswith("coefficients"):
            assert torch.equal(p[:scene], before[name])  # training scenes untouched
            assert not torch.equal(p[scene], before[name].mean(0))
        elif id(p) in scene_layer_ids:
            moved.append(not torch.equal(p, before[name]))
        else:
            kept.append(torch.equal(p, before[name]))
    # the bases of the scene-specific layers moved; shared layers and variance did not
    assert moved and all(moved)
    assert kept and all(kept)
    cfg.fit.stage2_params = "colour"  # type: ignore[assignment]
    with pytest.raises(ValueError, match="stage2_params"):
        fit_new_scene(cfg, meta, _one_view(), tmp_path / "bad")


def test_symmetry_term_value_and_pull(tmp_path, monkeypatch) -> None:
    cfg = tiny_config()
    torch.manual_seed(0)
    model = MultiNeuS(cfg)
    scene = model.add_scene()
    prior = CoefficientPrior(model, scene, 0.0, symmetry_weight=1.0, symmetry_points=20000)
    # an SDF even in x is symmetric; f = x gives 4 E[x^2] = 4 / 5 over the unit ball
    monkeypatch.setattr(model, "sdf", lambda x, s: x[:, 0] ** 2 + x[:, 1])
    assert float(prior.asymmetry()) == pytest.approx(0.0, abs=1e-12)
    monkeypatch.setattr(model, "sdf", lambda x, s: x[:, 0])
    assert float(prior.asymmetry()) == pytest.approx(0.8, rel=0.03)
    monkeypatch.undo()
    # a strong symmetry weight leaves the fitted SDF more symmetric than none
    cfg.fit.stage2_lr = 1e-3
    _, fits = _prior_fits(cfg, "symmetry", (0.0, 1e3), (10, 15), tmp_path)
    asym = {}
    for weight, (fitted, new) in fits.items():
        probe = CoefficientPrior(fitted, new, 0.0, symmetry_points=4096, seed=1)
        with torch.no_grad():
            asym[weight] = float(probe.asymmetry())
    assert asym[1e3] < 0.5 * asym[0.0], asym
