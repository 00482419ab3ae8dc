"""NeRF-Synthetic transforms json reader."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared_utils.cameras.conventions import opengl_c2w_from_opencv
from shared_utils.cameras.nerf_synthetic import read_nerf_synthetic
from shared_utils.cameras.rigs import look_at
from shared_utils.cameras.viewset import CameraFormatError

WIDTH, HEIGHT = 20, 16


def _write_scene(root: Path, split: str = "train") -> list[np.ndarray]:
    """Blender-style scene: RGBA pngs, file_path without extension, OpenGL c2w."""
    (root / split).mkdir(parents=True)
    eyes = [(4.0, 0.0, 1.0), (0.0, 4.0, 2.0), (-3.0, -3.0, 0.5)]
    poses = [look_at(e, (0.0, 0.0, 0.0)) for e in eyes]
    frames = []
    for i, T in enumerate(poses):
        Image.new("RGBA", (WIDTH, HEIGHT)).save(root / split / f"r_{i}.png")
        frames.append(
            {
                "file_path": f"./{split}/r_{i}",
                "rotation": 0.0,
                "transform_matrix": opengl_c2w_from_opencv(T).tolist(),
            }
        )
    (root / f"transforms_{split}.json").write_text(
        json.dumps({"camera_angle_x": 0.6911112070083618, "frames": frames})
    )
    return poses


def test_read_nerf_synthetic(tmp_path: Path) -> None:
    poses = _write_scene(tmp_path, "val")
    vs = read_nerf_synthetic(tmp_path, "val")
    assert vs.names == ["r_0", "r_1", "r_2"]
    assert vs.image_paths[1] == tmp_path / "val" / "r_1.png"
    focal = 0.5 * WIDTH / math.tan(0.5 * 0.6911112070083618)
    for cam, T in zip(vs.cameras, poses):
        np.testing.assert_allclose(cam.cam_from_world, T, atol=1e-12)
        np.testing.assert_allclose(
            cam.K, np.array([[focal, 0, 10.0], [0, focal, 8.0], [0, 0, 1]]), atol=1e-12
        )
        assert (cam.width, cam.height) == (WIDTH, HEIGHT)
        uv, _ = cam.project(np.zeros((1, 3)))  # every camera looks at the origin
        np.testing.assert_allclose(uv[0], [10.0, 8.0], atol=1e-9)
    assert vs.points is None and vs.mask_paths is None


def _mutate(root: Path, fn) -> None:  # type: ignore[no-untyped-def]
    path = root / "transforms_train.json"
    meta = json.loads(path.read_text())
    fn(meta)
    path.write_text(json.dumps(meta))


def test_read_nerf_synthetic_malformed(tmp_path: Path) -> None:
    with pytest.raises(CameraFormatError, match=r"transforms_train.json.*does not exist"):
        read_nerf_synthetic(tmp_path, "train")
    _write_scene(tmp_path)
    path = tmp_path / "transforms_train.json"
    good = path.read_text()

    cases = [
        (lambda m: m.pop("camera_angle_x"), "camera_angle_x"),
        (lambda m: m.__setitem__("camera_angle_x", "wide"), "camera_angle_x"),
        (lambda m: m.pop("frames"), "'frames'"),
        (
            lambda m: m["frames"][1].pop("transform_matrix"),
            r"frames\[1\].transform_matrix': missing",
        ),
        (
            lambda m: m["frames"][2].__setitem__("transform_matrix", [[1, 0, 0], [0, 1, 0]]),
            r"frames\[2\].transform_matrix",
        ),
        (lambda m: m["frames"][0].pop("file_path"), r"frames\[0\].file_path"),
        (
            lambda m: m["frames"][0].__setitem__("file_path", "./train/missing"),
            "missing.png does not exist",
        ),
    ]
    for mutate, pattern in cases:
        path.write_text(good)
        _mutate(tmp_path, mutate)
        with pytest.raises(CameraFormatError, match=pattern) as info:
            read_nerf_synthetic(tmp_path, "train")
        assert info.value.file == path
    path.write_text(good[:-10])
    with pytest.raises(CameraFormatError, match=r"not valid JSON"):
        read_nerf_synthetic(tmp_path, "train")
