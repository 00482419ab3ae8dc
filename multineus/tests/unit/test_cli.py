"""The command line: every command in --help; render and eval on small meshes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multineus.cli import build_parser, main
from multineus.mesh import marching_cubes_mesh
from shared_utils.io.video import read_video


def test_help_lists_every_command() -> None:
    text = build_parser().format_help()
    for cmd in ("train", "fit", "mesh", "render", "eval", "demo"):
        assert cmd in text
    with pytest.raises(SystemExit):
        main(["fit", "--help"])


def test_render_and_eval_commands(tmp_path, capsys) -> None:
    sphere = marching_cubes_mesh(
        lambda p: np.linalg.norm(p, axis=1) - 0.5,
        resolution=24,
        bound=0.8,
        color_fn=lambda v: np.abs(v) / 0.5,
    )
    bigger = marching_cubes_mesh(
        lambda p: np.linalg.norm(p, axis=1) - 0.52, resolution=24, bound=0.8
    )
    sphere.save(tmp_path / "a.ply")
    bigger.save(tmp_path / "b.ply")
    main(
        [
            "render",
            str(tmp_path / "a.ply"),
            str(tmp_path / "a.mp4"),
            "--frames",
            "3",
            "--size",
            "32",
        ]
    )
    frames, _ = read_video(tmp_path / "a.mp4")
    assert frames.shape[0] == 3 and frames.mean() > 10
    capsys.readouterr()
    main(
        [
            "eval",
            str(tmp_path / "a.ply"),
            str(tmp_path / "b.ply"),
            "--mm-per-unit",
            "1000",
            "--face-anchor",
            "0",
            "-0.5",
            "0",
        ]
    )
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # Concentric spheres 0.02 units = 20 mm apart (ICP cannot shrink a sphere), plus the
    # sampling floor of 20000 points (a few mm at this scale).
    assert 19.0 < res["head_mm"] < 26.0


def test_mesh_command_rejects_a_missing_model(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match=r"multineus\.yaml"):
        main(["mesh", str(tmp_path), str(tmp_path / "x.ply")])


def test_train_with_background_model(tmp_path) -> None:
    from multineus.io_model import load_model

    main(["train", str(tmp_path), "--steps", "2", "--heads", "1", "--background"])
    model, cfg, _ = load_model(tmp_path)
    assert cfg.background.enabled and cfg.loss.color_on == "all" and cfg.loss.mask == 0.0
    assert model.background is not None and model.background.num_scenes == 1
