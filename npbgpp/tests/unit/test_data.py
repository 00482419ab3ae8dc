"""Scenes: validation errors, the embedded generator, and the real-format loaders (each
tested on a tiny scene written here in that format)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from npbgpp.config import DataConfig
from npbgpp.data.loaders import load_scene
from npbgpp.data.photos import TEXTURE_PHOTOS, photo_texture
from npbgpp.data.scene import Scene, SceneError
from npbgpp.data.synthetic import make_scene, training_scenes
from shared_utils.cameras.conventions import opengl_c2w_from_opencv
from shared_utils.io.images import write_image
from shared_utils.io.meshes import write_point_cloud
from shared_utils.render.procedural import random_textured_object


@pytest.fixture(scope="module")
def tiny() -> tuple[Scene, Scene]:
    scene, held = make_scene(3, views=3, size=16, num_points=300, heldout=2)
    assert held is not None
    return scene, held


def test_synthetic_scene_contents(tiny: tuple[Scene, Scene]) -> None:
    scene, held = tiny
    assert scene.images.shape == (3, 16, 16, 3) and held.images.shape == (2, 16, 16, 3)
    assert scene.points.shape == (300, 3) and scene.colors is not None
    assert 0.0 <= scene.colors.min() and scene.colors.max() <= 1.0
    # Objects are scaled into the unit ball; the views see them (not all background).
    assert float(np.linalg.norm(scene.points, axis=1).max()) <= 1.0 + 1e-5
    assert all(float((img.sum(-1) > 0).mean()) > 0.05 for img in scene.images)
    # The coverage masks are the renders' alpha: 0 on the black background, 1 on the object.
    assert scene.masks is not None and scene.masks.shape == (3, 16, 16)
    inside = scene.masks > 0.999
    assert (scene.images.sum(-1)[scene.masks == 0] == 0).all() and inside.mean() > 0.05
    again, _ = make_scene(3, views=3, size=16, num_points=300)
    assert np.array_equal(again.images, scene.images) and np.array_equal(again.points, scene.points)


def test_photo_textured_scenes(tiny: tuple[Scene, Scene]) -> None:
    """Same object and cameras as the procedural scene, a real photo's colours on it."""
    scene, _ = tiny
    photo, _ = make_scene(3, views=3, size=16, num_points=300, texture="photo")
    assert photo.name == "synthetic-photo-3"
    np.testing.assert_array_equal(photo.points, scene.points)
    assert photo.masks is not None and scene.masks is not None
    np.testing.assert_array_equal(photo.masks, scene.masks)  # same silhouettes
    assert photo.colors is not None and scene.colors is not None
    assert not np.allclose(photo.colors, scene.colors)
    # a photo has many more distinct colours than a two-colour procedural pattern
    tex, proc = photo_texture(3, 64), random_textured_object(3, texture_size=64).texture
    assert proc is not None and tex.shape == (64, 64, 3) and tex.dtype == np.float32
    distinct = [len(np.unique(np.round(t * 255).reshape(-1, 3), axis=0)) for t in (tex, proc)]
    assert distinct[0] > distinct[1]
    np.testing.assert_array_equal(photo_texture(3, 64), tex)  # deterministic
    # the Middlebury pair is test data: never a texture
    assert not any("motorcycle" in name for name in TEXTURE_PHOTOS)
    with pytest.raises(ValueError, match="texture must be one of"):
        make_scene(3, views=3, size=16, texture="marble")


def test_training_scenes_alternate_textures() -> None:
    data = DataConfig(num_train_scenes=4, views_per_scene=2, image_size=8, num_points=50)
    assert [s.name for s in training_scenes(data)] == [f"synthetic-{i}" for i in range(4)]
    data.photo_texture_every = 2
    names = [s.name for s in training_scenes(data)]
    assert names == ["synthetic-0", "synthetic-photo-1", "synthetic-2", "synthetic-photo-3"]


