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


def test_train_refuses_a_global_batch_that_does_not_split_over_ranks(tmp_path, monkeypatch) -> None:
    # as under `torchrun --nproc_per_node 2`: the preset's global batch of 1 cannot be split
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(SystemExit, match="must divide by the 2 torchrun processes") as err:
        main(["train", str(tmp_path / "m"), "--steps", "1"])
    assert "--batch-size 2" in str(err.value) and "global batch 1" in str(err.value)
    with pytest.raises(SystemExit, match=r"global batch 3 .* pass --batch-size 2"):
        main(["train", str(tmp_path / "m"), "--batch-size", "3", "--steps", "1"])
    with pytest.raises(SystemExit, match="--batch-size must be >= 1, got 0"):
        main(["train", str(tmp_path / "m"), "--batch-size", "0"])
    assert not (tmp_path / "m").exists()


def test_every_option_and_command_has_help() -> None:
    from shared_utils.testing import undocumented_options

    assert undocumented_options(build_parser()) == []
    render = build_parser()._subparsers._group_actions[0].choices["render"]  # type: ignore[union-attr]
    text = render.format_help()
    for flag in ("--frames", "--size", "--fps"):
        assert flag in text
    assert "frames per second" in text and "full turn" in text


def _tiny_model(folder) -> None:
    """A small untrained model folder, as `multineus train` writes it (cheap renderer)."""
    import torch

    from multineus.config import tiny_config
    from multineus.io_model import save_model
    from multineus.model.multineus import MultiNeuS
    from shared_utils.cameras.rigs import intrinsics_from_fov

    cfg = tiny_config()
    cfg.multi.num_scenes = 2
    cfg.renderer.n_samples, cfg.renderer.n_importance = 8, 0
    cfg.rays_per_batch = 16
    cfg.trainer.log_every = 0
    torch.manual_seed(0)
    K = torch.as_tensor(intrinsics_from_fov(30.0, 32, 32), dtype=torch.float32)
    save_model(MultiNeuS(cfg), cfg, folder, mean_K=K)


def test_fit_photo_command_on_the_astronaut(tmp_path, capsys) -> None:
    skdata = pytest.importorskip("skimage.data")
    from multineus.config import MultiNeuSConfig
    from shared_utils.config import load_config
    from shared_utils.io.images import write_image
    from shared_utils.io.meshes import read_mesh

    _tiny_model(tmp_path / "model")
    photo = tmp_path / "astronaut.png"
    write_image(photo, skdata.astronaut().astype(np.float32) / 255.0)
    steps = ["--stage1", "2", "--stage2", "1", "--resolution", "24", "--device", "cpu"]
    main(["fit", str(tmp_path / "model"), str(tmp_path / "fit"), "--photo", str(photo), *steps])
    line = capsys.readouterr().out.strip().splitlines()[-1]
    mesh = read_mesh(tmp_path / "fit" / "mesh.ply")
    assert line == f"wrote {tmp_path / 'fit' / 'mesh.ply'} ({len(mesh.faces)} faces)"
    assert len(mesh.faces) > 100 and np.abs(mesh.vertices).max() <= 1.0 + 1e-6
    # both stages ran for the requested steps; GrabCut's mask keeps the mask loss at 1
    for stage, n in (("stage1", 2), ("stage2", 1)):
        run = tmp_path / "fit" / "run" / stage
        assert json.loads((run / "metrics.json").read_text())["final"]["step"] == n
        assert load_config(MultiNeuSConfig, run / "config.yaml").loss.mask == 1.0
    # without a segmenter the whole crop is foreground and the mask loss is off
    main(
        [
            "fit",
            str(tmp_path / "model"),
            str(tmp_path / "fit0"),
            "--photo",
            str(photo),
            *steps,
            "--segmenter",
            "none",
            "--stage2",
            "0",
        ]
    )
    run0 = tmp_path / "fit0" / "run" / "stage1"
    assert load_config(MultiNeuSConfig, run0 / "config.yaml").loss.mask == 0.0
    assert not (tmp_path / "fit0" / "run" / "stage2").exists()


def test_fit_photo_with_a_wrong_size_mask_is_a_clear_error(tmp_path) -> None:
    from shared_utils.io.images import write_image

    _tiny_model(tmp_path / "model")
    write_image(tmp_path / "p.png", np.full((40, 30, 3), 0.5, dtype=np.float32))
    write_image(tmp_path / "m.png", np.ones((20, 30, 3), dtype=np.float32))
    with pytest.raises(SystemExit) as err:
        main(
            [
                "fit",
                str(tmp_path / "model"),
                str(tmp_path / "o"),
                "--photo",
                str(tmp_path / "p.png"),
                "--mask",
                str(tmp_path / "m.png"),
            ]
        )
    msg = str(err.value)
    assert f"--mask {tmp_path / 'm.png'} is 30x20 pixels" in msg
    assert f"--photo {tmp_path / 'p.png'} is 30x40" in msg
    assert not (tmp_path / "o").exists()


def test_mesh_obj_round_trip(tmp_path) -> None:
    from shared_utils.io.meshes import read_mesh

    sphere = marching_cubes_mesh(
        lambda p: np.linalg.norm(p, axis=1) - 0.5,
        resolution=16,
        bound=0.8,
        color_fn=lambda v: np.clip(np.abs(v) / 0.5, 0.0, 1.0),
    )
    sphere.save(tmp_path / "s.obj")
    back = read_mesh(tmp_path / "s.obj")
    assert np.allclose(back.vertices, sphere.vertices, atol=1e-5)
    assert np.array_equal(back.faces, sphere.faces)
    assert back.vertex_colors is not None
    assert np.allclose(back.vertex_colors, sphere.vertex_colors, atol=1 / 255)
    # the same mesh through PLY reads back identically
    sphere.save(tmp_path / "s.ply")
    ply = read_mesh(tmp_path / "s.ply")
    assert np.array_equal(ply.faces, back.faces)
