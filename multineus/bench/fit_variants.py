"""Single-view fits of the demo's held-out head under fitting variants, one table.

Meta-trains the tiny model on one identity set (``--seed``; the run folder resumes, so a
second call reuses the meta-model), scores the mean head, then fits the held-out head
from its one frontal view with each variant and prints face / head Chamfer (mm, after ICP).
A variant is a comma-separated list of ``FitConfig`` overrides, e.g.::

    python bench/fit_variants.py --seed 1 init_weights=uniform \\
        init_weights=photometric,init_temperature=2.0 shared_prior=10000.0
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from pathlib import Path

import torch

from multineus.config import tiny_config
from multineus.data.heads import head_nose_tip
from multineus.data.scenes import SceneViews
from multineus.demo import make_scenes
from multineus.evaluate import chamfer_after_icp
from multineus.fit import fit_new_scene
from multineus.train import extract_mesh, meta_train


def _apply(fit_cfg, spec: str) -> None:
    known = {f.name: f for f in dataclasses.fields(fit_cfg)}
    for item in filter(None, spec.split(",")):
        key, _, value = item.partition("=")
        if key not in known:
            raise SystemExit(f"unknown FitConfig field {key!r}; known: {sorted(known)}")
        current = getattr(fit_cfg, key)
        cast = (
            (lambda v: v.lower() in ("1", "true")) if isinstance(current, bool) else type(current)
        )
        setattr(fit_cfg, key, cast(value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("variants", nargs="+", help="FitConfig overrides per variant")
    parser.add_argument("--seed", type=int, default=0, help="identity set (data.seed)")
    parser.add_argument("--train-heads", type=int, help="training identities (default: tiny's)")
    parser.add_argument("--steps", type=int, help="meta-training steps (default: tiny's)")
    parser.add_argument(
        "--held-out",
        type=int,
        help="index of the held-out identity among 0..train-heads (default: the last, as "
        "the demo; fix it to compare different numbers of training heads)",
    )
    parser.add_argument("--work", type=Path, default=Path("runs/fit_variants"))
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = tiny_config()
    cfg.data.seed = args.seed
    if args.train_heads is not None:
        cfg.data.num_train_heads = args.train_heads
    if args.steps is not None:
        cfg.trainer.steps = args.steps
    torch.manual_seed(cfg.trainer.seed)
    train, held = make_scenes(cfg, args.held_out)
    views = [SceneViews.from_arrays(h.images, h.masks, h.cameras) for h in train]
    cfg.multi.num_scenes = len(views)
    tag = f"{args.seed}_n{cfg.data.num_train_heads}_s{cfg.trainer.steps}_h{args.held_out}"
    model = meta_train(cfg, views, args.work / f"meta{tag}", seed=cfg.trainer.seed)

    def score(m, scene: int, gt=held) -> str:
        mesh = extract_mesh(m, scene, resolution=64, colors=False)
        r = chamfer_after_icp(
            mesh, gt.mesh, mm_per_unit=cfg.mm_per_unit,
            face_anchor=head_nose_tip(gt.params), n_points=10000,
        )  # fmt: skip
        return f"{r.face_mm:.2f} / {r.head_mm:.2f}"

    mean = copy.deepcopy(model)
    print(
        f"| identity set {args.seed}, {len(views)} training heads, {cfg.trainer.steps} steps "
        "| face / head Chamfer (mm) |\n|---|---|"
    )
    print(f"| training head 0 (vs itself) | {score(model, 0, train[0])} |", flush=True)
    print(f"| mean head | {score(mean, mean.add_scene())} |", flush=True)
    one_view = SceneViews.from_arrays(held.images[:1], held.masks[:1], held.cameras[:1])
    for spec in args.variants:
        c = copy.deepcopy(cfg)
        c.fit.refine_cameras = False  # exact cameras: refinement would only add noise
        _apply(c.fit, spec)
        torch.manual_seed(0)
        fitted, scene, _ = fit_new_scene(c, model, one_view, args.work / f"fit{tag}_{spec}")
        print(f"| {spec} | {score(fitted, scene)} |", flush=True)


if __name__ == "__main__":
    main()
