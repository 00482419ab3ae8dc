"""The command line: --help documents every command, and the commands chain on a tiny run
(train-vqvae -> extract-codes -> train -> sample -> eval)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lvt.cli import build_parser, main

COMMANDS = ["train-vqvae", "extract-codes", "train", "sample", "eval", "demo"]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for command in COMMANDS:
        assert command in text
        with pytest.raises(SystemExit):
            main([command, "--help"])
        assert "usage: lvt " + command in capsys.readouterr().out


@pytest.mark.parametrize("flag", ["--steps", "--batch-size"])
@pytest.mark.parametrize("value", ["0", "-3", "two"])
def test_trainer_counts_must_be_positive(
    flag: str, value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 0 used to fall back silently to the preset's value.
    with pytest.raises(SystemExit) as info:
        main(["train-vqvae", "--data", "digits", flag, value, "--out", str(tmp_path / "r")])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert flag in err and ("must be >= 1" in err or "expected an integer" in err)


def test_commands_chain_on_a_tiny_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = ["--data", "digits", "--size", "32", "--frames", "8", "--max-videos", "4"]
    common = ["--steps", "2", "--batch-size", "4", "--device", "cpu"]
    vq_args = ["train-vqvae", "--preset", "tiny", "--lr", "1e-3", "--dihedral"]
    main([*vq_args, *data, *common, "--out", str(tmp_path / "vq")])
    assert (tmp_path / "vq" / "model.pt").is_file()
    saved = (tmp_path / "vq" / "config.yaml").read_text()
    assert "lr: 0.001" in saved
    main(
        [
            "extract-codes",
            "--vqvae",
            str(tmp_path / "vq" / "model.pt"),
            *data,
            "--out",
            str(tmp_path / "codes"),
        ]
    )
    assert len(list((tmp_path / "codes").glob("*.npy"))) == 4
    main(
        [
            "train",
            "--preset",
            "tiny",
            "--codes",
            str(tmp_path / "codes"),
            *common,
            "--out",
            str(tmp_path / "tr"),
        ]
    )
    assert (tmp_path / "tr" / "model.pt").is_file()
    gif = tmp_path / "samples.gif"
    main([
        "sample", "--transformer", str(tmp_path / "tr" / "model.pt"), "--vqvae", str(tmp_path / "vq" / "model.pt"),
        "--codes", str(tmp_path / "codes"), "--num", "1", "--out", str(gif),
    ])  # fmt: skip
    assert gif.is_file() and gif.stat().st_size > 0
    legend = json.loads(gif.with_suffix(".json").read_text())
    assert legend["priming"] == "decoded" and legend["left"].startswith("VQ-VAE-decoded")
    # From videos: the priming frames are the real ones, and the primes' codes are theirs.
    real_gif = tmp_path / "real.gif"
    import shared_utils.io.video

    written: dict[str, object] = {}
    write = shared_utils.io.video.write_video

    def keep_grid(path: Path, grid: object, **kw: object) -> None:
        written["grid"] = grid
        write(path, grid, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(shared_utils.io.video, "write_video", keep_grid)
    main([
        "sample", "--transformer", str(tmp_path / "tr" / "model.pt"), "--vqvae", str(tmp_path / "vq" / "model.pt"),
        "--data", "digits", "--split", "test", "--num", "2", "--out", str(real_gif),
    ])  # fmt: skip
    legend = json.loads(real_gif.with_suffix(".json").read_text())
    assert legend == {
        "left": "real video",
        "right": "1 real priming frame(s), then generated frames",
        "priming": "real",
        "n_prime": 1,
    }
    import numpy as np

    from lvt.checkpoints import load_vqvae
    from lvt.data.sources import iter_videos
    from lvt.evaluation import encode_videos

    test_videos = [v[:8] for _, v in iter_videos("digits", None, size=32, frames=8, split="test")]
    truth = np.stack(test_videos[:2]).astype(np.float32) / 255.0
    sampled = np.load(real_gif.with_suffix(".codes.npy"))
    assert sampled.shape[:2] == (2, 8)
    primes = encode_videos(load_vqvae(tmp_path / "vq" / "model.pt"), truth)[:, :1]
    np.testing.assert_array_equal(sampled[:, :1], primes.numpy())
    grid = np.asarray(written["grid"])  # (T, 2 * 32, 2 * 32, 3): rows videos, real | generated
    assert grid.shape == (8, 64, 64, 3)
    for i in range(2):
        np.testing.assert_array_equal(grid[:, 32 * i : 32 * (i + 1), :32], truth[i])
        np.testing.assert_array_equal(grid[:1, 32 * i : 32 * (i + 1), 32:], truth[i, :1])
    with pytest.raises(SystemExit, match="exactly one of --codes"):
        main(["sample", "--transformer", str(tmp_path / "tr" / "model.pt"), "--vqvae",
              str(tmp_path / "vq" / "model.pt"), "--out", str(tmp_path / "x.gif")])  # fmt: skip
    out = tmp_path / "eval.json"
    capsys.readouterr()
    main([
        "eval", "--transformer", str(tmp_path / "tr" / "model.pt"), "--codes", str(tmp_path / "codes"),
        "--vqvae", str(tmp_path / "vq" / "model.pt"), *data, "--split", "test", "--out", str(out),
    ])  # fmt: skip
    results = json.loads(out.read_text())
    printed = json.loads(capsys.readouterr().out)
    assert printed == results
    # the printed bits/dim are latent_bits_per_dim of the same model on the same codes
    from torch.utils.data import DataLoader

    from lvt.checkpoints import load_transformer
    from lvt.data.codes import CodesDataset
    from lvt.evaluation import latent_bits_per_dim

    model = load_transformer(tmp_path / "tr" / "model.pt")
    codes = CodesDataset(tmp_path / "codes", model.cfg.video_shape[0])
    expected = latent_bits_per_dim(model, DataLoader(codes, batch_size=8))
    assert printed["bits_per_dim"] == pytest.approx(expected, rel=1e-6)
    assert 0.0 < printed["bits_per_dim"] < 10.0
    assert set(results["vqvae"]) == {"psnr", "ssim"} and set(results["copy_last_frame"]) == {
        "psnr",
        "ssim",
    }
    assert "i3d-weights" in results["fvd"]
    # Spatial slicing trained on 4-frame windows (as the official DSSVT), sampled at T = 8.
    main(["train", "--preset", "tiny-spatial", "--codes", str(tmp_path / "codes"), *common,
          "--out", str(tmp_path / "sp")])  # fmt: skip
    main([
        "sample", "--transformer", str(tmp_path / "sp" / "model.pt"), "--vqvae", str(tmp_path / "vq" / "model.pt"),
        "--codes", str(tmp_path / "codes"), "--num", "1", "--out", str(tmp_path / "sp.gif"),
    ])  # fmt: skip
    assert np.load(tmp_path / "sp.codes.npy").shape[:2] == (1, 8)
    with pytest.raises(SystemExit, match="train_frames"):
        main(["train", "--preset", "tiny-spatial", "--codes", str(tmp_path / "codes"), *common,
              "--train-frames", "3", "--out", str(tmp_path / "bad")])  # fmt: skip


def test_every_flag_and_command_has_help_text() -> None:
    from shared_utils.testing import undocumented_options

    assert undocumented_options(build_parser()) == []


def test_parser_rejects_unknown_preset() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--preset", "nope", "--codes", "x", "--out", "y"])
