"""npbgpp: NPBG++ neural point-based rendering without per-scene fitting.

Commands:
  prepare  structure from motion (pycolmap) on a folder of photos -> COLMAP scene layout
  train    train across scenes (presets: tiny, paper; `npbgpp train tiny --help`)
  model    modeling stage: a scene folder -> descriptor file (no optimisation)
  render   render a descriptor file from one view of a scene (PNG) or an orbit (MP4)
  eval     PSNR/SSIM and time-to-render on held-out views (table in the paper's layout)
  export   viewer-friendly coloured PLY of the descriptors (beta0)
  demo     train a tiny model on embedded scenes, model and render an unseen one
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from npbgpp.config import Config
    from npbgpp.data.scene import Scene

SCENE_FORMATS = ("nerf_synthetic", "idr", "scannet", "colmap", "middlebury")
"""npbgpp.data.loaders.FORMATS, repeated so that ``--help`` needs no heavy import."""


def _add_scene_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--scene", type=Path, required=required, help="scene folder")
    p.add_argument("--format", choices=SCENE_FORMATS, default="colmap", help="scene layout")
    p.add_argument("--downscale", type=int, default=1, help="integer image downscale factor")
    p.add_argument("--split", default="train", help="split (NeRF-Synthetic only)")
    p.add_argument(
        "--max-points",
        type=int,
        default=None,
        help="keep a random subset (seed 0) of at most this many points (default: all)",
    )


def _load_scene(a: argparse.Namespace) -> Scene:
    """The scene named by the options of :func:`_add_scene_args`."""
    from npbgpp.data.loaders import load_scene

    return load_scene(
        a.scene, a.format, split=a.split, downscale=a.downscale, max_points=a.max_points
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="npbgpp", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "train",
        help="train across scenes: npbgpp train PRESET [--field value ...]",
        add_help=False,
    )
    p = sub.add_parser("prepare", help="pycolmap SfM on a folder of photos -> scene layout")
    p.add_argument("--photos", type=Path, required=True, help="folder of .png/.jpg photos")
    p.add_argument("--out", type=Path, required=True, help="scene folder to write")
    p.add_argument(
        "--intrinsics",
        type=float,
        nargs=4,
        metavar=("FX", "FY", "CX", "CY"),
        default=None,
        help="known pinhole intrinsics in pixels, kept fixed (default: COLMAP's guess, refined)",
    )
    p.add_argument("--seed", type=int, default=0, help="COLMAP random seed")

    p = sub.add_parser("model", help="modeling stage: scene folder -> descriptor file")
    p.add_argument("--weights", type=Path, required=True, help="model.pt from `npbgpp train`")
    _add_scene_args(p)
    p.add_argument("--out", type=Path, required=True, help="descriptor file (.h5)")
    p.add_argument(
        "--finetune",
        choices=("none", "ft", "ft-system"),
        default="none",
        help="per-scene fine-tuning: ft (beta, beta0 + refiner), ft-system (networks); "
        "the tuned weights go to OUT with suffix .model.pt",
    )
    p.add_argument("--finetune-steps", type=int, default=200, help="fine-tuning steps")
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help="training config.yaml whose crop size and image losses fine-tuning uses "
        "(VGG-19 when its perceptual_weight > 0); default: the config.yaml beside --weights "
        "if there is one, else the tiny preset",
    )
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")

    p = sub.add_parser("render", help="render a descriptor file (one view -> PNG, orbit -> MP4)")
    p.add_argument("--weights", type=Path, required=True, help="model.pt from `npbgpp train`")
    p.add_argument("--descriptors", type=Path, required=True, help="file from `npbgpp model`")
    _add_scene_args(p, required=False)
    p.add_argument("--view", type=int, default=0, help="view of --scene whose camera is used")
    p.add_argument("--orbit", type=int, default=0, help="render N frames on an orbit (MP4)")
    p.add_argument("--radius", type=float, default=2.8, help="orbit radius")
    p.add_argument("--elevation", type=float, default=30.0, help="orbit elevation (degrees)")
    p.add_argument("--fov", type=float, default=45.0, help="orbit vertical field of view")
    p.add_argument("--size", type=int, default=64, help="orbit image size")
    p.add_argument("--out", type=Path, required=True, help="output .png or .mp4")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")

    p = sub.add_parser("eval", help="held-out PSNR/SSIM and time-to-render")
    p.add_argument("--weights", type=Path, required=True, help="model.pt from `npbgpp train`")
    _add_scene_args(p, required=False)
    p.add_argument("--holdout-every", type=int, default=8, help="every k-th view is held out")
    p.add_argument(
        "--heldout-views",
        type=int,
        nargs="+",
        default=None,
        help="hold out exactly these view indices instead (e.g. 1 for a Middlebury pair: "
        "model from the left photo, render the right one)",
    )
    p.add_argument("--synthetic", type=int, default=1, help="embedded test scenes (no --scene)")
    p.add_argument("--seed", type=int, default=100, help="seed of the embedded test scenes")
    p.add_argument("--size", type=int, default=48, help="embedded test image size")
    p.add_argument("--out", type=Path, default=None, help="write the metrics JSON here")
    p.add_argument("--device", default="cpu", help="torch device: cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--lpips-backbone",
        type=Path,
        help="torchvision AlexNet state_dict (alexnet-owt-7be5be79.pth) for the LPIPS column",
    )
    p.add_argument("--lpips-head", type=Path, help="LPIPS v0.1 linear heads (alex.pth)")

    p = sub.add_parser("export", help="coloured PLY of a descriptor file")
    p.add_argument("--descriptors", type=Path, required=True, help="file from `npbgpp model`")
    p.add_argument("--out", type=Path, required=True, help="output .ply")

    p = sub.add_parser("demo", help="end-to-end demo on embedded scenes")
    p.add_argument("--out", type=Path, required=True, help="demo folder (report.json)")
    p.add_argument("--steps", type=int, default=None, help="training steps (default: preset)")
    p.add_argument("--train-scenes", type=int, default=None, help="embedded training scenes")
    return parser


def _cmd_train(args: Sequence[str]) -> int:
    from npbgpp.config import PRESETS
    from npbgpp.data.loaders import load_scene
    from npbgpp.data.synthetic import training_scenes
    from npbgpp.train import check_loss_config, train
    from shared_utils.config import cli_from_presets

    cfg = cli_from_presets(PRESETS, args=list(args), prog="npbgpp train")
    check_loss_config(cfg.loss)  # before the (possibly large) scenes are built
    if cfg.scenes:
        scenes = [
            load_scene(s, cfg.scene_format, downscale=cfg.scene_downscale) for s in cfg.scenes
        ]
    else:
        scenes = training_scenes(cfg.data)
    _, metrics = train(cfg, scenes, cfg.run_dir)
    if int(os.environ.get("RANK", "0")) == 0:  # one report under torchrun
        print(json.dumps(metrics, indent=2))
        print(f"wrote {Path(cfg.run_dir) / 'model.pt'}")
    return 0


def _cmd_prepare(a: argparse.Namespace) -> int:
    from npbgpp.data.prepare import prepare_scene

    intrinsics = tuple(a.intrinsics) if a.intrinsics else None
    model = prepare_scene(a.photos, a.out, intrinsics=intrinsics, seed=a.seed)
    print(f"wrote {model}; use: npbgpp model --scene {a.out} --format colmap ...")
    return 0


def _finetune_config(a: argparse.Namespace) -> Config | None:
    """``--config``, else the run's config.yaml beside ``--weights``, else None (tiny)."""
    from npbgpp.config import Config
    from shared_utils.config import load_config

    path = a.config if a.config is not None else a.weights.parent / "config.yaml"
    if a.config is None and not path.is_file():
        return None
    if not path.is_file():
        raise SystemExit(f"npbgpp model: --config {path}: no such file")
    return load_config(Config, path)


