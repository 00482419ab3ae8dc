"""lvt demo: the whole method on embedded moving digits, on CPU in a few minutes.

Trains a tiny VQ-VAE on frames, extracts the latent codes of every video to disk,
trains a tiny latent video transformer on the memory-mapped codes, samples held-out
videos from one priming frame with the cached sampler, and evaluates: held-out
bits/dim (vs log2 K of a uniform code distribution and vs the untrained model), PSNR/SSIM
of the VQ-VAE reconstructions, and the copy-last-frame baseline. Writes DIR/report.json
(a shared_utils.report section) with a video and the metrics table.
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

from lvt.config import TINY_TRANSFORMER, TINY_VQVAE, DemoConfig
from lvt.data.codes import CodesDataset, extract_codes
from lvt.data.digits import MovingDigitsConfig, moving_digits
from lvt.evaluation import copy_last_frame, image_metrics, latent_bits_per_dim, reconstruct
from lvt.model.transformer import LatentVideoTransformer
from lvt.sampling import decode_video, sample_cached
from lvt.train import FrameDataset, train_transformer, train_vqvae
from shared_utils.io.video import write_video
from shared_utils.report import ReportSection
from shared_utils.train import TrainerConfig


def _videos(cfg: DemoConfig, split: str, n: int) -> np.ndarray:
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


def run_demo(out_dir: str | Path, cfg: DemoConfig | None = None) -> dict[str, Any]:
    """Run the pipeline; returns the metrics (also in DIR/metrics.json and DIR/report.json)."""
    cfg = cfg or DemoConfig()
    torch.set_num_threads(cfg.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    train_videos = _videos(cfg, "train", cfg.n_train_videos)
    test_videos = _videos(cfg, "test", cfg.n_test_videos)
    vq_cfg = TINY_VQVAE
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
        _trainer(cfg.vqvae_steps, vq_cfg.batch_size, cfg.seed),
        FrameDataset(train_videos),
        out / "vqvae",
    )
    timings["train_vqvae_s"] = time.perf_counter() - t
    recon = reconstruct(vqvae, test_videos)
    rec = image_metrics(recon[:, tr_cfg.n_prime :], test_videos[:, tr_cfg.n_prime :])
    base = image_metrics(
        copy_last_frame(test_videos, tr_cfg.n_prime), test_videos[:, tr_cfg.n_prime :]
    )

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
        _trainer(cfg.transformer_steps, tr_cfg.batch_size, cfg.seed),
        train_codes,
        out / "transformer",
        optimizer="adam",
    )
    timings["train_transformer_s"] = time.perf_counter() - t
    held_out = latent_bits_per_dim(transformer, test_loader)
    train_bits = latent_bits_per_dim(
        transformer, DataLoader(torch.utils.data.Subset(train_codes, range(16)), batch_size=8)
    )

    # 4. sampling from one priming frame
    n_show = min(4, len(test_codes))
    primes = torch.stack([test_codes[i] for i in range(n_show)])[:, : tr_cfg.n_prime]
    t = time.perf_counter()
    sampled = sample_cached(transformer, primes, seed=cfg.seed)
    timings["sample_cached_s"] = time.perf_counter() - t
    generated = decode_video(vqvae, sampled).numpy()
    gen_quality = image_metrics(
        generated[:, tr_cfg.n_prime :], test_videos[:n_show, tr_cfg.n_prime :]
    )
    # rows: real video | generated video (first frame = real priming frame)
    grid = np.concatenate([test_videos[:n_show], generated], axis=3)  # side by side
    grid = np.concatenate(list(grid), axis=1)  # videos stacked vertically
    grid[:, :, :, :] = np.clip(grid, 0, 1)
    write_video(out / "samples.gif", grid, fps=4)
    timings["total_s"] = time.perf_counter() - t0

    log2k = math.log2(tr_cfg.codebook_size)
    metrics: dict[str, Any] = {
        "bits_per_dim_heldout": held_out,
        "bits_per_dim_train_subset": train_bits,
        "bits_per_dim_untrained": untrained,
        "bits_per_dim_uniform_log2K": log2k,
        "vqvae_psnr": rec["psnr"],
        "vqvae_ssim": rec["ssim"],
        "copy_last_frame_psnr": base["psnr"],
        "copy_last_frame_ssim": base["ssim"],
        "generated_psnr_vs_truth": gen_quality["psnr"],
        "vqvae_train_psnr": vq_metrics.get("train/psnr", float("nan")),
        "transformer_train_bits": tr_metrics.get("train/bits_per_dim", float("nan")),
        **timings,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))

    section = ReportSection(out, "LVT: Latent Video Transformer", "lvt")
    section.text(
        f"Moving white handwritten digits (scikit-learn's real 8x8 scans), {cfg.frames} frames of "
        f"{cfg.image_size}x{cfg.image_size}. A VQ-VAE ({vq_cfg.n_codebooks} codebooks of "
        f"{vq_cfg.codebook_size}) maps each frame to {latent}x{latent}x{vq_cfg.n_codebooks} codes; "
        f"a video transformer with subscale {tr_cfg.subscale} models the codes. "
        f"{cfg.n_train_videos} training videos, {cfg.n_test_videos} held-out videos built from "
        f"digit scans never seen in training; CPU only."
    )
    section.video(
        grid,
        "left: real video; right: 1 real priming frame then generated frames (cached sampler)",
        fps=4,
    )
    section.table(
        ["metric", "value", "reference"],
        [
            [
                "held-out bits/dim (frames after the prime)",
                round(held_out, 4),
                f"uniform codes: log2 K = {log2k:.2f}",
            ],
            ["held-out bits/dim, untrained transformer", round(untrained, 4), "before training"],
            [
                "VQ-VAE reconstruction PSNR (dB)",
                round(rec["psnr"], 2),
                f"copy-last-frame: {base['psnr']:.2f}",
            ],
            [
                "VQ-VAE reconstruction SSIM",
                round(rec["ssim"], 4),
                f"copy-last-frame: {base['ssim']:.4f}",
            ],
            ["FVD", None, "not computed: needs a local I3D weights file (lvt eval --i3d-weights)"],
        ],
        "Held-out evaluation",
    )
    section.metrics({k: round(float(v), 4) for k, v in metrics.items()}, "All numbers")
    section.save()
    return metrics
