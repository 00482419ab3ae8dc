"""mobile-densepose: Mobile Parsing R-CNN (Rakhimov et al., WACV 2021), DensePose fast and light.

Commands:
  count           parameters and size on disk of every preset vs the paper's Tables 4-6
  make-synthetic  render a synthetic DensePose-COCO set (capsule people on real photos)
  train           train a preset with the shared Trainer (tiny, paper; --field value overrides)
  qat             quantisation-aware fine-tuning of a trained run (tiny, paper; --float-run RUN)
  eval            box AP and DensePose AP (GPS) of a trained run on a DensePose-COCO folder
  convert-geodesics
                  official SMPL geodesic files -> a body surface for eval --surface
  infer           image or video -> IUV overlay PNG / MP4
  export          TorchScript + ONNX (checked with onnxruntime) + int8 PTQ, sizes on disk
  bench           CPU latency of Mobile (B) vs the R50-FPN baseline (eager/TorchScript/ORT/int8)
  demo            end-to-end run on embedded data, writes DIR/report.json
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def _count(args: argparse.Namespace) -> None:
    from mobile_densepose.config import model_presets
    from mobile_densepose.count import count_preset, format_table

    names = args.presets or list(model_presets())
    rows = [count_preset(n) for n in names]
    print(format_table(rows))
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "preset": r.preset,
                        "params": r.params,
                        "paper_M": r.paper_m,
                        "size_MB": r.size_mb,
                        "components": r.components,
                    }
                    for r in rows
                ],
                indent=1,
            )
        )


def _make_synthetic(args: argparse.Namespace) -> None:
    from mobile_densepose.data.synthetic import SyntheticConfig, make_synthetic

    cfg = SyntheticConfig(
        num_images=args.num_images,
        height=args.height,
        width=args.width,
        seed=args.seed,
        n_points=args.points,
    )
    records = make_synthetic(args.out, cfg)
    people = sum(len(r.people) for r in records)
    print(f"wrote {len(records)} images, {people} people to {args.out}")


def _train(rest: list[str]) -> None:
    from mobile_densepose.config import train_presets
    from mobile_densepose.train import train
    from shared_utils.config import cli_from_presets

    cfg = cli_from_presets(train_presets(), args=rest, prog="mobile-densepose train")
    print(json.dumps(train(cfg), indent=1))


def _qat(rest: list[str]) -> None:
    from mobile_densepose.qat import finetune_qat, qat_presets
    from shared_utils.config import cli_from_presets

    cfg = cli_from_presets(qat_presets(), args=rest, prog="mobile-densepose qat")
    print(json.dumps(finetune_qat(cfg), indent=1))


def _load_model(run: str):  # type: ignore[no-untyped-def]
    """A float run's model, or the int8 model of a QAT run folder."""
    from mobile_densepose.infer import load_run
    from mobile_densepose.qat import FLOAT_CONFIG, load_qat_run

    return load_qat_run(run) if (Path(run) / FLOAT_CONFIG).exists() else load_run(run)


def _eval(args: argparse.Namespace) -> None:
    from mobile_densepose.data.body import BodySurface
    from mobile_densepose.data.dataset import DensePoseDataset
    from mobile_densepose.evaluate import evaluate

    model = _load_model(args.run)
    data = DensePoseDataset(args.data, args.annotations, args.image_dir)
    surface = BodySurface.load(args.surface or str(Path(args.data) / "body_surface.npz"))
    metrics = evaluate(model, data, surface, args.max_images, args.per_part_kappa)
    print("| overlap | AP | AP50 | AP75 | APm | APl |")
    print("|---|---|---|---|---|---|")
    for name, prefix in (("box IoU", "box"), ("GPS", "dp"), ("GPSm", "dpm")):
        if f"{prefix}_AP" in metrics:
            keys = [f"{prefix}_{k}" for k in ("AP", "AP50", "AP75", "APm", "APl")]
            print(f"| {name} | " + " | ".join(f"{metrics[k]:.2f}" for k in keys) + " |")


def _convert_geodesics(args: argparse.Namespace) -> None:
    from mobile_densepose.data.smpl_geodesics import convert_smpl_geodesics

    path = convert_smpl_geodesics(args.smpl_subdiv, args.subdiv_transform, args.pdist, args.out)
    print(f"wrote {path} (give it to: mobile-densepose eval --surface {path})")


