"""def: DEF, deep estimation of sharp geometric features (Matveev et al., SIGGRAPH 2022).

Commands:
  make-dataset  range-scan patches with distance-to-feature targets -> HDF5
  import-meshlab MeshLab project (.mlp/.aln) of VCG range maps -> raw scans (ViewIO)
  annotate-scans DEF-Scan raw scans (ViewIO) + CAD mesh and curves -> annotated views
  convert-scans DEF-Scan annotated real depth views -> patches in the same HDF5 layout
  train         train the patch network on a patch file
  eval          Table 2 metrics of a model and the PCA/VCM baselines on test patches
  fuse          whole-shape estimation of a procedural part or a mesh -> coloured PLY
  curves        corners + polyline/spline feature curves (JSON, OBJ) from a field.npz
  demo          end-to-end run on embedded procedural parts -> report.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import numpy as np

from def_features.config import NOISE_LEVELS, PRESETS, RESOLUTIONS, DefConfig, preset


def _cfg(args: argparse.Namespace) -> DefConfig:
    cfg = preset(args.preset)
    if getattr(args, "pixel_size", None):
        cfg = dataclasses.replace(
            cfg, data=dataclasses.replace(cfg.data, pixel_size=args.pixel_size)
        )
    if getattr(args, "steps", None):
        cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, steps=args.steps))
    if getattr(args, "batch_size", None):
        cfg = dataclasses.replace(
            cfg, optim=dataclasses.replace(cfg.optim, batch_size=args.batch_size)
        )
    if getattr(args, "amp", None):
        cfg = dataclasses.replace(cfg, optim=dataclasses.replace(cfg.optim, amp=args.amp))
    return cfg


def _pixel_sizes(args: argparse.Namespace, cfg: DefConfig) -> list[float]:
    """Pixel sizes of make-dataset: ``--resolution`` (``all`` cycles the three DEF-Sim
    resolutions), else ``--pixel-size`` or the preset's."""
    if args.resolution is None:
        return [cfg.data.pixel_size]
    if args.resolution == "all":
        return list(RESOLUTIONS.values())
    return [RESOLUTIONS[args.resolution]]


def cmd_make_dataset(args: argparse.Namespace) -> None:
    """Make range-scan patches from procedural parts, mesh files or ABC items."""
    from def_features.data.dataset import build_patches
    from def_features.data.hdf5_patches import write_patches
    from def_features.data.items import abc_item, mesh_item, procedural_item

    cfg = _cfg(args)
    if args.abc:
        feats = Path(args.abc)
        meshes = sorted(feats.parent.glob(args.abc_meshes))
        if not meshes:
            raise SystemExit(f"{feats.parent}: no meshes match {args.abc_meshes!r}")
        items = [abc_item(feats, meshes, cfg.data, args.abc_mesh_scale)]
    elif args.meshes:
        items = [mesh_item(p, cfg.data) for p in args.meshes]
    else:
        items = [procedural_item(args.seed * 100_000 + k, cfg.data) for k in range(args.shapes)]
    noise = [float(x) for x in args.noise.split(",")] if args.noise else list(NOISE_LEVELS)
    arrays = build_patches(
        items,
        cfg.data,
        args.patches_per_shape,
        args.seed,
        noise,
        pixel_sizes=_pixel_sizes(args, cfg),
    )
    write_patches(args.out, arrays)
    print(f"wrote {len(arrays['image'])} patches to {args.out}")


def cmd_convert_scans(args: argparse.Namespace) -> None:
    """Cut DEF-Scan annotated depth views (the authors' HDF5) into training/test patches."""
    from def_features.data.def_scan import read_scan_views, views_to_patches
    from def_features.data.hdf5_patches import stack_patches, write_patches

    patches = []
    for path in args.views:
        patches += views_to_patches(
            read_scan_views(path), args.tile, args.min_surface, args.sharp_threshold
        )
    if not patches:
        raise SystemExit(f"convert-scans: no tile of {args.views} has enough surface pixels")
    write_patches(args.out, stack_patches(patches))
    print(f"wrote {len(patches)} patches to {args.out}")


def cmd_import_meshlab(args: argparse.Namespace) -> None:
    """Convert a scan set aligned in MeshLab into raw DEF-Scan scans (ViewIO HDF5) that
    annotate-scans reads. The project (.mlp or .aln) lists range maps: PLY meshes with
    VCG's camera element (as MeshLab and VCG write them). Each becomes one view: its
    vertices and faces, its camera (extrinsics and intrinsics), and its project matrix as
    points_alignment. The CAD model's placement is --cad (the label or file name of the
    CAD mesh aligned in the same project, left out of the views) or the identity."""
    from def_features.data.def_scan_raw import write_raw_views
    from def_features.data.meshlab import MeshLabFormatError, meshlab_raw_views

    try:
        views = meshlab_raw_views(
            args.project, item_id=args.item_id, obj_scale=args.obj_scale, cad=args.cad
        )
    except (MeshLabFormatError, ValueError) as exc:
        raise SystemExit(f"import-meshlab: {exc}") from exc
    write_raw_views(args.out, views)
    for k, v in enumerate(views):
        h, w = v.image_size
        print(f"view {k}: {len(v.points)} points, {len(v.faces)} faces, image {w}x{h}")
    print(f"wrote {len(views)} views to {args.out}")


