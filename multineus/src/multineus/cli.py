"""multineus: Multi-NeuS, 3D head portraits from one photo with neural implicit surfaces.

Commands:
  train   meta-train over many scenes (procedural heads, or IDR/COLMAP folders)
  fit     fit a new person from a scene folder or from one photo (two stages)
  mesh    marching cubes of a scene's SDF to PLY/OBJ with vertex colours
  render  turntable mp4 of a mesh
  eval    one-way Chamfer (mm) after ICP, face region and full head
  table   the paper's Table 7 (face / head x F / L / R / mean) from eval's result files
  scan-check  fit a real face scan (pymeshlab's, or any range scan in mm) from one
          rendered view; scan -> surface error in mm, mean head vs fitted
  demo    meta-train tiny, fit a held-out head from one view, write report.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import torch

from multineus.config import PRESETS, MultiNeuSConfig, preset


def _cfg(args: argparse.Namespace) -> MultiNeuSConfig:
    cfg = preset(args.preset)
    if getattr(args, "steps", None) is not None:
        cfg.trainer.steps = args.steps
    if getattr(args, "device", None):
        cfg.trainer.device = args.device
    return cfg


def cmd_train(args: argparse.Namespace) -> None:
    """Meta-train and save the model to OUT."""
    from multineus.data.heads import frontal_cameras, head_family, render_head
    from multineus.data.loaders import read_scene_folder
    from multineus.data.scenes import SceneViews
    from multineus.io_model import save_model
    from multineus.train import meta_train

    cfg = _cfg(args)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if args.batch_size is not None:
        if args.batch_size < 1:
            raise SystemExit(f"train: --batch-size must be >= 1, got {args.batch_size}")
        cfg.trainer.batch_size = args.batch_size
    if cfg.trainer.batch_size % world != 0:
        raise SystemExit(
            f"train: the global batch {cfg.trainer.batch_size} (--batch-size; preset "
            f"{args.preset!r} default {preset(args.preset).trainer.batch_size}) must divide by "
            f"the {world} torchrun processes; pass --batch-size {world} (or a multiple)"
        )
    if args.background:  # NeuS without masks: every pixel's colour, no silhouette term
        cfg.background.enabled, cfg.loss.color_on, cfg.loss.mask = True, "all", 0.0
    if args.scenes:
        scenes = [read_scene_folder(p, scale=args.scale) for p in args.scenes]
    else:
        d = cfg.data
        scenes = []
        for i, p in enumerate(head_family(args.heads or d.num_train_heads, d.seed)):
            cams = frontal_cameras(
                d.views_per_head,
                image_size=d.image_size,
                fov_deg=d.fov_deg,
                distance=d.camera_distance,
                seed=d.seed * 100 + i,
            )
            h = render_head(p, cams)
            scenes.append(SceneViews.from_arrays(h.images, h.masks, cams))
    cfg.multi.num_scenes = len(scenes)
    model = meta_train(cfg, scenes, Path(args.out) / "run")
    if int(os.environ.get("RANK", "0")) != 0:
        return  # DDP keeps every rank's copy equal: rank 0 alone writes the model
    mean_K = torch.stack([s.K.mean(0) for s in scenes]).mean(0)
    save_model(model, cfg, args.out, mean_K=mean_K)
    print(f"saved {args.out}/multineus.pt ({len(scenes)} scenes)")


_PRIOR_HELP = {
    "coefficient_prior": "weight of the pull of the new coefficients to their initial average",
    "shared_prior": "weight of the pull of the shared layers to their meta-trained values "
    "(stage 2)",
    "symmetry": "weight of the left-right (x = 0) symmetry term on the new SDF",
}
"""Help of the prior-weight options read by :func:`_fit_overrides`."""


def _add_fit_override_args(parser: argparse.ArgumentParser, *, priors: tuple[str, ...]) -> None:
    """The options :func:`_fit_overrides` reads: stage lengths and the given prior weights."""
    parser.add_argument("--stage1", type=int, help="stage-1 steps (scene coefficients + cameras)")
    parser.add_argument("--stage2", type=int, help="stage-2 steps (all layers, lower rate)")
    for name in priors:
        parser.add_argument(f"--{name.replace('_', '-')}", type=float, help=_PRIOR_HELP[name])


def _fit_overrides(
    cfg: MultiNeuSConfig, args: argparse.Namespace, command: str, *, priors: tuple[str, ...]
) -> None:
    """Stage lengths and prior weights given on the command line, into ``cfg.fit``."""
    if args.stage1 is not None:
        cfg.fit.stage1_steps = args.stage1
    if args.stage2 is not None:
        cfg.fit.stage2_steps = args.stage2
    for name in priors:
        value = getattr(args, name)
        if value is not None:
            if value < 0:
                raise SystemExit(f"{command}: --{name.replace('_', '-')} must be >= 0, got {value}")
            setattr(cfg.fit, name, value)


def cmd_fit(args: argparse.Namespace) -> None:
    """Fit a new scene (folder or photo) and write OUT/mesh.ply."""
    from multineus.data.loaders import photo_scene, read_scene_folder
    from multineus.fit import fit_new_scene
    from multineus.io_model import load_model
    from multineus.train import extract_mesh

    model, cfg, mean_K = load_model(args.model)
    _fit_overrides(cfg, args, "fit", priors=("coefficient_prior", "shared_prior", "symmetry"))
    if args.device:
        cfg.trainer.device = args.device
    if args.init_weights:
        cfg.fit.init_weights = args.init_weights
    if args.init_temperature is not None:
        if args.init_temperature <= 0:
            raise SystemExit(f"fit: --init-temperature must be > 0, got {args.init_temperature}")
        cfg.fit.init_temperature = args.init_temperature
    if args.photo:
        from multineus.wild.canonical import canonical_landmarks
        from shared_utils.io.images import read_image, read_mask

        image = read_image(args.photo)[..., :3]
        mask = read_mask(args.mask) if args.mask else None
        if mask is not None and mask.shape[:2] != image.shape[:2]:
            raise SystemExit(
                f"fit: --mask {args.mask} is {mask.shape[1]}x{mask.shape[0]} pixels but --photo "
                f"{args.photo} is {image.shape[1]}x{image.shape[0]}; give a mask of the photo's size"
            )
        if mask is None and args.segmenter == "none":
            cfg.fit.mask_weight = 0.0  # no segmentation: photometric loss over the whole crop
        views, _ = photo_scene(
            image,
            K=mean_K.numpy().astype(np.float64),
            image_size=cfg.data.image_size,
            landmarks_3d=canonical_landmarks(),
            mask=mask,
            segmenter=args.segmenter,
            fan_weights=args.fan_weights,
            name=str(args.photo),
        )
    elif args.h3ds:
        from multineus.data.h3ds import read_h3ds_scene

        folder = Path(args.h3ds)
        views = read_h3ds_scene(folder.parent, folder.name, views=args.views).views
    elif args.scene:
        views = read_scene_folder(args.scene, scale=args.scale)
    else:
        raise SystemExit("fit: give --scene FOLDER, --h3ds SCENE_FOLDER or --photo IMAGE")
    out = Path(args.out)
    fitted, scene, _ = fit_new_scene(cfg, model, views, out / "run")
    mesh = extract_mesh(fitted, scene, resolution=args.resolution or cfg.mesh_resolution)
    mesh.save(out / "mesh.ply")
    print(f"wrote {out / 'mesh.ply'} ({len(mesh.faces)} faces)")


def cmd_mesh(args: argparse.Namespace) -> None:
    """Extract a mesh of a trained scene."""
    from multineus.io_model import load_model
    from multineus.train import extract_mesh

    model, cfg, _ = load_model(args.model)
    if not 0 <= args.scene < model.num_scenes:
        raise SystemExit(f"mesh: --scene must be in [0, {model.num_scenes}), got {args.scene}")
    mesh = extract_mesh(model, args.scene, resolution=args.resolution or cfg.mesh_resolution)
    mesh.save(args.out)
    print(f"wrote {args.out} ({len(mesh.faces)} faces)")


def cmd_render(args: argparse.Namespace) -> None:
    """Turntable video of a mesh."""
    from multineus.mesh import Mesh
    from multineus.turntable import turntable_frames
    from shared_utils.io.meshes import read_mesh
    from shared_utils.io.video import write_video

    m = read_mesh(args.mesh)
    frames = turntable_frames(
        Mesh(m.vertices, m.faces, m.vertex_colors), frames=args.frames, size=args.size
    )
    write_video(args.out, frames, fps=args.fps)
    print(f"wrote {args.out}")


def cmd_eval(args: argparse.Namespace) -> None:
    """Chamfer after ICP, printed as JSON."""
    from multineus.evaluate import chamfer_after_icp
    from multineus.mesh import Mesh
    from shared_utils.io.meshes import read_mesh

    pred = read_mesh(args.pred)
    pred_vertices, mm_per_unit = pred.vertices, args.mm_per_unit
    if args.h3ds:
        # H3DS: the prediction lives in the unit sphere; scale_mat_0 takes it to the scan's mm
        from multineus.data.h3ds import read_h3ds_ground_truth

        folder = Path(args.h3ds)
        gt, landmarks, scale_mat = read_h3ds_ground_truth(folder.parent, folder.name)
        pred_vertices = pred.vertices @ scale_mat[:3, :3].T + scale_mat[:3, 3]
        anchor = gt.vertices[landmarks["nose_tip"]] if "nose_tip" in landmarks else None
        mm_per_unit = 1.0
    elif args.gt:
        gt = read_mesh(args.gt)
        anchor = args.face_anchor
    else:
        raise SystemExit("eval: give a ground-truth mesh GT or --h3ds SCENE_FOLDER")
    if anchor is None:
        raise SystemExit("eval: give --face-anchor (H3DS scenes: a nose_tip landmark)")
    r = chamfer_after_icp(
        Mesh(pred_vertices, pred.faces),
        Mesh(gt.vertices, gt.faces),
        mm_per_unit=mm_per_unit,
        face_anchor=np.asarray(anchor, dtype=np.float64),
        face_radius_mm=args.face_radius_mm,
    )
    print(json.dumps({"face_mm": r.face_mm, "head_mm": r.head_mm, "icp_fitness": r.icp_fitness}))
    if args.out:
        from multineus.table7 import result_record

        if not args.view:
            raise SystemExit("eval: --out needs --view F|L|R (the input view of the fit)")
        scene = args.scene_name or (Path(args.h3ds).name if args.h3ds else Path(args.pred).stem)
        record = result_record(args.method, args.view, r.face_mm, r.head_mm, scene)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(record, indent=2) + "\n")
        print(f"wrote {args.out}")


def cmd_table(args: argparse.Namespace) -> None:
    """The paper's Table 7 layout from per-fit result JSONs (markdown; --out: .md + .json)."""
    from multineus.table7 import ResultFormatError, table_from_files, table_markdown, write_table

    try:
        table = table_from_files(args.results, paper_rows=args.paper_rows)
    except ResultFormatError as exc:
        raise SystemExit(f"table: {exc}") from exc
    print(table_markdown(table), end="")
    if args.out:
        md, js = write_table(table, args.out)
        print(f"wrote {md} and {js}")


