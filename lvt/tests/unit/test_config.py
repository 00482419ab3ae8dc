"""Presets carry the paper's numbers and reject inconsistent values with a clear message."""

from __future__ import annotations

import dataclasses

import pytest

from lvt.config import PRESETS, SLICING_PRESETS, TransformerConfig, get_preset


def test_paper_preset_has_the_official_sizes() -> None:
    p = get_preset("paper")
    v, t = p.vqvae, p.transformer
    assert (v.filters, v.residual_channels, v.residual_blocks, v.downsample) == (256, 128, 2, 4)
    assert (v.latent_dim, v.n_codebooks, v.codebook_size, v.commitment_beta) == (256, 4, 512, 1.0)
    assert (v.ema_decay, v.ema_eps, v.lr, v.batch_size) == (0.99, 1e-5, 3e-4, 32)
    assert (t.embedding_dim, t.hidden_dim, t.attention_dim, t.heads) == (128, 512, 128, 8)
    assert (t.encoder_layers, t.decoder_layers, t.lr, t.batch_size) == (8, 8, 2e-5, 64)
    assert t.video_shape == (16, 16, 16) and t.subscale == (4, 2, 2) and t.block_shape == (4, 8, 8)
    assert (
        get_preset("paper-nc1").vqvae.n_codebooks
        == get_preset("paper-nc1").transformer.n_codebooks
        == 1
    )
    assert get_preset("paper-kinetics").vqvae.residual_blocks == 4


def test_slicing_presets_match_the_paper_presets() -> None:
    for name, (subscale, block) in SLICING_PRESETS.items():
        t = PRESETS[f"paper-{name}"].transformer
        assert (t.subscale, t.block_shape) == (subscale, block)
    frames = PRESETS["paper-frames"].transformer
    assert frames.slice_shape == (1, 16, 16) and frames.n_slices == 16


def test_every_preset_is_consistent() -> None:
    for name, preset in PRESETS.items():
        assert preset.vqvae.n_codebooks == preset.transformer.n_codebooks, name
        assert preset.vqvae.codebook_size == preset.transformer.codebook_size, name


def test_bad_values_are_rejected() -> None:
    with pytest.raises(ValueError, match=r"subscale\[1\]"):
        dataclasses.replace(TransformerConfig(), subscale=(4, 3, 2))
    with pytest.raises(ValueError, match="block_shape"):
        dataclasses.replace(TransformerConfig(), block_shape=(3, 8, 8))
    with pytest.raises(ValueError, match="n_prime"):
        dataclasses.replace(TransformerConfig(), n_prime=16)
    with pytest.raises(KeyError, match="known presets"):
        get_preset("nope")
