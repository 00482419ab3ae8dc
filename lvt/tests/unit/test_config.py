"""Presets carry the paper's numbers and reject inconsistent values with a clear message."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lvt.config import PRESETS, SLICING_PRESETS, TransformerConfig, get_preset
from lvt.model.layers import BlockSelfAttentionLayer
from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE, ResidualBlock


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


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_transformer_shapes_and_parameter_count_follow_the_spec() -> None:
    """Sizes from the spec / official configs (configs/vt/DS*VT.yaml of rakhimovv/lvt):
    DE 128, D 512, DA 128 per head, 8 heads, 8+8 layers, feed-forward D -> D -> D,
    K 512, n_c 4; the count below is written from those numbers alone."""
    t = get_preset("paper").transformer
    assert (t.ffn_dim, t.steps, t.n_prime) == (512, 600_000, 1)
    with torch.device("meta"):  # shapes only, no 190 MB allocation
        model = LatentVideoTransformer(t)
    de, d, da, h, k, nc = 128, 512, 128, 8, 512, 4
    assert len(model.encoder_layers) == len(model.decoder_layers) == 8
    for layer in [*model.encoder_layers, *model.decoder_layers]:
        assert isinstance(layer, BlockSelfAttentionLayer) and layer.heads == h
        assert layer.qkv.weight.shape == (3 * h * da, d) and layer.out.weight.shape == (d, h * da)
        assert [tuple(x.shape) for x in layer.rel_tables] == [(h, 7), (h, 15), (h, 15)]
    assert model.encoder_conv.kernel_size == (5, 3, 3) and model.encoder_conv.stride == (4, 2, 2)
    assert model.decoder_conv.weight.shape == (d, de, 3, 3, 3)
    assert model.decoder_embedding.weight.shape == (nc * k, de)
    assert model.predictor.heads.shape == (nc, d, k)
    assert model.positions.shape == (4, 8, 8, d)  # slice (16/4, 16/2, 16/2)
    norm = 2 * d
    layer = norm + d * 3 * h * da + h * da * d + norm + (d * d + d) * 2 + h * (7 + 15 + 15)
    encoder = nc * k * de + (de * de * 45 + de) + 16 * de + (de * d + d) + 8 * layer + norm
    decoder = nc * k * de + (d * de * 27 + d) + d * d + 8 * layer + norm
    predictor = norm + (d * nc * d + nc * d) + 6 * k * d + nc * d * k + nc * k
    assert _count(model) == encoder + decoder + predictor


def test_paper_slicing_presets_follow_the_official_configs() -> None:
    """configs/vt/DSFVT.yaml, DSSVT.yaml, DSTSVT.yaml: stride, kernel, blocks."""
    expected = {
        "paper-frames": ((16, 1, 1), (7, 1, 1), (1, 16, 16)),
        "paper-spatial": ((1, 2, 2), (1, 3, 3), (4, 8, 8)),
        "paper-spatiotemporal": ((4, 2, 2), (5, 3, 3), (4, 8, 8)),
        "paper": ((4, 2, 2), (5, 3, 3), (4, 8, 8)),
        "paper-kinetics": ((16, 1, 1), (7, 1, 1), (1, 16, 16)),
    }
    for name, (subscale, kernel, block) in expected.items():
        t = get_preset(name).transformer
        assert (t.subscale, t.encoder_kernel, t.block_shape) == (subscale, kernel, block), name
        assert (t.lr, t.batch_size, t.steps, t.video_shape[0]) == (2e-5, 64, 600_000, 16), name
        assert (t.embedding_dim, t.hidden_dim, t.attention_dim, t.heads) == (128, 512, 128, 8)
        assert (t.encoder_layers, t.decoder_layers, t.codebook_size) == (8, 8, 512), name
        # N_FRAMES_PER_VIDEO_TRAIN: 4 for DSSVT (spatial), 16 for the others.
        assert t.clip_frames == (4 if name == "paper-spatial" else 16), name


def test_train_frames_is_checked() -> None:
    base = get_preset("tiny-spatial").transformer
    assert (base.subscale[0], base.clip_frames, base.video_shape[0]) == (1, 4, 8)
    for bad, match in (
        (3, "multiple of"),  # blocks are 2 frames long
        (16, "must be in"),  # longer than the videos
        (0, "must be in"),  # not longer than n_prime
    ):
        with pytest.raises(ValueError, match=match):
            dataclasses.replace(base, train_frames=bad)
    with pytest.raises(ValueError, match="needs s_t = 1"):
        dataclasses.replace(get_preset("tiny").transformer, train_frames=4)
    # The full length is always allowed (it is the default).
    assert dataclasses.replace(get_preset("tiny").transformer, train_frames=8).clip_frames == 8


def test_paper_vqvae_shapes_follow_the_spec() -> None:
    """configs/vqvae/Base-VQVAE.yaml + PR-DVQVAE2.yaml: NF 256, RES_CHANNELS 128, 2 residual
    layers, codebook DIM 256 split in NUM 4 of SIZE 512, batch 32, lr 3e-4, 500k steps."""
    v = get_preset("paper").vqvae
    assert (v.steps, v.batch_size, v.lr) == (500_000, 32, 3e-4)
    with torch.device("meta"):
        model = VQVAE(v)
    assert model.quantizer.codebooks.shape == (4, 512, 64)
    convs = [m for m in model.encoder.modules() if isinstance(m, torch.nn.Conv2d)]
    strided = [c for c in convs if c.stride == (2, 2)]
    assert len(strided) == 2  # 64x64 -> 16x16
    assert convs[-1].out_channels == 256  # D
    residual = [m for m in model.encoder.modules() if isinstance(m, ResidualBlock)]
    assert len(residual) == 2
    assert all(r.body[1].out_channels == 128 for r in residual)  # type: ignore[union-attr]
    with torch.device("meta"):
        kinetics = VQVAE(get_preset("paper-kinetics").vqvae)
    assert sum(isinstance(m, ResidualBlock) for m in kinetics.encoder.modules()) == 4
