"""Sampler benchmark: cached vs naive sampler, same model, same seed, one run each.

Prints a table and writes bench/results/sampler.json: wall time, generated latent
positions per second, the speed-up, and whether both produced identical codes.

    python bench/bench_sampler.py [--preset tiny|paper] [--frames 4] [--size 8]
                                  [--subscale 2 2 2] [--batch 1] [--device cpu] [--no-warmup]

Each sampler is called once untimed with another seed first (torch's first calls of
an op pay lazy set-up), then timed once with seed 0.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import platform
import time
from pathlib import Path

import torch

from lvt.config import get_preset
from lvt.model.transformer import LatentVideoTransformer
from lvt.sampling import sample_cached, sample_naive


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", choices=("tiny", "paper"), default="tiny", help="model sizes")
    parser.add_argument(
        "--subscale", type=int, nargs=3, default=None, help="(s_t, s_h, s_w); default: the preset's"
    )
    parser.add_argument("--frames", type=int, default=4, help="latent frames T")
    parser.add_argument("--size", type=int, default=8, help="latent side h = w")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--no-warmup",
        action="store_true",
        help="skip the untimed first call of each sampler (first calls pay torch's lazy set-up)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "sampler.json"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = get_preset(args.preset).transformer
    cfg = dataclasses.replace(
        base,
        video_shape=(args.frames, args.size, args.size),
        subscale=tuple(args.subscale) if args.subscale else base.subscale,
    )
    torch.manual_seed(0)
    model = LatentVideoTransformer(cfg).to(args.device).eval()
    prime = torch.randint(
        0, cfg.codebook_size, (args.batch, cfg.n_prime, args.size, args.size, cfg.n_codebooks)
    )
    prime = prime.to(args.device)
    generated = args.batch * (args.frames - cfg.n_prime) * args.size * args.size
    rows = {}
    codes = {}
    for name, fn in (("cached", sample_cached), ("naive", sample_naive)):
        if not args.no_warmup:
            fn(model, prime, seed=1)  # untimed, another seed: first-call set-up only
        start = time.perf_counter()
        codes[name] = fn(model, prime, seed=0)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        wall = time.perf_counter() - start
        rows[name] = {"seconds": wall, "positions_per_second": generated / wall}
    result = {
        "config": {"preset": args.preset, "video_shape": cfg.video_shape, "subscale": cfg.subscale, "n_codebooks": cfg.n_codebooks,
                   "layers": (cfg.encoder_layers, cfg.decoder_layers), "batch": args.batch,
                   "warmup": not args.no_warmup},
        "machine": f"{platform.processor() or platform.machine()}, {args.device}, {args.threads} thread(s)",
        "samplers": rows,
        "speedup_cached_over_naive": rows["naive"]["seconds"] / rows["cached"]["seconds"],
        "identical_codes": bool(torch.equal(codes["naive"], codes["cached"])),
    }  # fmt: skip
    print(f"{'sampler':<8} {'seconds':>9} {'positions/s':>12}")
    for name, row in rows.items():
        print(f"{name:<8} {row['seconds']:>9.2f} {row['positions_per_second']:>12.1f}")
    print(
        f"speed-up {result['speedup_cached_over_naive']:.1f}x, identical codes: {result['identical_codes']}"
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