def cmd_annotate_scans(args: argparse.Namespace) -> None:
    """Annotate raw DEF-Scan scans (the authors' ViewIO HDF5: points, faces, extrinsics,
    intrinsics, points_alignment, obj_alignment, obj_scale, item_id) with the distance
    to the item's sharp curves: the CAD mesh (--obj, in the features' units after
    --mesh-scale) is scaled by obj_scale and moved by obj_alignment, the points by
    points_alignment; points farther than --max-point-mesh-distance from the mesh are
    dropped; the rest are labelled (truncated at --truncation) and z-buffered into each
    scan's camera image. Writes the authors' AnnotatedViewIO layout, which convert-scans
    reads."""
    from def_features.data.def_scan_raw import (
        annotate_views,
        read_cad_item,
        read_raw_views,
        write_annotated_views,
    )

    views = read_raw_views(args.raw)
    item = read_cad_item(args.obj, args.feat, args.mesh_scale)
    try:
        annotated = annotate_views(
            views,
            item,
            truncation=args.truncation,
            max_point_mesh_distance=args.max_point_mesh_distance,
            curve_spacing=args.curve_spacing,
        )
    except ValueError as exc:
        raise SystemExit(f"{args.raw}: {exc}") from exc
    write_annotated_views(args.out, annotated, len(item.vertices), len(item.faces))
    for k, (raw, ann) in enumerate(zip(views, annotated, strict=True)):
        surface = ann.depth > 0
        near = int((ann.distances[surface] < args.truncation).sum())
        print(
            f"view {k}: {ann.aligned_points}/{len(raw.points)} points within "
            f"{args.max_point_mesh_distance} of the mesh, {int(surface.sum())} pixels, "
            f"{near} closer than {args.truncation} to a sharp curve"
        )
    print(f"wrote {len(annotated)} annotated views to {args.out}")


def _rank() -> int:
    """This process's global rank under torchrun (``RANK``; 0 in a plain run)."""
    raw = os.environ.get("RANK", "")
    try:
        return int(raw) if raw else 0
    except ValueError as exc:
        raise SystemExit(f"environment variable RANK={raw!r} is not an integer") from exc


def cmd_train(args: argparse.Namespace) -> None:
    """Train on a patch file; writes run_dir/model.pt (under torchrun: rank 0 only, every
    rank holds the same DDP weights). --batch-size is the global batch over all ranks."""
    from def_features.data.hdf5_patches import read_patches
    from def_features.model.checkpoint import save_model
    from def_features.train import train

    cfg = _cfg(args)
    model = train(cfg, read_patches(args.data), args.run_dir)
    if _rank() == 0:
        save_model(Path(args.run_dir) / "model.pt", model, cfg)
        print(f"saved {Path(args.run_dir) / 'model.pt'}")


def cmd_eval(args: argparse.Namespace) -> None:
    """Print Table 2 for a model and the baselines; optionally save JSON."""
    from def_features.data.hdf5_patches import read_patches
    from def_features.eval import evaluate, format_table
    from def_features.model.checkpoint import load_model

    model, cfg = load_model(args.model)
    test = read_patches(args.test)
    rows = evaluate(
        model, cfg.model.depth_scale, read_patches(args.train), test, cfg.data.pixel_size
    )
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(
            json.dumps({k: dataclasses.asdict(v) for k, v in rows.items()}, indent=1)
        )


def cmd_fuse(args: argparse.Namespace) -> None:
    """Whole-shape estimation of one shape; writes a coloured PLY and prints metrics."""
    from def_features.data.items import mesh_item, procedural_item
    from def_features.model.checkpoint import load_model
    from def_features.pipeline import fuse_shape

    model, cfg = load_model(args.model)
    item = (
        mesh_item(args.mesh, cfg.data) if args.mesh else procedural_item(args.part_seed, cfg.data)
    )
    result = fuse_shape(model, cfg, item, args.views, Path(args.out))
    print(json.dumps(result, indent=1))