def test_scene_validation_errors(tiny: tuple[Scene, Scene]) -> None:
    scene, _ = tiny
    with pytest.raises(SceneError, match="no cameras"):
        Scene("s", scene.images[:0], [], scene.points)
    with pytest.raises(SceneError, match="3 cameras but 2 images"):
        Scene("s", scene.images[:2], scene.cameras, scene.points)
    with pytest.raises(SceneError, match="point cloud is empty"):
        Scene("s", scene.images, scene.cameras, np.zeros((0, 3)))
    bad = scene.points.copy()
    bad[7, 1] = np.nan
    with pytest.raises(SceneError, match="non-finite coordinates \\(first at point 7\\)"):
        Scene("s", scene.images, scene.cameras, bad)
    with pytest.raises(SceneError, match="does not match the image size"):
        Scene("s", scene.images[:, :8], scene.cameras, scene.points)
    with pytest.raises(SceneError, match=r"masks must be \(V, H, W\)"):
        Scene("s", scene.images, scene.cameras, scene.points, masks=np.ones((3, 8, 16)))
    with pytest.raises(SceneError, match=r"masks: values must be finite and in \[0, 1\]"):
        Scene("s", scene.images, scene.cameras, scene.points, masks=np.full((3, 16, 16), 2.0))
    no_masks = Scene("s", scene.images, scene.cameras, scene.points)
    with pytest.raises(SceneError, match="no foreground masks"):
        no_masks.mask_tensor(0)


def _assert_same_views(loaded: Scene, scene: Scene, atol_img: float | None = 1 / 255) -> None:
    assert len(loaded) == len(scene)
    for a, b in zip(loaded.cameras, scene.cameras, strict=True):
        np.testing.assert_allclose(a.K, b.K, atol=1e-5)
        np.testing.assert_allclose(a.cam_from_world, b.cam_from_world, atol=1e-5)
    if atol_img is None:  # lossy (JPEG, chroma subsampled): compare the mean error
        assert float(np.abs(loaded.images - scene.images).mean()) < 0.02
    else:
        np.testing.assert_allclose(loaded.images, scene.images, atol=atol_img)


def test_nerf_synthetic_loader(tmp_path: Path, tiny: tuple[Scene, Scene]) -> None:
    scene, _ = tiny
    (tmp_path / "train").mkdir()
    frames = []
    assert scene.masks is not None
    for i, (img, cam) in enumerate(zip(scene.images, scene.cameras, strict=True)):
        rgba = np.concatenate([img, scene.masks[i][..., None]], -1)
        write_image(tmp_path / "train" / f"r_{i}.png", rgba)
        c2w = opengl_c2w_from_opencv(cam.cam_from_world)
        frames.append({"file_path": f"./train/r_{i}", "transform_matrix": c2w.tolist()})
    angle = 2 * math.atan(scene.cameras[0].width / (2 * scene.cameras[0].fx))
    (tmp_path / "transforms_train.json").write_text(
        json.dumps({"camera_angle_x": angle, "frames": frames})
    )
    with pytest.raises(SceneError, match="points"):
        load_scene(tmp_path, "nerf_synthetic")
    write_point_cloud(tmp_path / "points.ply", scene.points.astype(np.float64))
    loaded = load_scene(tmp_path, "nerf_synthetic")
    # colour is composited on black with the alpha (the renders already are)
    _assert_same_views(loaded, scene, atol_img=2 / 255)
    np.testing.assert_allclose(loaded.points, scene.points, atol=1e-6)
    assert loaded.masks is not None
    np.testing.assert_allclose(loaded.masks, scene.masks, atol=1 / 255)


