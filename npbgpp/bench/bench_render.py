"""Benchmarks: render time at 512x512 split into rasterisation and refiner, modeling time
per input view, and the rasteriser against a naive per-point loop (and pytorch3d's point
rasteriser where it is installed). Prints a table and writes JSON.

    python bench/bench_render.py [--points 100000 1000000] [--size 512] [--out bench.json]
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch

from npbgpp.camera import Camera
from npbgpp.config import preset
from npbgpp.kernels.rasterize import rasterize_points
from npbgpp.model.pipeline import NPBGPP, SceneDescriptors, splat
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at


def _timed(fn, repeats: int = 3) -> float:  # type: ignore[no-untyped-def]
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeats):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / repeats


def _naive_zbuffer(uv: np.ndarray, depth: np.ndarray, h: int, w: int) -> np.ndarray:
    best = np.full((h, w), np.inf)
    index = np.full((h, w), -1, dtype=np.int64)
    for i in range(len(depth)):
        x, y = math.floor(uv[i, 0]), math.floor(uv[i, 1])
        if depth[i] > 0 and 0 <= x < w and 0 <= y < h and depth[i] < best[y, x]:
            best[y, x], index[y, x] = depth[i], i
    return index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--points", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--preset", default="paper")
    ap.add_argument("--naive-points", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=Path("bench_render.json"))
    a = ap.parse_args()
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    cfg = preset(a.preset).model
    model = NPBGPP(cfg).to(dev).eval()
    size = a.size
    K = intrinsics_from_fov(45.0, size, size)
    cam = Camera(
        torch.as_tensor(K, dtype=torch.float32),
        torch.as_tensor(look_at((2.8, 0.3, 1.0), (0, 0, 0)), dtype=torch.float32),
        size,
        size,
    ).to(dev)
    rows = []
    for n in a.points:
        pts = (torch.rand(n, 3, device=dev) - 0.5) * 1.6
        c, m = cfg.descriptor_dim, cfg.num_basis
        desc = SceneDescriptors(
            pts,
            torch.rand(n, c, device=dev),
            torch.rand(n, m, c, device=dev) * 0.1,
            torch.arange(n),
        )
        with torch.no_grad():
            uv, depth = cam.project(pts)
            t_raster = _timed(lambda: rasterize_points(uv, depth, size, size, model.scales))  # noqa: B023
            maps = rasterize_points(uv, depth, size, size, model.scales)
            y = desc.beta0
            rasters = [splat(y, mm)[None] for mm in maps]
            t_refine = _timed(lambda: model.refiner(rasters))  # noqa: B023
            t_total = _timed(lambda: model.render(desc, cam))  # noqa: B023
        rows.append(
            {
                "points": n,
                "size": size,
                "device": dev,
                "rasterise_s": t_raster,
                "refiner_s": t_refine,
                "render_s": t_total,
                "fps": 1.0 / t_total,
            }
        )
    # Modeling time per input view (extractor + visibility + aggregation).
    pts = (torch.rand(a.points[0], 3, device=dev) - 0.5) * 1.6
    image = torch.rand(3, size, size, device=dev)
    with torch.no_grad():
        t_model = _timed(lambda: model.model_scene(pts, [(image, cam)]), repeats=2)
    # Rasteriser vs a naive loop on the same points (first --naive-points of them).
    n = a.naive_points
    pts = (torch.rand(n, 3) - 0.5) * 1.6
    uv, depth = cam.to("cpu").project(pts)
    t_ours = _timed(lambda: rasterize_points(uv, depth, size, size), repeats=5)
    t0 = time.perf_counter()
    ref = _naive_zbuffer(uv.numpy().astype(np.float64), depth.numpy(), size, size)
    t_naive = time.perf_counter() - t0
    ours = rasterize_points(uv, depth, size, size)[0].numpy()
    p3d = _pytorch3d_peer(uv, depth, size, ours)
    result = {
        "render": rows,
        "modeling_s_per_view": t_model,
        "modeling_points": a.points[0],
        "rasteriser": {
            "points": n,
            "ours_torch_s": t_ours,
            "naive_loop_s": t_naive,
            "agree": bool((ours == ref).all()),
            "pytorch3d": p3d,
        },
    }
    print(f"{'points':>9} {'size':>5} {'raster s':>9} {'refiner s':>9} {'render s':>9} {'fps':>7}")
    for r in rows:
        print(
            f"{r['points']:>9} {r['size']:>5} {r['rasterise_s']:>9.4f} {r['refiner_s']:>9.4f} "
            f"{r['render_s']:>9.4f} {r['fps']:>7.2f}"
        )
    print(f"modeling per view ({a.points[0]} points, {size}px): {t_model:.4f} s")
    print(
        f"rasteriser on {n} points: ours {t_ours:.4f} s, naive loop {t_naive:.3f} s, "
        f"identical: {result['rasteriser']['agree']}"
    )
    if isinstance(p3d, dict):
        print(
            f"pytorch3d rasterize_points (CPU, radius half a pixel, bin_size 0): "
            f"{p3d['seconds']:.4f} s = {p3d['seconds'] / t_ours:.1f}x ours; same winner on "
            f"{100 * p3d['same_winner']:.1f} % of the pixels both cover"
        )
    else:
        print(f"pytorch3d: {p3d}")
    a.out.write_text(json.dumps(result, indent=2))


def _pytorch3d_peer(
    uv: torch.Tensor, depth: torch.Tensor, size: int, ours: np.ndarray
) -> dict[str, float] | str:
    """Time pytorch3d's point rasteriser on the same projected points (where it installs).

    Our rasteriser gives each point the one pixel it falls in; pytorch3d covers the pixels
    whose centres lie within ``radius`` of the point (NDC units; +x left, +y up). With a
    radius of half a pixel most points cover one pixel, so the winners are comparable on
    the pixels both cover.
    """
    try:
        from pytorch3d.renderer.points.rasterize_points import rasterize_points as p3d_raster
        from pytorch3d.structures import Pointclouds
    except ImportError:
        return "not installed (uv pip install easypytorch3d==0.7.9.post1)"
    ndc = torch.stack([1 - 2 * uv[:, 0] / size, 1 - 2 * uv[:, 1] / size, depth], dim=1).float()
    cloud = Pointclouds(points=[ndc])

    def run() -> torch.Tensor:
        return p3d_raster(
            cloud, image_size=size, radius=1.0 / size, points_per_pixel=1, bin_size=0
        )[0]

    seconds = _timed(run, repeats=5)
    theirs = run()[0, :, :, 0].numpy()
    both = (theirs >= 0) & (ours >= 0)
    same = float((theirs[both] == ours[both]).mean()) if both.any() else float("nan")
    return {"seconds": seconds, "same_winner": same, "pixels_both": float(both.sum())}


if __name__ == "__main__":
    main()
