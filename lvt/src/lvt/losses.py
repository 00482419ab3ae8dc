"""Training objectives: the VQ-VAE loss (eq. 1) and the transformer's cross-entropy
over one random slice per video (primed frames excluded)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from lvt.model.subscale import slice_frame_index
from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE


def vqvae_loss(
    model: nn.Module, batch: torch.Tensor, step: int
) -> tuple[torch.Tensor, Mapping[str, float]]:
    """Trainer loss_fn: batch (B, 3, H, W) frames in [-1, 1]."""
    assert isinstance(model, VQVAE)
    out = model(batch)
    mse01 = float(out.reconstruction_loss.detach()) / 4.0  # [-1, 1] -> [0, 1] units
    return out.loss, {
        "reconstruction_mse": float(out.reconstruction_loss.detach()),
        "commitment": float(out.commitment.detach()),
        "perplexity": float(out.perplexity.detach()),
        "psnr": -10.0 * math.log10(max(mse01, 1e-12)),
    }


def trainable_slices(
    model: LatentVideoTransformer, video_shape: tuple[int, int, int] | None = None
) -> torch.Tensor:
    """(n,) slice numbers that hold at least one non-primed position (of videos of
    ``video_shape``, default the model's)."""
    shape = model.cfg.video_shape if video_shape is None else video_shape
    frames = slice_frame_index(shape, model.cfg.subscale)  # (S, t', h', w')
    has_free = (frames >= model.cfg.n_prime).flatten(1).any(1)
    return torch.nonzero(has_free)[:, 0]


def slice_loss(
    model: LatentVideoTransformer, codes: torch.Tensor, slice_index: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean cross-entropy (nats) of the non-primed codes of the chosen slices.

    Args:
        codes: (B, T, h, w, n_c) int64; slice_index: (B,) int64.

    Returns:
        (mean loss, number of scored codes).
    """
    cfg = model.cfg
    logits = model(codes, slice_index)  # (B, t', h', w', n_c, K)
    target = model.slice_codes(codes, slice_index)
    shape = (codes.shape[1], codes.shape[2], codes.shape[3])
    frames = slice_frame_index(shape, cfg.subscale).to(codes.device)[slice_index]
    weight = (frames >= cfg.n_prime)[..., None].expand_as(target).float()
    ce = F.cross_entropy(
        logits.reshape(-1, cfg.codebook_size), target.reshape(-1), reduction="none"
    )
    n = weight.sum()
    return (ce * weight.reshape(-1)).sum() / n.clamp_min(1.0), n


def transformer_loss(
    model: nn.Module, batch: torch.Tensor, step: int
) -> tuple[torch.Tensor, Mapping[str, float]]:
    """Trainer loss_fn: batch (B, T, h, w, n_c) int64 latent clips; one random slice each."""
    assert isinstance(model, LatentVideoTransformer)
    shape = (batch.shape[1], batch.shape[2], batch.shape[3])
    choices = trainable_slices(model, shape).to(batch.device)
    pick = torch.randint(0, len(choices), (batch.shape[0],), device=batch.device)
    loss, _ = slice_loss(model, batch, choices[pick])
    return loss, {"bits_per_dim": float(loss.detach()) / math.log(2.0)}
