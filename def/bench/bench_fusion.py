"""Benchmark: whole-shape fusion of n_v views (min over re-projected predictions).

Ours: ``fuse_views`` with the re-projection kernel (Triton on CUDA). Baseline, the
official approach: for every target view, a KD-tree per source view's points and a
nearest-neighbour lookup (scipy) within a distance factor of the pixel size, then the
min over sources. Same inputs (a procedural part, random per-view predictions). Prints
a table and writes bench_fusion.json.

    python bench/bench_fusion.py --views 18 --pixel-size 0.02
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from def_features.config import preset
from def_features.data.items import procedural_item
from def_features.fusion import fuse_views, scan_views


def kdtree_fusion(views, preds, radius: float) -> np.ndarray:
    """Per-point min over sources of the nearest source point's value within ``radius``."""
    srcs = [(sc.points[sc.mask], p[sc.mask]) for (_, sc), p in zip(views, preds)]
    trees = [cKDTree(pts) for pts, _ in srcs]
    out = []
    for _, sc in views:
        q = sc.points[sc.mask]
        best = np.full(len(q), np.inf)
        for tree, (_, vals) in zip(trees, srcs):
            d, i = tree.query(q, distance_upper_bound=radius, workers=-1)
            ok = np.isfinite(d)
            best[ok] = np.minimum(best[ok], vals[i[ok]])
        out.append(best)
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--views", type=int, default=18)
    ap.add_argument("--pixel-size", type=float, default=0.02)
    ap.add_argument("--part-seed", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).with_name("bench_fusion.json")))
    args = ap.parse_args()
    cfg = preset("tiny").data
    item = procedural_item(args.part_seed, cfg)
    views = scan_views(item.vertices, item.faces, args.views, args.pixel_size)
    rng = np.random.default_rng(0)
    preds = [rng.random(sc.depth.shape) for _, sc in views]
    n_points = int(sum(sc.mask.sum() for _, sc in views))
    fuse_views(views[:2], preds[:2], 2 * args.pixel_size)  # warm-up
    t = time.perf_counter()
    ours = fuse_views(views, preds, 2 * args.pixel_size).fused
    t_ours = time.perf_counter() - t
    t = time.perf_counter()
    base = kdtree_fusion(views, preds, 1.5 * args.pixel_size)
    t_kd = time.perf_counter() - t
    agree = float(np.mean(np.abs(ours - np.minimum(base, 1.0)) < 1e-6))
    rows = {
        "views": args.views,
        "points": n_points,
        "ours_s": t_ours,
        "kdtree_s": t_kd,
        "speedup": t_kd / t_ours,
        "agreement": agree,
    }
    print("method | seconds")
    print(f"re-projection fusion | {t_ours:.3f}")
    print(f"KD-tree fusion | {t_kd:.3f}")
    print(
        f"{n_points} points, {args.views} views; speed-up {t_kd / t_ours:.2f}x; identical values {agree:.1%}"
    )
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
