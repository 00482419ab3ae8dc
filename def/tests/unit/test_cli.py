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
    for cmd in ("make-dataset", "train", "eval", "fuse", "demo"):
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