def cmd_scan_check(args: argparse.Namespace) -> None:
    """Fit a real face scan from one rendered view; print the errors as JSON."""
    from multineus.data.face_scan import FaceScanError, load_face_scan
    from multineus.io_model import load_model
    from multineus.scan_check import face_scan_check

    model, cfg, _ = load_model(args.model)
    _fit_overrides(cfg, args, "scan-check", priors=("coefficient_prior", "symmetry"))
    if args.image_size is not None and args.image_size < 8:
        raise SystemExit(f"scan-check: --image-size must be >= 8, got {args.image_size}")
    try:
        scan = load_face_scan(args.scan, mm_per_unit=cfg.mm_per_unit)
    except (FaceScanError, FileNotFoundError) as exc:
        raise SystemExit(f"scan-check: {exc}") from exc
    r, _, _ = face_scan_check(cfg, model, scan, args.out, image_size=args.image_size)
    print(json.dumps({"scan": str(scan.source), **vars(r)}))


def cmd_demo(args: argparse.Namespace) -> None:
    """The end-to-end demo on procedural heads."""
    from multineus.demo import main as demo_main

    cfg = _cfg(args)
    r = demo_main(args.out, cfg)
    print(
        f"mean head: face {r.mean_head.face_mm:.2f} mm, head {r.mean_head.head_mm:.2f} mm; "
        f"fitted: face {r.fitted.face_mm:.2f} mm, head {r.fitted.head_mm:.2f} mm ({r.seconds:.0f} s)"
    )
    if r.face_scan is not None:
        print(
            f"real face scan (scan -> surface, face): mean head {r.face_scan.mean_head_mm:.2f} mm, "
            f"fitted {r.face_scan.fitted_mm:.2f} mm"
        )
    else:
        print(f"real face scan check skipped: {r.face_scan_note}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (every command documented in --help)."""
    p = argparse.ArgumentParser(
        prog="multineus", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = p.add_subparsers(dest="command", required=True)
    presets = ", ".join(f"{k}: {v[0]}" for k, v in PRESETS.items())

    t = sub.add_parser("train", help="meta-train over many scenes", description=cmd_train.__doc__)
    t.add_argument("out", help="output folder (multineus.pt, multineus.yaml, run/)")
    t.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help=presets)
    t.add_argument("--steps", type=int, help="override trainer.steps")
    t.add_argument(
        "--batch-size",
        type=int,
        help="GLOBAL batch: scene ray batches per step, summed over torchrun processes (must "
        "divide by their number; default: the preset's 1, so torchrun needs e.g. 2)",
    )
    t.add_argument("--heads", type=int, help="number of procedural heads (default: preset)")
    t.add_argument(
        "--scenes", nargs="*", help="IDR/NeuS or COLMAP scene folders instead of procedural heads"
    )
    t.add_argument("--scale", type=float, default=1.0, help="image downscale of scene folders")
    t.add_argument(
        "--background",
        action="store_true",
        help="scenes without masks: a NeRF++ background model outside the sphere, colour loss "
        "on every pixel, no mask loss",
    )
    t.add_argument("--device", help="cpu | cuda | auto")
    t.set_defaults(func=cmd_train)

    f = sub.add_parser(
        "fit", help="fit a new person (folder or one photo)", description=cmd_fit.__doc__
    )
    f.add_argument("model", help="folder written by `multineus train`")
    f.add_argument("out", help="output folder (mesh.ply, run/)")
    f.add_argument("--scene", help="IDR/NeuS or COLMAP scene folder")
    f.add_argument("--h3ds", help="H3DS scene folder (ROOT/SCENE_ID; cameras in the unit sphere)")
    f.add_argument("--views", type=int, nargs="*", help="H3DS view indices (default: all)")
    f.add_argument("--photo", help="one in-the-wild photo (face found by dlib, camera by PnP)")
    f.add_argument("--mask", help="foreground mask of the photo (else --segmenter makes one)")
    f.add_argument(
        "--fan-weights",
        help="face-alignment backend: a local 2DFAN4 TorchScript file (landmarks by FAN in "
        "dlib's face box; default: dlib's predictor)",
    )
    f.add_argument(
        "--segmenter",
        default="grabcut",
        choices=["grabcut", "none"],
        help="photo mask without --mask: GrabCut seeded by the landmarks, or none (the whole "
        "crop is foreground and the mask loss is off)",
    )
    f.add_argument("--scale", type=float, default=1.0, help="image downscale of the scene folder")
    _add_fit_override_args(f, priors=("coefficient_prior", "shared_prior", "symmetry"))
    f.add_argument(
        "--init-weights",
        choices=["uniform", "photometric"],
        help="initial coefficients: plain mean of the training scenes, or weighted by how "
        "well each training scene renders the new views (default: the model's config)",
    )
    f.add_argument(
        "--init-temperature",
        type=float,
        help="softness of photometric weights (large: plain mean; small: best scene)",
    )
    f.add_argument("--resolution", type=int, help="marching-cubes resolution")
    f.add_argument("--device", help="cpu | cuda | auto")
    f.set_defaults(func=cmd_fit)

    m = sub.add_parser(
        "mesh", help="marching cubes of a scene to PLY/OBJ", description=cmd_mesh.__doc__
    )
    m.add_argument("model", help="folder written by `multineus train`")
    m.add_argument("out", help="output .ply or .obj")
    m.add_argument("--scene", type=int, default=0, help="scene index")
    m.add_argument("--resolution", type=int, help="grid resolution (paper: 512)")
    m.set_defaults(func=cmd_mesh)

    r = sub.add_parser("render", help="turntable mp4 of a mesh", description=cmd_render.__doc__)
    r.add_argument("mesh", help="input mesh (.ply/.obj)")
    r.add_argument("out", help="output .mp4 or .gif")
    r.add_argument(
        "--frames", type=int, default=36, help="frames in one full turn (default: 36, 10 degrees)"
    )
    r.add_argument("--size", type=int, default=256, help="side of the square frames in pixels")
    r.add_argument("--fps", type=float, default=12.0, help="frames per second of the video")
    r.set_defaults(func=cmd_render)

    e = sub.add_parser(
        "eval", help="Chamfer (mm) after ICP, face and head", description=cmd_eval.__doc__
    )
    e.add_argument("pred", help="predicted mesh")
    e.add_argument("gt", nargs="?", help="ground-truth mesh (or give --h3ds)")
    e.add_argument(
        "--h3ds", help="H3DS scene folder: its scan (mm), nose_tip landmark and scale_mat_0"
    )
    e.add_argument("--mm-per-unit", type=float, default=1.0, help="millimetres per mesh unit")
    e.add_argument(
        "--face-anchor",
        type=float,
        nargs=3,
        help="face centre (nose tip) in gt units (H3DS: its nose_tip landmark)",
    )
    e.add_argument("--face-radius-mm", type=float, default=95.0, help="face region radius")
    e.add_argument(
        "--out",
        help="also write this per-fit result JSON (tagged with --method, --view) for `table`",
    )
    e.add_argument(
        "--view", choices=["F", "L", "R"], help="input view of the fit: frontal, left or right"
    )
    e.add_argument("--method", default="Multi-NeuS", help="table row of this result")
    e.add_argument(
        "--scene-name", help="scene name in the result (default: the H3DS folder or pred's stem)"
    )
    e.set_defaults(func=cmd_eval)

    tb = sub.add_parser(
        "table",
        help="the paper's Table 7 layout from `eval --out` results",
        description=cmd_table.__doc__,
    )
    tb.add_argument(
        "results", nargs="+", help="result JSON files, or folders (every *.json in them)"
    )
    tb.add_argument("--out", help="write OUT.md and OUT.json (suffix replaced)")
    tb.add_argument(
        "--paper-rows",
        action="store_true",
        help="add the paper's rows (H3D-Net 3-view and 1-view, Multi-NeuS 1-view) for comparison",
    )
    tb.set_defaults(func=cmd_table)

    c = sub.add_parser(
        "scan-check",
        help="fit a real face scan from one rendered view (mm)",
        description=cmd_scan_check.__doc__,
    )
    c.add_argument("model", help="folder written by `multineus train`")
    c.add_argument("out", help="output folder (face_scan_mean_head.ply, face_scan_fitted.ply)")
    c.add_argument(
        "--scan",
        help="a frontal face range scan in mm, facing +z with y up (default: pymeshlab's "
        "tests/sample_meshes/rangemaps/face000.ply; `pip install 'multineus[face-scan]'`)",
    )
    c.add_argument(
        "--image-size", type=int, help="side of the rendered view (default: training size)"
    )
    _add_fit_override_args(c, priors=("coefficient_prior", "symmetry"))
    c.set_defaults(func=cmd_scan_check)

    d = sub.add_parser(
        "demo", help="end-to-end demo on procedural heads", description=cmd_demo.__doc__
    )
    d.add_argument("--out", required=True, help="output folder (report.json, meshes, video)")
    d.add_argument("--preset", default="tiny", choices=sorted(PRESETS), help=presets)
    d.add_argument("--steps", type=int, help="override the meta-training steps")
    d.add_argument("--device", help="cpu | cuda | auto")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``multineus`` console script."""
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
