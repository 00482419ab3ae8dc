"""Benchmark: ground-truth distance-to-feature for many points.

Ours: the point-to-segment kernel (Triton on CUDA, the torch reference on CPU).
Baseline: the common KD-tree approach: sample the curves densely (spacing h) and
query a scipy cKDTree (its error is up to h/2 off the samples). Prints a table and
writes bench_distance.json next to this file (or --out).

    python bench/bench_distance.py --points 1000000 --segments 2000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.spatial import cKDTree

from def_features.kernels.point_segment_distance import point_segment_distance


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--segments", type=int, default=2000)
    ap.add_argument("--spacing", type=float, default=0.005, help="KD-tree curve sample spacing")
    ap.add_argument("--out", default=str(Path(__file__).with_name("bench_distance.json")))
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    a = rng.uniform(-5, 5, size=(args.segments, 3))
    b = a + rng.normal(scale=0.3, size=(args.segments, 3))
    pts = rng.uniform(-5, 5, size=(args.points, 3)).astype(np.float32)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    P = torch.from_numpy(pts).to(device)
    A = torch.from_numpy(a).float().to(device)
    B = torch.from_numpy(b).float().to(device)
    point_segment_distance(P[:1000], A, B, 1.0)  # warm-up / compile
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    d, _, _ = point_segment_distance(P, A, B, 1.0, chunk_points=1 << 18)
    if device == "cuda":
        torch.cuda.synchronize()
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    lengths = np.linalg.norm(b - a, axis=1)
    samples = np.concatenate(
        [
            a[i]
            + np.linspace(0, 1, max(int(lengths[i] / args.spacing), 1) + 1)[:, None] * (b[i] - a[i])
            for i in range(len(a))
        ]
    )
    dk = np.minimum(cKDTree(samples).query(pts, workers=-1)[0], 1.0)
    t_kd = time.perf_counter() - t
    err = float(np.abs(dk - d.cpu().numpy()).max())
    rows = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "points": args.points,
        "segments": args.segments,
        "ours_s": t_ours,
        "kdtree_s": t_kd,
        "speedup": t_kd / t_ours,
        "kdtree_max_abs_error": err,
    }
    print("method | seconds")
    print(f"point_segment_distance ({device}) | {t_ours:.3f}")
    print(f"KD-tree on {len(samples)} curve samples | {t_kd:.3f}")
    print(f"speed-up {t_kd / t_ours:.2f}x; KD-tree max error {err:.2e}")
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
