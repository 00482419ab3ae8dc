"""Causality of the latent video transformer: a code's logits never depend on itself or
on any code after it in generation order (later slice, later raster position in the
slice, later channel at the same position), for each of the paper's slicing presets."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from lvt.config import SLICING_PRESETS, TINY_TRANSFORMER
from lvt.model.subscale import generation_order
from lvt.model.transformer import LatentVideoTransformer


def _tiny(subscale: tuple[int, int, int], block: tuple[int, int, int]):
    return dataclasses.replace(
        TINY_TRANSFORMER,
        video_shape=(16, 4, 4),
        subscale=subscale,
        encoder_kernel=tuple(max(1, s + 1 - s % 2) for s in subscale),
        block_shape=block,
        codebook_size=8,
        n_codebooks=2,
        hidden_dim=24,
        embedding_dim=16,
        attention_dim=8,
        ffn_dim=32,
        heads=2,
    )


@pytest.mark.parametrize("preset", sorted(SLICING_PRESETS))
def test_future_codes_never_change_earlier_logits(preset: str) -> None:
    subscale, block = SLICING_PRESETS[preset]
    cfg = _tiny(subscale, block)
    torch.manual_seed(0)
    model = LatentVideoTransformer(cfg).eval()
    nc, k = cfg.n_codebooks, cfg.codebook_size
    base = torch.randint(0, k, (1, *cfg.video_shape, nc))
    rank_of_position = generation_order(cfg.video_shape, cfg.subscale)
    ranks = (rank_of_position[..., None] * nc + torch.arange(nc)).reshape(-1)  # (T*h*w*nc,)
    n_codes = ranks.numel()
    gen = torch.Generator().manual_seed(1)
    # first code, last code, a random spread, and the second channel of a position
    chosen = [0, n_codes - 1, *torch.randint(0, n_codes, (5,), generator=gen).tolist()]
    chosen.append(int(torch.nonzero(ranks == 2 * (n_codes // 4) + 1)[0]))
    videos = [base.clone()]
    for flat in chosen:
        v = base.clone().reshape(-1)
        v[flat] = (v[flat] + 1 + torch.randint(0, k - 1, (1,), generator=gen)) % k
        videos.append(v.reshape(base.shape))
    with torch.no_grad():
        logits = model.video_logits(torch.cat(videos)).reshape(len(videos), n_codes, k)
    changed_later = 0
    for row, flat in enumerate(chosen, start=1):
        r = ranks[flat]
        earlier_or_same = ranks <= r
        diff = (logits[row] - logits[0]).abs().amax(-1)
        assert float(diff[earlier_or_same].max()) <= 1e-5, (
            f"{preset}: changing code of rank {int(r)} changed the logits of an earlier code"
        )
        if (~earlier_or_same).any():
            changed_later += int(float(diff[~earlier_or_same].max()) > 1e-4)
    # the test is sensitive: perturbations do reach later codes
    assert changed_later >= len(chosen) - 2


def test_logits_shape_and_teacher_forcing_per_slice() -> None:
    cfg = _tiny((4, 2, 2), (4, 8, 8))
    torch.manual_seed(0)
    model = LatentVideoTransformer(cfg)
    codes = torch.randint(0, cfg.codebook_size, (3, *cfg.video_shape, cfg.n_codebooks))
    out = model(codes, torch.tensor([0, 3, 15]))
    assert out.shape == (3, *cfg.slice_shape, cfg.n_codebooks, cfg.codebook_size)
    full = model.video_logits(codes)
    assert full.shape == (3, *cfg.video_shape, cfg.n_codebooks, cfg.codebook_size)


@pytest.mark.parametrize("n_codebooks", [1, 4])
def test_every_parameter_gets_a_gradient(n_codebooks: int) -> None:
    """DDP without find_unused_parameters needs every parameter in the graph (n_c = 1 and 4)."""
    from lvt.losses import transformer_loss

    cfg = dataclasses.replace(_tiny((4, 2, 2), (4, 8, 8)), n_codebooks=n_codebooks)
    torch.manual_seed(0)
    model = LatentVideoTransformer(cfg)
    codes = torch.randint(0, cfg.codebook_size, (2, *cfg.video_shape, n_codebooks))
    loss, scalars = transformer_loss(model, codes, 0)
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, missing
    assert 0 < scalars["bits_per_dim"] < 10


def test_a_short_clip_gives_the_logits_of_a_long_video_prefix() -> None:
    """With s_t = 1 the network does not depend on T: trained on 4-frame clips (the
    official spatial preset), it computes on the first 4 frames of a 16-frame video
    exactly what it computed on the clip."""
    from lvt.config import get_preset
    from lvt.losses import slice_loss, transformer_loss

    cfg = dataclasses.replace(get_preset("tiny-spatial").transformer, video_shape=(16, 8, 8))
    torch.manual_seed(0)
    model = LatentVideoTransformer(cfg).eval()
    codes = torch.randint(0, cfg.codebook_size, (2, 16, 8, 8, cfg.n_codebooks))
    clip = codes[:, :4]
    for index in range(cfg.n_slices):
        s = torch.full((2,), index)
        torch.testing.assert_close(model(clip, s), model(codes, s)[:, :4], rtol=1e-5, atol=1e-5)
    # The training loss runs on clips and scores every non-primed code of the clip.
    s = torch.tensor([0, 3])
    _, n = slice_loss(model, clip, s)
    assert int(n) == 2 * 3 * 4 * 4 * cfg.n_codebooks  # frames 1..3 of a (4, 4, 4) slice
    loss, scalars = transformer_loss(model, clip, 0)
    assert torch.isfinite(loss) and scalars["bits_per_dim"] > 0