def _infer(args: argparse.Namespace) -> None:
    from mobile_densepose.infer import infer_path, load_run

    src = args.input
    if src == "astronaut":
        import numpy as np
        import skimage.data

        from shared_utils.io.images import write_image

        src = str(Path(args.out).with_suffix(".input.png"))
        write_image(src, skimage.data.astronaut().astype(np.float32) / 255.0)
    n = infer_path(load_run(args.run), src, args.out, args.score_thresh)
    print(f"wrote {n} frame(s) to {args.out}")


def _export(args: argparse.Namespace) -> None:
    import torch

    from mobile_densepose.export import (
        ExportCore,
        example_inputs,
        export_onnx,
        export_torchscript,
        file_mb,
        run_onnx,
        state_dict_mb,
    )
    from mobile_densepose.infer import load_run
    from mobile_densepose.quantize import quantize_int8

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = load_run(args.run)
    export_torchscript(model, out / "core.torchscript.pt")
    export_onnx(model, out / "core.onnx")
    images, rois = example_inputs(model)
    with torch.no_grad():
        eager = ExportCore(model).eval()(images, rois)
    err = max(
        float((e - torch.from_numpy(o)).abs().max())
        for e, o in zip(eager, run_onnx(out / "core.onnx", images, rois))
    )
    print(
        f"float32 state dict {state_dict_mb(model):.2f} MB; TorchScript {file_mb(out / 'core.torchscript.pt'):.2f} MB; ONNX {file_mb(out / 'core.onnx'):.2f} MB; onnxruntime vs eager max |diff| {err:.2e}"
    )
    if args.calibration:
        int8 = quantize_int8(
            model, _calibration(args.run, args.calibration, args.calibration_images)
        )
        torch.save(int8.state_dict(), out / "int8_state_dict.pt")
        print(f"int8 state dict {file_mb(out / 'int8_state_dict.pt'):.2f} MB")


def _calibration(run: str, folder: str, num: int) -> list[torch.Tensor]:
    """(3, H, W) PTQ calibration images: the first ``num`` of ``folder``, or, when
    ``folder`` is the run's own data folder, of the run's train split (its held-out tail
    must not calibrate the model it later evaluates)."""
    from mobile_densepose.config import TrainConfig
    from mobile_densepose.data.dataset import DensePoseDataset
    from mobile_densepose.quantize import calibration_images
    from mobile_densepose.train import make_datasets
    from shared_utils.config import load_config

    cfg = load_config(TrainConfig, Path(run) / "config.yaml")
    if Path(folder).resolve() == Path(cfg.data).resolve():
        train_set = make_datasets(cfg)[0]
        return calibration_images(train_set, min(num, len(train_set.records)))[1]
    data = DensePoseDataset(folder)
    return [data[i][0] for i in range(min(num, len(data)))]