def _cmd_model(a: argparse.Namespace) -> int:
    from npbgpp.descriptors_io import save_descriptors
    from npbgpp.evaluate import model_scene
    from npbgpp.train import load_model

    model = load_model(a.weights, device=a.device)
    scene = _load_scene(a)
    if a.finetune == "none":
        with torch.no_grad():
            desc = model_scene(model, scene, a.device)
    else:
        from npbgpp.finetune import finetune
        from npbgpp.train import save_model

        model, desc = finetune(
            model, scene, a.finetune, steps=a.finetune_steps, cfg=_finetune_config(a)
        )
        save_model(model, a.out.with_suffix(".model.pt"))
    save_descriptors(a.out, desc)
    print(f"{a.out}: {len(desc.points)} of {len(scene.points)} points kept from {len(scene)} views")
    return 0


def _cmd_render(a: argparse.Namespace) -> int:
    from npbgpp.camera import Camera
    from npbgpp.descriptors_io import load_descriptors
    from npbgpp.train import load_model
    from shared_utils.cameras.rigs import intrinsics_from_fov, orbit_cameras
    from shared_utils.io.images import write_image
    from shared_utils.io.video import write_video

    model = load_model(a.weights, device=a.device)
    desc = load_descriptors(a.descriptors, a.device)
    if a.orbit > 0:
        K = intrinsics_from_fov(a.fov, a.size, a.size)
        cams = orbit_cameras(a.orbit, a.radius, a.elevation, K, a.size, a.size)
    elif a.scene is not None:
        scene = _load_scene(a)
        if not 0 <= a.view < len(scene):
            raise SystemExit(f"--view {a.view}: the scene has {len(scene)} views")
        cams = [scene.cameras[a.view]]
    else:
        raise SystemExit("render: give --scene (with --view) or --orbit N")
    frames = []
    with torch.no_grad():
        for cam in cams:
            img = model.render(desc, Camera.from_pinhole(cam, a.device)).clamp(0, 1)
            frames.append(img.permute(1, 2, 0).cpu().numpy())
    if a.orbit > 0:
        write_video(a.out, np.stack(frames), fps=10)
    else:
        write_image(a.out, frames[0])
    print(f"wrote {a.out}")
    return 0


