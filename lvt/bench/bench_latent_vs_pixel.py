"""The paper's point in numbers: per-video compute of the video transformer on VQ-VAE
codes vs the same transformer on pixels.

Both use the paper's sizes (embedding 128, hidden 512, attention 128, 8+8 layers, 8 heads,
blocks (4,8,8)). Latent: 16 frames of 16x16 positions x 4 codes of 512 values, subscale
(4,2,2). Pixels: 16 frames of 64x64 positions x 3 channels of 256 values, subscale (4,8,8)
so that slices have the same (4,8,8) shape. One teacher-forced forward pass of one slice
is measured (FLOPs with torch's FlopCounterMode, wall time) and multiplied by the number
of slices: the cost of one training example / likelihood evaluation. Sampling needs one
decoder pass per generated position, so its cost scales with positions x codes per position
(the ratio is reported too).

    python bench/bench_latent_vs_pixel.py [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from lvt.config import get_preset
from lvt.model.transformer import LatentVideoTransformer


def measure(cfg) -> dict[str, float]:
    torch.manual_seed(0)
    model = LatentVideoTransformer(cfg).eval()
    codes = torch.randint(0, cfg.codebook_size, (1, *cfg.video_shape, cfg.n_codebooks))
    index = torch.tensor([cfg.n_slices - 1])
    with torch.no_grad():
        model(codes, index)  # warm-up
        counter = FlopCounterMode(display=False)
        with counter:
            model(codes, index)
        start = time.perf_counter()
        model(codes, index)
        wall = time.perf_counter() - start
    positions = cfg.video_shape[0] * cfg.video_shape[1] * cfg.video_shape[2]
    return {
        "slices": cfg.n_slices,
        "positions": positions,
        "sequential_decisions": positions * cfg.n_codebooks,
        "gflops_per_video": counter.get_total_flops() * cfg.n_slices / 1e9,
        "seconds_per_video": wall * cfg.n_slices,
        "parameters_millions": sum(p.numel() for p in model.parameters()) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "latent_vs_pixel.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    latent = get_preset("paper").transformer
    pixel = dataclasses.replace(
        latent,
        video_shape=(16, 64, 64),
        subscale=(4, 8, 8),
        encoder_kernel=(5, 9, 9),
        n_codebooks=3,
        codebook_size=256,
    )
    rows = {
        "latent (16x16x16 x 4 codes)": measure(latent),
        "pixels (16x64x64 x 3 channels)": measure(pixel),
    }
    names = list(rows)
    print(f"{'model':<32} {'decisions':>10} {'GFLOPs/video':>13} {'s/video':>9}")
    for name, row in rows.items():
        print(
            f"{name:<32} {row['sequential_decisions']:>10} {row['gflops_per_video']:>13.1f} {row['seconds_per_video']:>9.2f}"
        )
    a, b = rows[names[0]], rows[names[1]]
    ratios = {
        "flops_pixel_over_latent": b["gflops_per_video"] / a["gflops_per_video"],
        "time_pixel_over_latent": b["seconds_per_video"] / a["seconds_per_video"],
        "sampling_decisions_pixel_over_latent": b["sequential_decisions"]
        / a["sequential_decisions"],
    }
    print(json.dumps(ratios, indent=1))
    result = {
        "machine": f"{platform.processor() or platform.machine()}, cpu, {args.threads} thread(s)",
        "models": rows,
        "ratios": ratios,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
