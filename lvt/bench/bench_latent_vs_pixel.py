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

The comparison is at equal model size (the same widths and depths; 49.0M vs 52.5M
parameters, the difference is the embeddings and the pixel encoder's wider kernel), not at
equal FLOPs. The latent row also pays for its frame autoencoder: the paper VQ-VAE's encoder
(with the nearest-code search) on every frame and its decoder on every frame, counted the
same way on one 64x64 frame and multiplied by the 16 frames ("vqvae_gflops_per_video",
and "gflops_per_video_with_vqvae" = transformer + VQ-VAE).

    python bench/bench_latent_vs_pixel.py [--threads 1]
    python bench/bench_latent_vs_pixel.py --vqvae-only   # only count the VQ-VAE FLOPs (~1 s)
                                                         # and add them to the saved JSON
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

from lvt.config import VQVAEConfig, get_preset
from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE


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


def vqvae_flops(cfg: VQVAEConfig, frames: int, size: int) -> dict[str, float]:
    """FLOPs of encoding (encoder + nearest-code search) and decoding ``frames`` frames of
    ``size`` x ``size`` with a VQ-VAE of ``cfg`` (FlopCounterMode on one frame, times
    ``frames``; the search is a matrix product, so it is counted too)."""
    torch.manual_seed(0)
    vqvae = VQVAE(cfg, implementation="torch").eval()
    frame = torch.rand(1, 3, size, size) * 2 - 1
    with torch.no_grad():
        encode = FlopCounterMode(display=False)
        with encode:
            codes = vqvae.encode(frame)
        decode = FlopCounterMode(display=False)
        with decode:
            vqvae.decode(codes)
    enc, dec = encode.get_total_flops() * frames / 1e9, decode.get_total_flops() * frames / 1e9
    return {
        "vqvae_encode_gflops_per_video": enc,
        "vqvae_decode_gflops_per_video": dec,
        "vqvae_gflops_per_video": enc + dec,
        "vqvae_parameters_millions": sum(p.numel() for p in vqvae.parameters()) / 1e6,
    }


def with_vqvae(rows: dict[str, dict[str, float]], ratios: dict[str, float]) -> None:
    """Add the VQ-VAE's FLOPs to the latent row (in place) and the ratio that includes them."""
    latent_name, pixel_name = list(rows)
    latent, pixel = rows[latent_name], rows[pixel_name]
    latent |= vqvae_flops(get_preset("paper").vqvae, frames=16, size=64)
    latent["gflops_per_video_with_vqvae"] = (
        latent["gflops_per_video"] + latent["vqvae_gflops_per_video"]
    )
    ratios["flops_pixel_over_latent_with_vqvae"] = (
        pixel["gflops_per_video"] / latent["gflops_per_video_with_vqvae"]
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "latent_vs_pixel.json"
    )
    parser.add_argument(
        "--vqvae-only",
        action="store_true",
        help="only count the VQ-VAE's FLOPs and add them to the results already in --out",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.vqvae_only:
        result = json.loads(args.out.read_text())
        with_vqvae(result["models"], result["ratios"])
        print(json.dumps(result, indent=1))
        args.out.write_text(json.dumps(result, indent=1))
        return
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
    with_vqvae(rows, ratios)
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
