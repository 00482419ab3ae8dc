"""Scene loaders on tiny scenes written by the test in the real formats, and the ray batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from multineus.data.loaders import read_scene_folder
from multineus.data.scenes import RayBatches, SceneViews, first_item
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at
from shared_utils.cameras.viewset import CameraFormatError
from shared_utils.io.images import write_image


def _write_idr(root, n: int = 2, size: int = 16) -> tuple[np.ndarray, list[np.ndarray]]:
    (root / "image").mkdir(parents=True)
    (root / "mask").mkdir()
    K = intrinsics_from_fov(30.0, size, size)
    arrays, Ts = {}, []
    for i in range(n):
        T = look_at((2.0 * np.cos(i), -2.5, 0.3 * i), (0.0, 0.0, 0.0))
        Ts.append(T)
        P = np.eye(4)
        P[:3, :4] = K @ T[:3, :4]
        arrays[f"world_mat_{i}"] = P
        arrays[f"scale_mat_{i}"] = np.eye(4)
        img = np.zeros((size, size, 3), dtype=np.float32)
        img[4:12, 4:12] = [0.2 * i, 0.5, 0.8]
        write_image(root / "image" / f"{i:03d}.png", img)
        mask = np.zeros((size, size, 3), dtype=np.float32)
        mask[4:12, 4:12] = 1.0
        write_image(root / "mask" / f"{i:03d}.png", mask)
    np.savez(root / "cameras_sphere.npz", **arrays)
    return K, Ts


def test_idr_scene_round_trip(tmp_path) -> None:
    K, Ts = _write_idr(tmp_path / "scene")
    s = read_scene_folder(tmp_path / "scene")
    assert s.num_views == 2 and s.images.shape == (2, 16, 16, 3)
    assert np.allclose(s.K[0].numpy(), K, atol=1e-4)
    assert np.allclose(s.cam_from_world[1].numpy(), Ts[1], atol=1e-4)
    assert float(s.masks[0, 8, 8]) == 1.0 and float(s.masks[0, 0, 0]) == 0.0
    assert np.allclose(s.images[1, 8, 8].numpy(), [0.2, 0.5, 0.8], atol=1 / 255)
    half = read_scene_folder(tmp_path / "scene", scale=0.5)
    assert half.images.shape == (2, 8, 8, 3) and np.isclose(
        float(half.K[0, 0, 0]), K[0, 0] / 2, atol=1e-4
    )


def test_mismatched_mask_is_named(tmp_path) -> None:
    _write_idr(tmp_path / "scene")
    write_image(tmp_path / "scene" / "mask" / "001.png", np.zeros((8, 8, 3), dtype=np.float32))
    with pytest.raises(ValueError, match=r"001\.png"):
        read_scene_folder(tmp_path / "scene")


def test_unknown_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="neither an IDR"):
        read_scene_folder(tmp_path)


def test_scene_views_validate_and_ray_batches_are_reproducible() -> None:
    with pytest.raises(ValueError, match="masks"):
        SceneViews(
            torch.zeros(2, 4, 4, 3),
            torch.zeros(2, 4, 5),
            torch.zeros(2, 3, 3),
            torch.zeros(2, 4, 4),
        )
    g = torch.Generator().manual_seed(0)
    scenes = [
        SceneViews(
            torch.rand(3, 4, 5, 3, generator=g),
            torch.ones(3, 4, 5),
            torch.eye(3).repeat(3, 1, 1),
            torch.eye(4).repeat(3, 1, 1),
        )
        for _ in range(2)
    ]
    data = RayBatches(scenes, rays=7, length=10, seed=3)
    a, b = data[5], data[5]
    assert int(a["scene"]) == 1 and all(torch.equal(a[k], b[k]) for k in a)
    v, uv = a["view"], a["uv"]
    row, col = (uv[:, 1] - 0.5).long(), (uv[:, 0] - 0.5).long()
    assert torch.equal(a["rgb"], scenes[1].images[v, row, col])
    assert first_item([a]) is a
    with pytest.raises(ValueError, match=r"batch_size=1"):
        first_item([a, b])


def test_fit_command_on_an_idr_scene(tmp_path) -> None:
    """`multineus fit --scene` on an IDR folder, with the averaging and prior options."""
    import yaml

    from multineus.cli import main

    _write_idr(tmp_path / "scene")
    main(["train", str(tmp_path / "m"), "--steps", "1", "--heads", "2"])
    fit = ["fit", str(tmp_path / "m"), str(tmp_path / "f"), "--scene", str(tmp_path / "scene")]
    main([*fit, "--stage1", "1", "--stage2", "1", "--resolution", "16",
          "--init-weights", "photometric", "--init-temperature", "0.5",
          "--coefficient-prior", "5", "--shared-prior", "10", "--symmetry", "3"])  # fmt: skip
    assert (tmp_path / "f" / "mesh.ply").stat().st_size > 0
    saved = yaml.safe_load((tmp_path / "f" / "run" / "stage2" / "config.yaml").read_text())
    fit_cfg = saved["fit"]
    assert fit_cfg["init_weights"] == "photometric" and fit_cfg["init_temperature"] == 0.5
    assert fit_cfg["coefficient_prior"] == 5.0 and fit_cfg["shared_prior"] == 10.0
    assert fit_cfg["symmetry"] == 3.0
    for flag, value in (
        ("--shared-prior", "-1"),
        ("--symmetry", "-1"),
        ("--init-temperature", "0"),
    ):
        with pytest.raises(SystemExit, match=flag):
            main([*fit, flag, value])


def _quat_wxyz(R: np.ndarray) -> np.ndarray:
    """COLMAP's (qw, qx, qy, qz) of a rotation matrix."""
    from scipy.spatial.transform import Rotation

    x, y, z, w = Rotation.from_matrix(R).as_quat()
    return np.array([w, x, y, z])


