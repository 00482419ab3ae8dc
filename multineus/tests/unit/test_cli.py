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
    for cmd in ("train", "fit", "mesh", "render", "eval", "scan-check", "demo"):
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


def _cap_scan(path) -> None:
    """A frontal 'range scan' in mm: a 90 mm sphere cap facing +z, 800 mm from the scanner."""
    from shared_utils.io.meshes import write_mesh

    n = 30
    th, ph = np.meshgrid(np.linspace(-0.9, 0.9, n), np.linspace(-0.9, 0.9, n))
    v = 90.0 * np.stack([np.sin(th) * np.cos(ph), np.sin(ph), np.cos(th) * np.cos(ph)], -1)
    v = v.reshape(-1, 3) - [0.0, 0.0, 800.0]
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate(
        [np.stack([a, d, b], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
    )
    write_mesh(path, v, faces)


def test_scan_check_command_on_a_given_scan(tmp_path, capsys) -> None:
    model = tmp_path / "model"
    main(["train", str(model), "--steps", "2", "--heads", "1"])
    _cap_scan(tmp_path / "cap.ply")
    capsys.readouterr()
    args = ["scan-check", str(model), str(tmp_path / "out"), "--scan", str(tmp_path / "cap.ply")]
    main([*args, "--stage1", "2", "--stage2", "1", "--image-size", "24"])
    res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert res["scan"] == str(tmp_path / "cap.ply")
    for key in ("mean_head_mm", "fitted_mm"):
        assert 0.0 < res[key] < 100.0
    assert (tmp_path / "out" / "face_scan_fitted.ply").is_file()
    with pytest.raises(SystemExit, match="coefficient-prior must be >= 0"):
        main([*args, "--coefficient-prior", "-1"])
    with pytest.raises(SystemExit, match=r"nothing\.ply"):
        main([*args[:3], "--scan", str(tmp_path / "nothing.ply")])
