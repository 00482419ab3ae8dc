"""Every value of the ``paper`` preset against the spec (NeuS as used by Multi-NeuS)."""

from __future__ import annotations

import pytest

from multineus.config import paper_config, preset
from multineus.train import warmup_cosine


def test_paper_preset_matches_the_spec() -> None:
    cfg = paper_config()
    # SDF network: 8 hidden layers of 256, the point fed again at layer 4, 6 frequencies
    assert (cfg.sdf.layers, cfg.sdf.hidden, cfg.sdf.skip_in, cfg.sdf.multires) == (8, 256, (4,), 6)
    assert cfg.sdf.softplus_beta == 100.0
    # colour network: 4 x 256, no view direction for heads
    assert (cfg.color.layers, cfg.color.hidden, cfg.color.use_view_dir) == (4, 256, False)
    # learned variance starts at 0.3
    assert cfg.renderer.init_variance == 0.3
    # 64 coarse + 64 importance samples, added in 4 up-sampling rounds
    r = cfg.renderer
    assert (r.n_samples, r.n_importance, r.up_sample_steps) == (64, 64, 4)
    # losses: eikonal 0.1, mask 0.1 (meta-training; fitting uses fit.mask_weight)
    assert (cfg.loss.eikonal, cfg.loss.mask, cfg.loss.color) == (0.1, 0.1, "l1")
    # Adam at 5e-4, linear warm-up over 5000 steps, half cosine to 0.05 x, 300k steps
    assert (cfg.lr, cfg.lr_warmup_steps, cfg.lr_final_factor) == (5e-4, 5000, 0.05)
    assert cfg.trainer.steps == 300_000
    steps = cfg.trainer.steps
    assert warmup_cosine(2500, steps, 5000, 0.05) == pytest.approx(0.5)
    assert warmup_cosine(5000, steps, 5000, 0.05) == pytest.approx(1.0)
    assert warmup_cosine(steps, steps, 5000, 0.05) == pytest.approx(0.05)
    # meshes at 512^3
    assert cfg.mesh_resolution == 512
    # the preset registry hands out the same values, as a fresh copy each time
    again = preset("paper")
    assert again == cfg and again is not cfg
    again.sdf.layers = 2
    assert preset("paper").sdf.layers == 8


def test_both_presets_fit_with_mask_weight_one() -> None:
    # the README's claim: fitting uses a mask-loss weight of 1.0 in both presets
    assert paper_config().fit.mask_weight == 1.0 and preset("tiny").fit.mask_weight == 1.0
    assert preset("tiny").loss.mask == 1.0  # tiny's meta-training too (README: why)


def test_our_fit_additions_are_off_in_the_paper_preset() -> None:
    # coefficient prior, symmetry term and a restricted stage 2 are ours (README): the
    # paper preset fits without them, tiny (the demo) uses the prior and the symmetry term
    fit = paper_config().fit
    assert (fit.coefficient_prior, fit.shared_prior, fit.symmetry) == (0.0, 0.0, 0.0)
    assert fit.stage2_params == "all"
    tiny = preset("tiny").fit
    assert (tiny.coefficient_prior, tiny.symmetry, tiny.stage2_params) == (100.0, 100.0, "all")