def cmd_curves(args: argparse.Namespace) -> None:
    """Corners and parametric feature curves (polyline + cubic spline per curve) from a
    field.npz written by ``fuse``; writes curves.json and curves.obj."""
    from def_features.config import CurveConfig
    from def_features.curve_network import refine_curves
    from def_features.curves import extract_curves, write_curves

    path = Path(args.field)
    try:
        data = np.load(path)
        points, distances = data["points"], data["distances"]
    except (OSError, KeyError, ValueError) as exc:
        raise SystemExit(
            f"{path}: needs arrays 'points' (P, 3) and 'distances' (P,): {exc}"
        ) from exc
    cfg = CurveConfig(
        threshold=args.threshold,
        link_radius=args.link_radius,
        corner_radius=args.corner_radius,
        corner_score=args.corner_score,
        step=args.step,
        min_length=args.min_length,
        max_residual=args.max_residual,
        refine=not args.no_refine,
        topology=args.topology,
    )
    curves = extract_curves(points, distances, cfg)
    if cfg.refine:
        curves, report = refine_curves(curves, points, distances, cfg)
        print(
            f"refined the curve network: mean |dist - d| {report.initial_residual:.4f} -> "
            f"{report.final_residual:.4f} over {report.used_points} feature points, "
            f"{report.splits} nodes added"
        )
        if report.topology is not None:
            t = report.topology
            print(
                f"topology clean-up: {t.curves_before} -> {t.curves_after} curves "
                f"({t.removed_duplicates} duplicate, {t.removed_unsupported} unsupported, "
                f"{t.removed_small} in small groups, {t.removed_degenerate} collapsed), "
                f"{t.merged_corners} corners merged, {t.relinked_ends} free ends re-linked"
            )
    write_curves(Path(args.out), curves, spacing=args.step / 2)
    print(
        f"wrote {len(curves.corners)} corners and {len(curves.curves)} curves "
        f"to {args.out}/curves.json and curves.obj"
    )


def cmd_demo(args: argparse.Namespace) -> None:
    """Make data, train a tiny model, compare with baselines, fuse a part; report.json."""
    from def_features.demo import run_demo

    result = run_demo(Path(args.out), quick=args.quick)
    print(json.dumps(result, indent=1))


