"""Benchmarks: rays/s of the NeuS weights kernel vs the reference, fit iterations/s,
marching cubes time at 256^3 and 512^3. Prints a table and writes JSON.

    python bench/bench_multineus.py --out bench.json [--device cuda] [--mc 256 512]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from multineus.config import tiny_config
from multineus.kernels.neus_weights import neus_render_weights
from multineus.mesh import marching_cubes_mesh
from multineus.model.multineus import MultiNeuS
from multineus.render.neus import render_rays


def _time(fn, repeat: int = 5) -> float:
    fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(repeat):
        fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return (time.perf_counter() - t) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="bench_multineus.json")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--rays", type=int, default=4096)
    ap.add_argument("--mc", type=int, nargs="*", default=[256])
    args = ap.parse_args()
    dev = torch.device(args.device)
    rows: list[tuple[str, float, str]] = []
    R, N = args.rays, 128
    a = torch.randn(R, N, device=dev) * 20
    b = a - torch.rand(R, N, device=dev) * 5
    c, z = torch.rand(R, N, 3, device=dev), torch.rand(R, N, device=dev)
    impls = ["torch"] + (["triton"] if dev.type == "cuda" else [])
    for impl in impls:
        sec = _time(lambda impl=impl: neus_render_weights(a, b, c, z, implementation=impl))
        rows.append((f"neus weights fwd ({impl}, {N} samples)", R / sec, "rays/s"))
    cfg = tiny_config()
    cfg.renderer.implementation = "auto"
    model = MultiNeuS(cfg).to(dev)
    o = torch.tensor([[0.0, -3.0, 0.0]], device=dev).repeat(cfg.rays_per_batch, 1)
    d = torch.nn.functional.normalize(
        torch.randn_like(o) * 0.1 + torch.tensor([0.0, 1.0, 0.0], device=dev), dim=-1
    )
    opt = torch.optim.Adam(model.parameters(), lr=1e-4)

    def step() -> None:
        out = render_rays(model, 0, o, d, cfg.renderer)
        loss = out.color.mean() + 0.1 * out.eikonal
        opt.zero_grad()
        loss.backward()
        opt.step()

    rows.append((f"fit iteration (tiny, {cfg.rays_per_batch} rays)", 1.0 / _time(step, 3), "it/s"))
    for res in args.mc:
        t = time.perf_counter()
        marching_cubes_mesh(lambda p: np.linalg.norm(p, axis=1) - 0.5, resolution=res)
        rows.append((f"marching cubes {res}^3 (analytic sphere)", time.perf_counter() - t, "s"))
    for name, val, unit in rows:
        print(f"{name:50s} {val:12.2f} {unit}")
    with open(args.out, "w") as f:
        json.dump([{"name": n, "value": v, "unit": u} for n, v, u in rows], f, indent=1)


if __name__ == "__main__":
    main()
