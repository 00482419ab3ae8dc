"""Sampling latent videos from T0 priming frames, in the generation order of eq. (2).

Two samplers with the same random stream:

- :func:`sample_naive`: the reference; re-runs the whole model (encoder and decoder over
  the full slice) for every generated code, as the official sampler does.
- :func:`sample_cached`: runs the encoder once per slice (its input, the earlier
  slices, does not change while the slice is generated), the masked convolution on a
  3x3x3 neighbourhood, and each decoder layer for one position with the keys/values of
  the earlier positions of its attention block cached.

Both draw code (b, t, y, x, k) by inverse-CDF sampling with the same pre-drawn uniform
number, so they return identical codes whenever their probabilities agree to rounding.
"""

from __future__ import annotations

import torch

from lvt.model.layers import BlockSelfAttentionLayer, block_members
from lvt.model.subscale import from_slices, to_slices
from lvt.model.transformer import LatentVideoTransformer


def draw(logits: torch.Tensor, uniform: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """Inverse-CDF sample: (B, K) logits, (B,) uniforms in [0, 1) -> (B,) int64."""
    probs = torch.softmax(logits.double() / temperature, dim=-1)
    cdf = probs.cumsum(-1)
    idx = (cdf < uniform[:, None].double()).sum(-1)
    return idx.clamp(max=logits.shape[-1] - 1)


def _prepare(
    model: LatentVideoTransformer, prime: torch.Tensor, seed: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Start codes (B, T, h, w, n_c), the uniforms (same shape) and the primed-frame mask."""
    cfg = model.cfg
    b, t0 = prime.shape[:2]
    if prime.shape[2:] != (*cfg.video_shape[1:], cfg.n_codebooks):
        raise ValueError(
            f"prime must be (B, T0, h, w, n_c) = (B, T0, {cfg.video_shape[1]}, "
            f"{cfg.video_shape[2]}, {cfg.n_codebooks}), got {tuple(prime.shape)}"
        )
    if t0 > cfg.video_shape[0]:
        raise ValueError(f"{t0} priming frames exceed the video length {cfg.video_shape[0]}")
    device = prime.device
    codes = torch.zeros(b, *cfg.video_shape, cfg.n_codebooks, dtype=torch.long, device=device)
    codes[:, :t0] = prime
    gen = torch.Generator().manual_seed(seed)
    uniform = torch.rand(codes.shape, generator=gen, dtype=torch.float64).to(device)
    primed = torch.zeros(cfg.video_shape, dtype=torch.bool)
    primed[:t0] = True
    return codes, uniform, primed


@torch.no_grad()
def sample_naive(
    model: LatentVideoTransformer, prime: torch.Tensor, *, seed: int = 0, temperature: float = 1.0
) -> torch.Tensor:
    """Reference sampler: one full forward pass per generated code.

    Args:
        prime: (B, T0, h, w, n_c) int64 codes of the priming frames.

    Returns:
        (B, T, h, w, n_c) int64: the primes followed by generated codes.
    """
    cfg = model.cfg
    codes, uniform, primed = _prepare(model, prime, seed)
    b = codes.shape[0]
    primed_sl = to_slices(primed[None], cfg.subscale)[0]
    uniform_sl = to_slices(uniform, cfg.subscale)
    tp, hp, wp = cfg.slice_shape
    for s in range(cfg.n_slices):
        index = torch.full((b,), s, dtype=torch.long, device=codes.device)
        for t in range(tp):
            for y in range(hp):
                for x in range(wp):
                    if primed_sl[s, t, y, x]:
                        continue
                    for k in range(cfg.n_codebooks):
                        logits = model(codes, index)[:, t, y, x, k]
                        sl = to_slices(codes, cfg.subscale)
                        sl[:, s, t, y, x, k] = draw(
                            logits, uniform_sl[:, s, t, y, x, k], temperature
                        )
                        codes = from_slices(sl, cfg.subscale)
    return codes


@torch.no_grad()
def sample_cached(
    model: LatentVideoTransformer, prime: torch.Tensor, *, seed: int = 0, temperature: float = 1.0
) -> torch.Tensor:
    """Cached sampler: same inputs, outputs and random stream as :func:`sample_naive`."""
    cfg = model.cfg
    codes, uniform, primed = _prepare(model, prime, seed)
    b, nc = codes.shape[0], cfg.n_codebooks
    device, dtype = codes.device, model.positions.dtype
    primed_sl = to_slices(primed[None], cfg.subscale)[0]
    uniform_sl = to_slices(uniform, cfg.subscale)
    slices = to_slices(codes, cfg.subscale).clone()  # (B, S, t', h', w', n_c)
    tp, hp, wp = cfg.slice_shape
    members, local = block_members(cfg.slice_shape, cfg.effective_block_shape)
    members = members.to(device)
    conv = model.decoder_conv
    kt, kh, kw = conv.kernel
    conv_weight = conv.masked_weight()
    n_pos = tp * hp * wp
    for s in range(cfg.n_slices):
        index = torch.full((b,), s, dtype=torch.long, device=device)
        context = model.encode(from_slices(slices, cfg.subscale), index)
        additive = model.positions + model.condition(context)  # (B, t', h', w', d)
        de = model.decoder_embedding.embedding_dim
        padded = torch.zeros(
            b,
            de,
            tp + 2 * (kt // 2),
            hp + 2 * (kh // 2),
            wp + 2 * (kw // 2),
            device=device,
            dtype=dtype,
        )
        shape_kv = (b, cfg.heads, n_pos, cfg.attention_dim)
        caches = [
            (
                torch.zeros(shape_kv, device=device, dtype=dtype),
                torch.zeros(shape_kv, device=device, dtype=dtype),
            )
            for _ in model.decoder_layers
        ]
        for p in range(n_pos):
            t, y, x = p // (hp * wp), (p // wp) % hp, p % wp
            h = conv.step(padded, (t, y, x), conv_weight) + additive[:, t, y, x]
            for layer, (keys, values) in zip(model.decoder_layers, caches):
                assert isinstance(layer, BlockSelfAttentionLayer)
                h = layer.step(h, keys, values, int(local[p]), members[p])
            base = model.predictor.base_terms(model.decoder_norm(h))  # (B, n_c, d)
            here = slices[:, s, t, y, x]  # (B, n_c) view
            if not primed_sl[s, t, y, x]:
                for k in range(nc):
                    logits = model.predictor.channel_logits(base, here, k)
                    here[:, k] = draw(logits, uniform_sl[:, s, t, y, x, k], temperature)
            emb = model.embed(model.decoder_embedding, here)  # (B, d_e)
            padded[:, :, t + kt // 2, y + kh // 2, x + kw // 2] = emb
    return from_slices(slices, cfg.subscale)


def decode_video(vqvae: torch.nn.Module, codes: torch.Tensor) -> torch.Tensor:
    """Latent video (B, T, h, w, n_c) -> frames (B, T, H, W, 3) in [0, 1], frame by frame."""
    b, t = codes.shape[:2]
    frames = vqvae.decode(codes.reshape(b * t, *codes.shape[2:]))  # type: ignore[operator]
    frames = (frames.clamp(-1, 1) + 1) / 2
    return frames.permute(0, 2, 3, 1).reshape(b, t, *frames.shape[2:], 3)