def build_parser() -> argparse.ArgumentParser:
    """The ``def`` argument parser (one subcommand per entry point)."""
    parser = argparse.ArgumentParser(
        prog="def", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    presets = ", ".join(f"{k} ({v[0]})" for k, v in PRESETS.items())

    def add(name: str, fn, help_: str, with_preset: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=fn.__doc__)
        p.set_defaults(fn=fn)
        if with_preset:
            p.add_argument(
                "--preset",
                default="tiny",
                choices=sorted(PRESETS),
                help=f"config preset: {presets}",
            )
        return p

    p = add("make-dataset", cmd_make_dataset, "range-scan patches -> HDF5", with_preset=True)
    p.add_argument("--out", required=True, help="output .hdf5 file")
    p.add_argument("--shapes", type=int, default=20, help="procedural parts to use")
    p.add_argument("--patches-per-shape", type=int, default=8, help="accepted patches per shape")
    p.add_argument("--seed", type=int, default=0, help="random seed (parts and views)")
    p.add_argument(
        "--noise", default="", help="comma-separated noise levels (default: the seven DEF levels)"
    )
    res = p.add_mutually_exclusive_group()
    res.add_argument(
        "--pixel-size", type=float, default=None, help="override pixel size (0.02/0.05/0.125)"
    )
    res.add_argument(
        "--resolution",
        choices=[*RESOLUTIONS, "all"],
        default=None,
        help="DEF-Sim resolution: "
        + ", ".join(f"{k} ({v})" for k, v in RESOLUTIONS.items())
        + "; all cycles the three over each shape's patches like the noise levels "
        "(default: the preset's pixel size)",
    )
    p.add_argument(
        "--meshes", nargs="*", help="mesh files with angle-based sharp edges instead of parts"
    )
    p.add_argument("--abc", default=None, help="an ABC *_features_*.yml (meshes beside it)")
    p.add_argument("--abc-meshes", default="*.stl", help="glob of the ABC item's mesh parts")
    p.add_argument(
        "--abc-mesh-scale", type=float, default=1000.0, help="mesh units -> features units"
    )

    p = add("import-meshlab", cmd_import_meshlab, "MeshLab range-map project -> raw scans")
    p.add_argument("project", help="MeshLab project (.mlp) or alignment file (.aln)")
    p.add_argument("--item-id", required=True, help="the scanned CAD item's id (ASCII)")
    p.add_argument("--out", required=True, help="output raw-scan .hdf5 (ViewIO)")
    p.add_argument(
        "--obj-scale",
        type=float,
        default=1.0,
        help="scale of the CAD mesh: its units -> scan units (the project's units)",
    )
    p.add_argument(
        "--cad",
        default=None,
        help="label or file name of the CAD mesh aligned in the same project (its matrix, "
        "with --obj-scale divided out, becomes obj_alignment); default: identity",
    )

    p = add("annotate-scans", cmd_annotate_scans, "DEF-Scan raw scans -> annotated views")
    p.add_argument("--raw", required=True, help="raw scans of one item (ViewIO .hdf5)")
    p.add_argument(
        "--obj", nargs="+", required=True, help="the item's CAD mesh file(s) (obj/stl/ply)"
    )
    p.add_argument("--feat", required=True, help="the item's ABC features .yml (sharp curves)")
    p.add_argument("--out", required=True, help="output annotated-view .hdf5 (AnnotatedViewIO)")
    p.add_argument(
        "--mesh-scale",
        type=float,
        default=1.0,
        help="mesh units -> features units (1000 for the ABC archive's STL parts)",
    )
    p.add_argument(
        "--truncation", type=float, default=1.0, help="distance truncation (scan units, mm)"
    )
    p.add_argument(
        "--max-point-mesh-distance",
        type=float,
        default=1.0,
        help="drop scan points farther than this from the aligned mesh",
    )
    p.add_argument(
        "--curve-spacing",
        type=float,
        default=0.05,
        help="sampling step of the parametric curves (scan units)",
    )

    p = add("convert-scans", cmd_convert_scans, "DEF-Scan real depth views -> patch HDF5")
    p.add_argument("--views", nargs="+", required=True, help="DEF-Scan annotated-view .hdf5 files")
    p.add_argument("--out", required=True, help="output patch .hdf5 file")
    p.add_argument("--tile", type=int, default=64, help="patch side in pixels")
    p.add_argument(
        "--min-surface", type=float, default=0.1, help="drop tiles with less surface than this"
    )
    p.add_argument(
        "--sharp-threshold",
        type=float,
        default=1.0,
        help="has_sharp: a surface pixel closer than this to a curve (DEF-Scan: mm)",
    )

    p = add("train", cmd_train, "train the patch network", with_preset=True)
    p.add_argument("--data", required=True, help="training .hdf5 patch file")
    p.add_argument("--run-dir", required=True, help="run folder (checkpoints, metrics, model.pt)")
    p.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="override the preset's global batch (summed over torchrun ranks; must divide "
        "by their number)",
    )
    p.add_argument(
        "--amp",
        choices=["none", "fp16", "bf16"],
        default=None,
        help="mixed precision on CUDA (ignored on CPU); default: the preset's "
        "(paper: bf16, tiny: none)",
    )

    p = add("eval", cmd_eval, "Table 2 of a model and the baselines")
    p.add_argument("--model", required=True, help="model.pt from train")
    p.add_argument("--train", required=True, help="training patches (baseline calibration)")
    p.add_argument("--test", required=True, help="held-out patches")
    p.add_argument("--json", default=None, help="also write the rows as JSON")

    p = add("fuse", cmd_fuse, "whole-shape estimation -> coloured PLY")
    p.add_argument("--model", required=True, help="model.pt from train")
    p.add_argument("--mesh", default=None, help="a mesh file (default: a procedural part)")
    p.add_argument("--part-seed", type=int, default=12345, help="procedural part seed")
    p.add_argument("--views", type=int, default=18, help="number of range views")
    p.add_argument("--out", required=True, help="output folder")

    p = add("curves", cmd_curves, "feature curves from a fused field")
    p.add_argument("--field", required=True, help="field.npz from fuse (points, distances)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--threshold", type=float, default=0.06, help="distance threshold of feature points"
    )
    p.add_argument(
        "--link-radius", type=float, default=0.06, help="graph link radius (~3 pixel sizes)"
    )
    p.add_argument(
        "--corner-radius", type=float, default=0.25, help="neighbourhood radius of corners"
    )
    p.add_argument(
        "--corner-score", type=float, default=0.2, help="min lambda2/lambda1 of a corner"
    )
    p.add_argument("--min-length", type=float, default=0.3, help="drop shorter curves")
    p.add_argument(
        "--max-residual", type=float, default=0.1, help="drop curves fitting worse (RMS)"
    )
    p.add_argument("--step", type=float, default=0.04, help="centre-line sample spacing")
    p.add_argument(
        "--no-refine",
        action="store_true",
        help="skip the joint refinement of the curve network against the field (it "
        "trusts the field's values: with a weak model the extracted curves may be better)",
    )
    p.add_argument(
        "--topology",
        action="store_true",
        help="clean up the topology between refinement rounds (merge close corners, "
        "re-link free ends, drop duplicate, unsupported and small isolated curves)",
    )

    p = add("demo", cmd_demo, "end-to-end demo on embedded parts")
    p.add_argument("--out", required=True, help="output folder (report.json)")
    p.add_argument("--quick", action="store_true", help="shortest run (smoke tests)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``def`` console script."""
    args = build_parser().parse_args(argv)
    np.set_printoptions(precision=4)
    args.fn(args)


if __name__ == "__main__":
    main(sys.argv[1:])
