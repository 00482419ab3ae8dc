"""Sampling latent videos from T0 priming frames, in the generation order of eq. (2).

Two samplers with the same random stream:

- :func:`sample_naive`: the reference; re-runs the whole model (encoder and decoder over
  the full slice) for every generated code, as the official sampler does.
- :func:`sample_cached`: runs the encoder once per slice (its input, the earlier
  slices, does not change while the slice is generated), skips slices made only of
  priming frames, runs a slice's primed prefix through the parallel decoder once, and
  then steps the decoder one position at a time with the keys/values of the earlier
  positions of its attention block cached (:mod:`lvt.model.cached_decoder`).

Both draw code (b, t, y, x, k) by inverse-CDF sampling (:func:`lvt.draw.draw`) with the
same pre-drawn uniform number, so they return identical codes whenever their
probabilities agree to rounding.
"""

from __future__ import annotations

import torch

from lvt.draw import draw
from lvt.model.cached_decoder import CachedSliceDecoder
from lvt.model.subscale import from_slices, to_slices
from lvt.model.transformer import LatentVideoTransformer


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
    """Cached sampler: same inputs, outputs and random stream as :func:`sample_naive`.

    Per slice: one encoder pass (skipped for slices made only of priming frames), one
    parallel decoder pass over the slice's primed raster prefix, then one cached decoder
    step (:class:`~lvt.model.cached_decoder.CachedSliceDecoder`) per generated position.
    """
    cfg = model.cfg
    codes, uniform, primed = _prepare(model, prime, seed)
    b, nc = codes.shape[0], cfg.n_codebooks
    primed_sl = to_slices(primed[None], cfg.subscale)[0].reshape(cfg.n_slices, -1)
    uniform_sl = to_slices(uniform, cfg.subscale).reshape(b, cfg.n_slices, -1, nc)
    slices = to_slices(codes, cfg.subscale).clone()  # (B, S, t', h', w', n_c)
    flat = slices.view(b, cfg.n_slices, -1, nc)  # the same memory, positions flattened
    decoder = CachedSliceDecoder(model, b)
    n_pos = flat.shape[2]
    for s in range(cfg.n_slices):
        # primed positions of a slice are a raster prefix: frames < T0 come first in t'
        known = int(primed_sl[s].sum())
        if not bool(primed_sl[s, :known].all()):
            raise AssertionError("primed positions of a slice must form a raster prefix")
        if known == n_pos:
            continue  # nothing to generate; later slices see it through the encoder
        index = torch.full((b,), s, dtype=torch.long, device=codes.device)
        context = model.encode(from_slices(slices, cfg.subscale), index)
        decoder.start_slice(slices[:, s], context, known)
        # the uniforms of code (p, k) as contiguous (B, 1) columns, position-major
        cols = uniform_sl[:, s].permute(1, 2, 0).reshape(-1, b, 1).contiguous().unbind(0)
        drawn = [
            code
            for p in range(known, n_pos)
            for code in decoder.sample_position(p, cols[p * nc : (p + 1) * nc], temperature)
        ]  # position-major, codebook-minor
        flat[:, s, known:] = torch.stack(drawn, dim=1).view(b, n_pos - known, nc)
    return from_slices(slices, cfg.subscale)


def decode_video(vqvae: torch.nn.Module, codes: torch.Tensor) -> torch.Tensor:
    """Latent video (B, T, h, w, n_c) -> frames (B, T, H, W, 3) in [0, 1], frame by frame."""
    b, t = codes.shape[:2]
    frames = vqvae.decode(codes.reshape(b * t, *codes.shape[2:]))  # type: ignore[operator]
    frames = (frames.clamp(-1, 1) + 1) / 2
    return frames.permute(0, 2, 3, 1).reshape(b, t, *frames.shape[2:], 3)