def test_colmap_text_scene(tmp_path) -> None:
    # a COLMAP text model written here: two PINHOLE cameras of different focal lengths,
    # three registered images and two sparse points, images in images/
    root = tmp_path / "colmap"
    model = root / "sparse" / "0"
    model.mkdir(parents=True)
    (root / "images").mkdir()
    W, H = 20, 16
    Ks = {1: (24.0, 22.0, 10.5, 7.5), 2: (30.0, 30.0, 9.0, 8.0)}
    (model / "cameras.txt").write_text(
        "# CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]\n"
        + "".join(f"{i} PINHOLE {W} {H} {' '.join(map(str, p))}\n" for i, p in Ks.items())
    )
    Ts = [look_at((2.0 * np.cos(a), -2.5, 0.2 + a), (0.0, 0.0, 0.1)) for a in (0.0, 0.4, 0.9)]
    lines = ["# IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME\n"]
    for i, T in enumerate(Ts):
        q, t = _quat_wxyz(T[:3, :3]), T[:3, 3]
        cam = 1 if i < 2 else 2
        name = f"view{i}.png"
        lines.append(f"{i + 1} {' '.join(f'{v:.12f}' for v in (*q, *t))} {cam} {name}\n\n")
        img = np.full((H, W, 3), 0.1 * (i + 1), dtype=np.float32)
        write_image(root / "images" / name, img)
    (model / "images.txt").write_text("".join(lines))
    (model / "points3D.txt").write_text(
        "# POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[]\n"
        "1 0.1 0.2 0.3 255 0 0 0.5\n2 -0.1 0.0 0.2 0 255 0 0.5\n"
    )
    s = read_scene_folder(root)
    assert s.num_views == 3 and s.images.shape == (3, H, W, 3)
    for i, cam in enumerate((1, 1, 2)):
        fx, fy, cx, cy = Ks[cam]
        K = np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]])
        assert np.allclose(s.K[i].numpy(), K, atol=1e-4), i
        assert np.allclose(s.cam_from_world[i].numpy(), Ts[i], atol=1e-5), i
        assert np.allclose(s.images[i].numpy(), 0.1 * (i + 1), atol=1 / 255)
    # no masks in a COLMAP scene: every pixel is foreground
    assert float(s.masks.min()) == 1.0
    half = read_scene_folder(root, scale=0.5)
    assert half.images.shape == (3, 8, 10, 3)
    assert np.isclose(float(half.K[2, 0, 0]), 15.0, atol=1e-4)
    assert np.allclose(half.cam_from_world.numpy(), s.cam_from_world.numpy())
    # a missing image is named
    (root / "images" / "view1.png").unlink()
    with pytest.raises(CameraFormatError, match=r"view1\.png"):
        read_scene_folder(root)
