"""Benchmark: whole-shape fusion of n_v views (min over re-projected predictions).

Ours: ``fuse_views`` with the re-projection kernels, nearest-pixel (``reproject_min``)
and the paper's neighbour-limited interpolation (``reproject_interpolate``, "idw"),
each timed with the torch reference and, where CUDA exists, with the Triton kernel on
the same device (the table then gives the torch / Triton time ratio; on a CPU-only
machine Triton is skipped and says so: the interpreter is for tests, not timings).
Baseline, the official approach: for every target view, a KD-tree per source view's
points and a nearest-neighbour lookup (scipy) within a distance factor of the pixel
size, then the min over sources. Same inputs (a procedural part, random per-view
predictions). Prints a table and writes bench_fusion.json.

    python bench/bench_fusion.py --views 18 --pixel-size 0.02
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
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


def _timed(fn, device: str) -> tuple[float, np.ndarray]:
    """Seconds of one call of ``fn`` (synchronised on CUDA) and its result."""
    if device == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    out = fn()
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--views", type=int, default=18)
    ap.add_argument("--pixel-size", type=float, default=0.02)
    ap.add_argument("--part-seed", type=int, default=2)
    ap.add_argument(
        "--interpolation",
        choices=["nearest", "idw", "both"],
        default="both",
        help="which re-projection to time with torch and Triton (the KD-tree baseline "
        "is always compared with nearest)",
    )
    ap.add_argument("--radius-px", type=float, default=1.0, help="idw neighbourhood radius")
    ap.add_argument("--out", default=str(Path(__file__).with_name("bench_fusion.json")))
    args = ap.parse_args()
    cfg = preset("tiny").data
    item = procedural_item(args.part_seed, cfg)
    views = scan_views(item.vertices, item.faces, args.views, args.pixel_size)
    rng = np.random.default_rng(0)
    preds = [rng.random(sc.depth.shape) for _, sc in views]
    n_points = int(sum(sc.mask.sum() for _, sc in views))
    tol = 2 * args.pixel_size
    device = "cuda" if torch.cuda.is_available() else "cpu"
    impls = ["torch", "triton"] if device == "cuda" else ["torch"]
    interps = ["nearest", "idw"] if args.interpolation == "both" else [args.interpolation]
    times: dict[str, float] = {}
    fields: dict[str, np.ndarray] = {}
    for interp in interps:
        for impl in impls:

            def run(vs=views, ps=preds, impl=impl, interp=interp) -> np.ndarray:
                return fuse_views(
                    vs,
                    ps,
                    tol,
                    implementation=impl,
                    interpolation=interp,
                    radius_px=args.radius_px,
                    device=device,
                ).fused

            run(views[:2], preds[:2])  # warm-up (Triton compiles here)
            times[f"{interp}_{impl}"], fields[f"{interp}_{impl}"] = _timed(run, device)
    t_kd, base = _timed(lambda: kdtree_fusion(views, preds, 1.5 * args.pixel_size), "cpu")
    rows: dict[str, object] = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "views": args.views,
        "points": n_points,
        "seconds": times,
        "kdtree_s": t_kd,
    }
    print(f"{n_points} points, {args.views} views, device {rows['device']}")
    print("method | seconds")
    for key, sec in times.items():
        interp, impl = key.split("_")
        print(f"re-projection fusion, {interp}, {impl} | {sec:.3f}")
    print(f"KD-tree fusion (scipy, CPU) | {t_kd:.3f}")
    if device == "cuda":
        ratios = {}
        for interp in interps:
            tt, tr = times[f"{interp}_torch"], times[f"{interp}_triton"]
            diff = float(np.abs(fields[f"{interp}_torch"] - fields[f"{interp}_triton"]).max())
            ratios[interp] = tt / tr
            print(f"{interp}: torch / Triton time {tt / tr:.2f}x, max |difference| {diff:.2e}")
        rows["torch_over_triton"] = ratios
    else:
        rows["triton"] = "skipped: no CUDA device"
        print("Triton skipped: no CUDA device (the Triton interpreter is for tests, not timings)")
    if "nearest" in interps:
        best = min(times[f"nearest_{impl}"] for impl in impls)
        ours = fields[f"nearest_{impls[-1]}"]
        agree = float(np.mean(np.abs(ours - np.minimum(base, 1.0)) < 1e-6))
        rows.update(ours_s=best, speedup=t_kd / best, agreement=agree)
        print(f"nearest vs KD-tree: speed-up {t_kd / best:.2f}x; identical values {agree:.1%}")
    Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
