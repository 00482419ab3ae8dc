"""The command line: every command documented, make-dataset and eval wiring."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from def_features.cli import build_parser, main
from def_features.data.hdf5_patches import read_patches


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for cmd in (
        "make-dataset",
        "import-meshlab",
        "annotate-scans",
        "convert-scans",
        "train",
        "eval",
        "fuse",
        "curves",
        "demo",
    ):
        assert cmd in out
        with pytest.raises(SystemExit):
            build_parser().parse_args([cmd, "--help"])


def test_make_dataset_writes_official_layout(tmp_path: Path) -> None:
    out = tmp_path / "p.hdf5"
    main(
        [
            "make-dataset",
            "--out",
            str(out),
            "--shapes",
            "2",
            "--patches-per-shape",
            "2",
            "--noise",
            "0,0.01",
        ]
    )
    data = read_patches(out)
    assert data["image"].shape[1:] == (64, 64)
    assert set(np.unique(data["noise_std"])) <= {0.0, np.float32(0.01)}
    np.testing.assert_allclose(data["resolution_3d"], 0.02)


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