def _cmd_eval(a: argparse.Namespace) -> int:
    from npbgpp.data.synthetic import make_scene
    from npbgpp.evaluate import evaluate_scene, summarize, table3_rows
    from npbgpp.train import load_model

    model = load_model(a.weights, device=a.device)
    lpips = None
    if a.lpips_backbone is not None or a.lpips_head is not None:
        from shared_utils.metrics.lpips import LPIPS

        # a missing file stops here, before any rendering, with what to download
        lpips = LPIPS("alex", backbone_weights=a.lpips_backbone, head_weights=a.lpips_head)
    pairs = []
    if a.scene is not None:
        scene = _load_scene(a)
        if a.heldout_views is not None:
            held = sorted(set(a.heldout_views))
            if not held or held[0] < 0 or held[-1] >= len(scene):
                raise SystemExit(
                    f"npbgpp eval: --heldout-views {a.heldout_views} out of range for "
                    f"{len(scene)} views of {a.scene}"
                )
        else:
            held = [i for i in range(len(scene)) if i % a.holdout_every == 0]
        inputs = [i for i in range(len(scene)) if i not in held]
        if not inputs:
            raise SystemExit(f"npbgpp eval: every view of {a.scene} is held out")
        pairs.append((scene.subset(inputs), scene.subset(held, scene.name + "-heldout")))
        dataset = a.format
    else:
        for i in range(a.synthetic):
            inp, test = make_scene(a.seed + i, views=12, size=a.size, num_points=4000, heldout=4)
            assert test is not None
            pairs.append((inp, test))
        dataset = "embedded"
    results = [evaluate_scene(model, inp, test, a.device, lpips) for inp, test in pairs]
    summary = summarize(results)
    headers, rows = table3_rows(dataset, summary)
    print(" | ".join(headers))
    for row in rows:
        print(" | ".join("-" if c is None else str(c) for c in row))
    print(json.dumps(summary, indent=2))
    if a.out is not None:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(json.dumps(summary, indent=2))
    return 0


def _cmd_export(a: argparse.Namespace) -> int:
    from npbgpp.descriptors_io import export_ply, load_descriptors

    export_ply(a.out, load_descriptors(a.descriptors))
    print(f"wrote {a.out}")
    return 0


def _cmd_demo(a: argparse.Namespace) -> int:
    from npbgpp.demo import run_demo

    summary = run_demo(a.out, steps=a.steps, train_scenes=a.train_scenes)
    print(json.dumps(summary, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``npbgpp`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "train":
        return _cmd_train(args[1:])
    a = _parser().parse_args(args)
    handlers = {
        "prepare": _cmd_prepare,
        "model": _cmd_model,
        "render": _cmd_render,
        "eval": _cmd_eval,
        "export": _cmd_export,
        "demo": _cmd_demo,
    }
    return handlers[a.command](a)


if __name__ == "__main__":
    raise SystemExit(main())
