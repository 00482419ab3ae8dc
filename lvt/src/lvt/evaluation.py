"""Evaluation: bits/dim of latent codes (primed frames excluded), PSNR/SSIM of VQ-VAE
reconstructions, the copy-last-frame baseline, and FVD when I3D weights are given."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch

from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE
from shared_utils.metrics.bits import bits_per_dim
from shared_utils.metrics.fvd import FVD_RESOLUTION, I3D, fvd, load_i3d
from shared_utils.metrics.image import psnr, ssim


@torch.no_grad()
def latent_bits_per_dim(
    model: LatentVideoTransformer, clips: Iterable[torch.Tensor], *, device: str = "cpu"
) -> float:
    """Mean -log2 p per latent code over all clips, frames < n_prime excluded.

    Args:
        clips: batches (B, T, h, w, n_c) int64.
    """
    model.eval()
    logits_all, targets_all = [], []
    for codes in clips:
        codes = codes.to(device)
        logits = model.video_logits(codes)[:, model.cfg.n_prime :]
        logits_all.append(logits.reshape(-1, logits.shape[-1]).cpu())
        targets_all.append(codes[:, model.cfg.n_prime :].reshape(-1).cpu())
    return bits_per_dim(torch.cat(logits_all), torch.cat(targets_all))


def _to_bchw(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(N, H, W, 3) in [0, 1] -> (N, 3, H, W) float32."""
    return torch.as_tensor(np.asarray(frames, dtype=np.float32)).permute(0, 3, 1, 2)


@torch.no_grad()
def reconstruct(
    vqvae: VQVAE, videos: np.ndarray, *, batch: int = 64, device: str = "cpu"
) -> np.ndarray:
    """Videos (N, T, H, W, 3) in [0, 1] -> their VQ-VAE reconstructions, same shape."""
    vqvae.eval()
    n, t = videos.shape[:2]
    frames = _to_bchw(videos.reshape(n * t, *videos.shape[2:])) * 2 - 1
    out = []
    for i in range(0, len(frames), batch):
        x = frames[i : i + batch].to(device)
        out.append(((vqvae.decode(vqvae.encode(x)).clamp(-1, 1) + 1) / 2).cpu())
    rec = torch.cat(out).permute(0, 2, 3, 1).numpy()
    return rec.reshape(videos.shape)


def image_metrics(pred: np.ndarray, target: np.ndarray) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM over frames of (..., H, W, 3) arrays in [0, 1]."""
    p = _to_bchw(pred.reshape(-1, *pred.shape[-3:]))
    t = _to_bchw(target.reshape(-1, *target.shape[-3:]))
    return {"psnr": float(psnr(p, t).clamp(max=100).mean()), "ssim": float(ssim(p, t).mean())}


def copy_last_frame(videos: np.ndarray, n_prime: int) -> np.ndarray:
    """The baseline prediction: every frame after the primes repeats the last priming frame.

    Args:
        videos: (N, T, H, W, 3).

    Returns:
        (N, T - n_prime, H, W, 3).
    """
    last = videos[:, n_prime - 1 : n_prime]
    return np.repeat(last, videos.shape[1] - n_prime, axis=1)


def with_real_priming(fake: np.ndarray, real: np.ndarray, n_prime: int) -> np.ndarray:
    """Generated videos (N, T, H, W, 3) whose first ``n_prime`` frames are the real ones.

    FVD protocols for conditional generation (BAIR with 1 priming frame) score videos made
    of the given conditioning frames followed by the samples; a latent model would
    otherwise be charged (or credited) for its VQ-VAE's reconstruction of the primes.
    """
    if fake.shape != real.shape:
        raise ValueError(f"with_real_priming: fake {fake.shape} and real {real.shape} differ")
    if not 0 <= n_prime <= real.shape[1]:
        raise ValueError(f"with_real_priming: n_prime {n_prime} outside 0..{real.shape[1]}")
    out = fake.copy()
    out[:, :n_prime] = real[:, :n_prime]
    return out


def comparison_grid(real: np.ndarray, fake: np.ndarray, n_prime: int) -> np.ndarray:
    """A side-by-side video of real and generated clips, the generated ones primed with the
    real frames.

    The first ``n_prime`` frames of every generated video are replaced by the ones of
    ``real`` (see :func:`with_real_priming`) before the grid is built, so a grid whose left
    column holds real frames never shows a VQ-VAE reconstruction of a priming frame as real.

    Args:
        real, fake: (N, T, H, W, 3) in [0, 1], the same shape.
        n_prime: priming frames taken from ``real``.

    Returns:
        (T, N * H, 2 * W, 3) clipped to [0, 1]: one row per video, real left, generated right.
    """
    primed = with_real_priming(fake, real, n_prime)
    pairs = np.concatenate([real, primed], axis=3)  # side by side
    return np.clip(np.concatenate(list(pairs), axis=1), 0, 1)  # videos stacked vertically


def encode_videos(vqvae: VQVAE, videos: np.ndarray) -> torch.Tensor:
    """Frames (N, T, H, W, 3) in [0, 1] -> codes (N, T, h, w, n_c), video by video."""
    with torch.no_grad():
        return torch.stack(
            [vqvae.encode(torch.from_numpy(v).float().permute(0, 3, 1, 2) * 2 - 1) for v in videos]
        )


def fvd_or_reason(
    real: np.ndarray,
    fake: np.ndarray,
    i3d: str | Path | I3D | None,
    *,
    resolution: int = FVD_RESOLUTION,
) -> tuple[float | None, str]:
    """FVD between real and generated videos when I3D weights are given.

    Args:
        real, fake: (N, T, H, W, 3) in [0, 1], N >= 2 each.
        i3d: a local I3D state_dict file (``shared_utils.metrics.fvd.load_i3d`` format),
            an already loaded network, or None.
        resolution: frame side fed to I3D; the FVD protocol (and every reported number)
            uses 224; smaller values only for tests.

    Returns:
        (fvd, "") or (None, the reason it was not computed).

    Raises:
        FileNotFoundError: the weights file does not exist (the message says what to supply).
    """
    if i3d is None:
        return None, "FVD not computed: pass --i3d-weights FILE (Kinetics-400 I3D state_dict)"
    network = i3d if isinstance(i3d, I3D) else load_i3d(i3d)
    return fvd(real, fake, network, resolution=resolution), ""
