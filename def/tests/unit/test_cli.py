"""The command line: every command documented, make-dataset and eval wiring."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from def_features.cli import build_parser, main
from def_features.config import RESOLUTIONS, preset
from def_features.data.hdf5_patches import OPTIONAL, REQUIRED, read_patches
from def_features.model.checkpoint import load_model
from shared_utils.testing import undocumented_options
from shared_utils.train.trainer import Trainer

COMMANDS = (
    "make-dataset",
    "import-meshlab",
    "annotate-scans",
    "convert-scans",
    "train",
    "eval",
    "fuse",
    "curves",
    "demo",
)
"""Every sub-command of ``def``."""


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in COMMANDS:
        assert cmd in out
        with pytest.raises(SystemExit):
            build_parser().parse_args([cmd, "--help"])


@pytest.fixture(scope="module")
def patch_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Patches of three procedural parts at all three DEF-Sim resolutions."""
    out = tmp_path_factory.mktemp("cli") / "p.hdf5"
    main(
        [
            "make-dataset",
            "--out",
            str(out),
            "--shapes",
            "3",
            "--patches-per-shape",
            "3",
            "--noise",
            "0,0.01",
            "--resolution",
            "all",
        ]
    )
    return out


def test_make_dataset_writes_official_layout(patch_file: Path) -> None:
    with h5py.File(patch_file, "r") as f:
        assert set(f) == set(REQUIRED) | set(OPTIONAL)
    data = read_patches(patch_file)
    n = len(data["image"])
    assert data["image"].shape == (n, 64, 64) and n >= 6
    assert data["directions"].shape == data["normals"].shape == (n, 64, 64, 3)
    assert data["camera_pose"].shape == (n, 4, 4) and len(data["item_id"]) == n
    # Background (no surface normal) is exactly 0 in the image, surface pixels are not.
    background = (data["normals"] == 0).all(-1)
    assert background.any() and (~background).any()
    assert (data["image"][background] == 0).all()
    assert (data["image"][~background] > 0).all()
    # Truncated distances: within [0, eps = 1], exactly eps with no direction off the surface.
    assert data["distances"].min() >= 0 and data["distances"].max() <= 1
    assert (data["distances"][background] == 1).all()
    assert (data["directions"][background] == 0).all()
    # A unit direction wherever a curve is within the truncation.
    near = ~background & (data["distances"] < 1)
    np.testing.assert_allclose(np.linalg.norm(data["directions"][near], axis=-1), 1, atol=1e-4)
    # has_sharp: some surface pixel is closer than one pixel size to a curve.
    for k in range(n):
        close = data["distances"][k][~background[k]] < data["resolution_3d"][k]
        assert bool(data["has_sharp"][k]) == bool(close.any())
    assert set(np.unique(data["noise_std"]).tolist()) == {0.0, float(np.float32(0.01))}
    # --resolution all: each part cycles high, med, low over its patches.
    res = sorted(np.unique(data["resolution_3d"]).tolist())
    np.testing.assert_allclose(res, sorted(RESOLUTIONS.values()), rtol=1e-6)
    assert np.isfinite(data["camera_pose"]).all() and (data["mesh_scale"] > 0).all()


def test_make_dataset_single_resolution(tmp_path: Path) -> None:
    out = tmp_path / "med.hdf5"
    args = ["make-dataset", "--out", str(out), "--shapes", "1", "--patches-per-shape", "2"]
    main([*args, "--noise", "0", "--resolution", "med"])
    data = read_patches(out)
    assert len(data["image"]) >= 1
    np.testing.assert_allclose(data["resolution_3d"], RESOLUTIONS["med"])
    with pytest.raises(SystemExit):  # --pixel-size and --resolution exclude each other
        build_parser().parse_args([*args, "--resolution", "low", "--pixel-size", "0.1"])


def test_every_option_is_documented_and_preset_only_where_used(
    capsys: pytest.CaptureFixture[str],
) -> None:
    parser = build_parser()
    assert undocumented_options(parser) == []
    with_preset = {"make-dataset", "train"}
    for cmd in COMMANDS:
        with pytest.raises(SystemExit):
            parser.parse_args([cmd, "--help"])
        assert ("--preset" in capsys.readouterr().out) == (cmd in with_preset), cmd
    with pytest.raises(SystemExit):
        parser.parse_args(
            ["eval", "--preset", "paper", "--model", "m", "--train", "a", "--test", "b"]
        )
    assert parser.parse_args(["eval", "--model", "m", "--train", "a", "--test", "b"])


def test_amp_reaches_the_trainer(
    patch_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import def_features.train as train_module

    seen: list[str] = []

    class Recording(Trainer):
        def __init__(self, cfg, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(cfg, **kwargs)
            seen.append(self.cfg.amp)

    monkeypatch.setattr(train_module, "Trainer", Recording)
    assert preset("paper").optim.amp == "bf16" and preset("tiny").optim.amp == "none"
    base = ["train", "--data", str(patch_file), "--steps", "1", "--batch-size", "2"]
    main([*base, "--run-dir", str(tmp_path / "a"), "--amp", "bf16"])
    main([*base, "--run-dir", str(tmp_path / "b")])  # tiny preset: none
    assert seen == ["bf16", "none"]
    # The choice is stored with the model and in the run's config.
    _, cfg = load_model(tmp_path / "a" / "model.pt")
    assert cfg.optim.amp == "bf16" and cfg.optim.batch_size == 2
    assert "amp: bf16" in (tmp_path / "a" / "config.yaml").read_text()


def test_curves_command_on_a_synthetic_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.arange(0, 2, 0.01)
    pts = np.stack([x, 0 * x, 0 * x], -1)
    np.savez(tmp_path / "field.npz", points=pts, distances=np.zeros(len(x)))
    args = ["curves", "--field", str(tmp_path / "field.npz")]
    main([*args, "--out", str(tmp_path / "raw"), "--no-refine"])
    assert "refined" not in capsys.readouterr().out
    main([*args, "--out", str(tmp_path / "t"), "--topology"])
    out = capsys.readouterr().out
    # One well-supported line: the clean-up keeps it.
    assert "refined the curve network" in out and "topology clean-up: 1 -> 1 curves" in out
    main([*args, "--out", str(tmp_path / "c")])
    out = capsys.readouterr().out
    assert "refined the curve network" in out and "topology" not in out
    assert (tmp_path / "c" / "curves.obj").read_text().count("\nl ") + 1 >= 1
    import json

    curves = json.loads((tmp_path / "c" / "curves.json").read_text())
    (curve,) = curves["curves"]
    assert curves["corners"] == [] and not curve["closed"]
    # A straight line: the polyline fit keeps its two end points.
    assert (
        len(curve["polyline"]) == 2 and abs(curve["polyline"][1][0] - curve["polyline"][0][0]) > 1.9
    )
    with pytest.raises(SystemExit, match=r"bad\.npz"):
        np.savez(tmp_path / "bad.npz", points=pts)
        main(["curves", "--field", str(tmp_path / "bad.npz"), "--out", str(tmp_path / "d")])