def test_scannet_loader(tmp_path: Path, tiny: tuple[Scene, Scene]) -> None:
    scene, _ = tiny
    for d in ("intrinsic", "pose", "color"):
        (tmp_path / d).mkdir()
    K4 = np.eye(4)
    K4[:3, :3] = scene.cameras[0].K
    np.savetxt(tmp_path / "intrinsic" / "intrinsic_color.txt", K4)
    for i, (img, cam) in enumerate(zip(scene.images, scene.cameras, strict=True)):
        np.savetxt(tmp_path / "pose" / f"{i}.txt", np.linalg.inv(cam.cam_from_world))
        write_image(tmp_path / "color" / f"{i}.jpg", img, quality=100)
    write_point_cloud(tmp_path / "full.ply", scene.points.astype(np.float64))
    loaded = load_scene(tmp_path, "scannet")
    _assert_same_views(loaded, scene, atol_img=None)  # JPEG frames
    assert loaded.points.shape == scene.points.shape


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a rotation matrix (Shepperd's method)."""
    m = np.asarray(R, dtype=np.float64)
    t = np.trace(m)
    if t > 0:
        s = 2.0 * np.sqrt(1.0 + t)
        q = [0.25 * s, (m[2, 1] - m[1, 2]) / s, (m[0, 2] - m[2, 0]) / s, (m[1, 0] - m[0, 1]) / s]
    else:
        i = int(np.argmax(np.diag(m)))
        j, k = (i + 1) % 3, (i + 2) % 3
        s = 2.0 * np.sqrt(1.0 + m[i, i] - m[j, j] - m[k, k])
        q = [0.0, 0.0, 0.0, 0.0]
        q[0] = (m[k, j] - m[j, k]) / s
        q[1 + i] = 0.25 * s
        q[1 + j] = (m[j, i] + m[i, j]) / s
        q[1 + k] = (m[k, i] + m[i, k]) / s
    return np.array(q) / np.linalg.norm(q)


def test_colmap_text_loader(tmp_path: Path, tiny: tuple[Scene, Scene]) -> None:
    scene, _ = tiny
    model = tmp_path / "sparse" / "0"
    model.mkdir(parents=True)
    (tmp_path / "images").mkdir()
    cam = scene.cameras[0]
    (model / "cameras.txt").write_text(
        f"1 PINHOLE {cam.width} {cam.height} {cam.fx} {cam.fy} {cam.cx} {cam.cy}\n"
    )
    lines = []
    for i, (img, c) in enumerate(zip(scene.images, scene.cameras, strict=True)):
        q = _quat_wxyz(c.cam_from_world[:3, :3])
        t = c.cam_from_world[:3, 3]
        nums = " ".join(f"{float(v):.17g}" for v in (*q, *t))
        lines.append(f"{i + 1} {nums} 1 v{i}.png\n\n")
        write_image(tmp_path / "images" / f"v{i}.png", img)
    (model / "images.txt").write_text("".join(lines))
    pts = "".join(
        f"{k + 1} {p[0]:.9g} {p[1]:.9g} {p[2]:.9g} 128 64 32 0.5\n"
        for k, p in enumerate(scene.points[:50])
    )
    (model / "points3D.txt").write_text(pts)
    loaded = load_scene(tmp_path, "colmap")
    _assert_same_views(loaded, scene)
    assert loaded.points.shape == (50, 3)
    # A denser points.ply in the root wins over the sparse points.
    write_point_cloud(tmp_path / "points.ply", scene.points.astype(np.float64))
    assert load_scene(tmp_path, "colmap").points.shape == scene.points.shape


def test_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(SceneError, match="scene folder not found"):
        load_scene(tmp_path / "missing", "colmap")
    with pytest.raises(SceneError, match="no COLMAP model"):
        load_scene(tmp_path, "colmap")
    with pytest.raises(SceneError, match="unknown scene format"):
        load_scene(tmp_path, "blender")


def test_idr_loader(tmp_path: Path, tiny: tuple[Scene, Scene]) -> None:
    scene, _ = tiny
    (tmp_path / "image").mkdir()
    (tmp_path / "mask").mkdir()
    arrays = {}
    for i, (img, cam) in enumerate(zip(scene.images, scene.cameras, strict=True)):
        world = np.eye(4)
        world[:3, :4] = cam.K @ cam.cam_from_world[:3, :4]
        arrays[f"world_mat_{i}"] = world
        arrays[f"scale_mat_{i}"] = np.eye(4)
        write_image(tmp_path / "image" / f"{i:03d}.png", img)
        assert scene.masks is not None
        write_image(tmp_path / "mask" / f"{i:03d}.png", np.repeat(scene.masks[i][..., None], 3, -1))
    np.savez(tmp_path / "cameras_sphere.npz", **arrays)
    write_point_cloud(tmp_path / "points.ply", scene.points.astype(np.float64))
    loaded = load_scene(tmp_path, "idr")
    _assert_same_views(loaded, scene)
    np.testing.assert_allclose(loaded.points, scene.points, atol=1e-6)
    assert loaded.masks is not None
    np.testing.assert_allclose(loaded.masks, scene.masks, atol=1 / 255)
    half = load_scene(tmp_path, "idr", downscale=2)
    assert half.masks is not None and half.masks.shape == (3, 8, 8)
    box = scene.masks.reshape(3, 8, 2, 8, 2).mean(axis=(2, 4))
    np.testing.assert_allclose(half.masks, box, atol=1 / 255)
    write_image(tmp_path / "mask" / "001.png", np.ones((8, 8, 3)))
    with pytest.raises(SceneError, match=r"001\.png: mask size 8x8 differs from its image 16x16"):
        load_scene(tmp_path, "idr")
