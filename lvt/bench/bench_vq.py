"""VQ nearest-code search: codes per second of the fused search vs plain cdist + argmin.

Prints a table and writes bench/results/vq.json. On CUDA the Triton kernel is timed too.

    python bench/bench_vq.py [--rows 65536] [--codes 512] [--dim 64] [--device cpu]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path

import torch

from lvt.kernels.vq_search import vq_nearest


def _time(fn: Callable[[], object], device: str, repeat: int = 5) -> float:
    fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rows", type=int, default=65536, help="vectors to quantise (16x16 latents x 256 frames)"
    )
    parser.add_argument("--codes", type=int, default=512)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "vq.json")
    args = parser.parse_args()
    gen = torch.Generator().manual_seed(0)
    z = torch.randn(args.rows, args.dim, generator=gen).to(args.device)
    e = torch.randn(args.codes, args.dim, generator=gen).to(args.device)
    cases: dict[str, Callable[[], object]] = {
        "cdist+argmin": lambda: torch.cdist(z, e).argmin(1),
        "vq_nearest torch": lambda: vq_nearest(z, e, implementation="torch"),
    }
    if args.device.startswith("cuda"):
        cases["vq_nearest triton"] = lambda: vq_nearest(z, e, implementation="triton")
    rows = {name: args.rows / _time(fn, args.device) for name, fn in cases.items()}
    print(f"{'method':<20} {'codes/s':>14}")
    for name, rate in rows.items():
        print(f"{name:<20} {rate:>14.3e}")
    result = {
        "shape": {"rows": args.rows, "codes": args.codes, "dim": args.dim},
        "machine": f"{platform.processor() or platform.machine()}, {args.device}, {torch.get_num_threads()} thread(s)",
        "codes_per_second": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