def _bench(args: argparse.Namespace) -> None:
    from mobile_densepose.benchmark import bench_latency, format_bench

    rows = bench_latency(args.presets, args.height, args.width, args.repeats, args.threads)
    print(format_bench(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


def _demo(args: argparse.Namespace) -> None:
    from mobile_densepose.demo import DemoConfig, run_demo

    cfg = DemoConfig(num_images=args.num_images)
    if args.steps is not None:
        cfg = dataclasses.replace(cfg, steps=args.steps)
    metrics = run_demo(args.out, cfg)
    print(json.dumps(metrics, indent=1))


def build_parser() -> argparse.ArgumentParser:
    """The argparse tree of every command (train is parsed by shared_utils.config)."""
    parser = argparse.ArgumentParser(
        prog="mobile-densepose",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("count", help="parameters and size on disk of every preset vs the paper")
    p.add_argument("--presets", nargs="*", help="preset names (default: all)")
    p.add_argument("--json", help="also write the rows as JSON here")
    p = sub.add_parser("make-synthetic", help="render a synthetic DensePose-COCO set")
    p.add_argument(
        "--out", required=True, help="output folder (images/, annotations.json, body_surface.npz)"
    )
    p.add_argument("--num-images", type=int, default=96, help="images to render (default 96)")
    p.add_argument("--height", type=int, default=128, help="image height in pixels (default 128)")
    p.add_argument("--width", type=int, default=160, help="image width in pixels (default 160)")
    p.add_argument("--points", type=int, default=80, help="annotated points per person")
    p.add_argument(
        "--seed", type=int, default=0, help="random seed of poses, photos and points (default 0)"
    )
    sub.add_parser(
        "train",
        help="train PRESET [--field value ...] (mobile-densepose train tiny --help)",
        add_help=False,
    )
    sub.add_parser(
        "qat",
        help="quantisation-aware fine-tuning: qat PRESET --float-run RUN [--field value ...] "
        "(mobile-densepose qat tiny --help)",
        add_help=False,
    )
    p = sub.add_parser("eval", help="box AP + DensePose AP of a trained run")
    p.add_argument(
        "--run", required=True, help="run folder: a float run, or a QAT run (evaluated in int8)"
    )
    p.add_argument("--data", required=True, help="DensePose-COCO folder")
    p.add_argument(
        "--annotations",
        default="annotations.json",
        help="DensePose-COCO json, relative to --data unless absolute (default annotations.json)",
    )
    p.add_argument(
        "--image-dir", default="images", help="image folder inside --data (default images)"
    )
    p.add_argument(
        "--surface", default="", help="body surface npz (default: DATA/body_surface.npz)"
    )
    p.add_argument(
        "--max-images",
        type=int,
        default=None,
        help="evaluate only the first N images (default all)",
    )
    p.add_argument(
        "--per-part-kappa",
        action="store_true",
        help="GPS normalised by each body region's mean geodesic distance (detectron2's "
        "evaluator) instead of kappa = 0.255",
    )
    p = sub.add_parser(
        "convert-geodesics",
        help="official SMPL geodesic files -> OUT/smpl_surface.npz for eval --surface",
        description="Convert DensePose's SMPL evaluation files (download them from the "
        "DensePose project: SMPL_subdiv.mat, SMPL_SUBDIV_TRANSFORM.mat, Pdist_matrix.pkl or "
        "geodists_smpl_27554.pkl) into a body surface whose distance table is memory-mapped.",
    )
    p.add_argument("--smpl-subdiv", required=True, help="SMPL_subdiv.mat")
    p.add_argument("--subdiv-transform", required=True, help="SMPL_SUBDIV_TRANSFORM.mat")
    p.add_argument(
        "--pdist", required=True, help="Pdist_matrix.pkl (or the full geodists_smpl_27554.pkl)"
    )
    p.add_argument("--out", required=True, help="output folder (smpl_surface.npz + .npy table)")
    p = sub.add_parser("infer", help="image or video -> IUV overlay PNG/MP4")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument(
        "--input", required=True, help="image/video path, or 'astronaut' (scikit-image photo)"
    )
    p.add_argument("--out", required=True, help="output .png or .mp4")
    p.add_argument(
        "--score-thresh",
        type=float,
        default=0.5,
        help="draw detections with at least this score (default 0.5)",
    )
    p = sub.add_parser("export", help="TorchScript + ONNX (+ int8) export of a trained run")
    p.add_argument("--run", required=True, help="run folder")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--calibration",
        default="",
        help="DensePose-COCO folder for int8 calibration (omit: no int8)",
    )
    p.add_argument(
        "--calibration-images",
        type=int,
        default=16,
        help="images that calibrate int8 PTQ: the first N of --calibration, or of the run's "
        "train split when --calibration is the run's own data folder (default 16)",
    )
    p = sub.add_parser("bench", help="CPU latency: Mobile (B) vs the R50-FPN baseline")
    p.add_argument(
        "--presets",
        nargs="*",
        default=["mobile_b", "baseline"],
        help="model presets to time, random weights (default: mobile_b baseline)",
    )
    p.add_argument("--height", type=int, default=512, help="input image height (default 512)")
    p.add_argument("--width", type=int, default=512, help="input image width (default 512)")
    p.add_argument(
        "--repeats", type=int, default=5, help="timed calls; the median is reported (default 5)"
    )
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--json", help="also write the rows as JSON here")
    p = sub.add_parser("demo", help="end-to-end demo on embedded data -> DIR/report.json")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--num-images",
        type=int,
        default=96,
        help="synthetic images; the last 20 %% are held out (default 96)",
    )
    p.add_argument("--steps", type=int, help="training steps, batch 4 (default: DemoConfig, 800)")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``mobile-densepose`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("train", "qat"):
        (_train if argv[0] == "train" else _qat)(argv[1:])
        return
    args = build_parser().parse_args(argv)
    commands = {
        "count": _count,
        "make-synthetic": _make_synthetic,
        "eval": _eval,
        "convert-geodesics": _convert_geodesics,
        "infer": _infer,
        "export": _export,
        "bench": _bench,
        "demo": _demo,
    }
    commands[args.command](args)


if __name__ == "__main__":
    main()
