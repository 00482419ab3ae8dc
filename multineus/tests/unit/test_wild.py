"""Canonical landmarks, PnP pose recovery, and the dlib landmark backend on real portraits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from multineus.data.heads import HeadParams, head_sdf
from multineus.wild.canonical import canonical_landmarks
from multineus.wild.pnp import PoseEstimationError, estimate_pose
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at


def test_canonical_landmarks_lie_on_the_face() -> None:
    lm = canonical_landmarks()
    assert lm.shape == (68, 3)
    assert np.abs(head_sdf(HeadParams(), lm)).max() < 5e-3
    assert np.all(lm[:, 1] < 0)  # on the front half
    assert lm[0, 0] < 0 < lm[16, 0]  # jaw from the subject's right (image left)
    assert lm[30, 1] < lm[36, 1]  # the nose tip is in front of the eye corners


def test_pnp_recovers_a_known_pose() -> None:
    lm = canonical_landmarks()
    K = intrinsics_from_fov(25.0, 256, 256)
    T = look_at((0.8, -2.6, 0.5), (0.02, 0.0, -0.05))
    uv, depth = PinholeCamera(K, T, 256, 256).project(lm)
    assert np.all(depth > 0)
    T_est = estimate_pose(uv, K, lm)
    assert np.allclose(T_est, T, atol=1e-5)
    noisy = uv + np.random.default_rng(0).normal(0, 0.5, uv.shape)
    T_noisy = estimate_pose(noisy, K, lm)
    centre = -T[:3, :3].T @ T[:3, 3]
    assert np.linalg.norm(-T_noisy[:3, :3].T @ T_noisy[:3, 3] - centre) < 0.1


def test_pnp_rejects_bad_input() -> None:
    with pytest.raises(PoseEstimationError, match="same N"):
        estimate_pose(np.zeros((68, 2)), np.eye(3), np.zeros((60, 3)))
    with pytest.raises(PoseEstimationError, match="at least 6"):
        estimate_pose(np.zeros((4, 2)), np.eye(3), np.zeros((4, 3)))


def test_dlib_finds_68_landmarks_on_a_real_portrait_and_none_on_a_texture() -> None:
    pytest.importorskip("dlib", reason="dlib-bin is an optional landmark backend")
    skdata = pytest.importorskip("skimage.data")
    from multineus.wild.landmarks import NoFaceError, detect_landmarks

    img = skdata.astronaut()
    lm, box = detect_landmarks(img, name="astronaut")
    assert lm.shape == (68, 2)
    x0, y0, x1, y1 = box
    assert np.all(
        (lm[:, 0] > x0 - 40) & (lm[:, 0] < x1 + 40) & (lm[:, 1] > y0 - 40) & (lm[:, 1] < y1 + 40)
    )
    assert lm[36, 0] < lm[45, 0]  # right-eye corner left of the left-eye corner in the image
    with pytest.raises(NoFaceError, match="no face found in brick"):
        detect_landmarks(skdata.brick()[..., None].repeat(3, axis=2), name="brick")


def _head_on_photo(seed: int, yaw_deg: float, background: np.ndarray, size: int = 192):
    from multineus.data.heads import render_head

    params = HeadParams.sample(seed)
    K = intrinsics_from_fov(30.0, size, size)
    yaw = np.radians(yaw_deg)
    cam = PinholeCamera(K, look_at((3 * np.sin(yaw), -3 * np.cos(yaw), 0.3), (0, 0, 0)), size, size)
    scene = render_head(params, [cam], mesh_resolution=64)
    bg = background[:size, :size, :3].astype(np.float32) / 255.0
    truth = scene.masks[0]
    photo = np.where(truth[..., None], scene.images[0], bg)
    landmarks, _ = cam.project(canonical_landmarks(params))
    return photo, truth, landmarks


def test_grabcut_segments_a_rendered_head_on_a_real_background() -> None:
    skdata = pytest.importorskip("skimage.data")
    from multineus.wild.segment import grabcut_head_mask

    for seed, yaw, bg in ((3, 0.0, skdata.coffee()), (4, -25.0, skdata.rocket())):
        photo, truth, landmarks = _head_on_photo(seed, yaw, bg)
        mask = grabcut_head_mask(photo, landmarks)
        iou = (mask & truth).sum() / (mask | truth).sum()
        assert iou > 0.95, (seed, iou)
        assert truth.mean() < 0.35  # the whole crop as foreground would score below 0.35
        again = grabcut_head_mask(photo, landmarks)
        assert np.array_equal(mask, again)  # seeded: the same mask every time


def test_photo_scene_masks_and_poses_a_real_portrait() -> None:
    pytest.importorskip("dlib", reason="dlib-bin is the offline landmark backend")
    skdata = pytest.importorskip("skimage.data")
    from multineus.data.loaders import photo_scene

    photo = skdata.astronaut().astype(np.float32) / 255.0
    K = intrinsics_from_fov(30.0, 64, 64)
    lm3d = canonical_landmarks()
    views, lm = photo_scene(photo, K=K, image_size=64, landmarks_3d=lm3d, name="astronaut")
    mask = views.masks[0].numpy() > 0.5
    assert 0.2 < mask.mean() < 0.7  # the head, not the whole crop
    inside = np.clip(lm[27:36].round().astype(int), 0, 63)  # nose landmarks
    assert mask[inside[:, 1], inside[:, 0]].all()
    assert not mask[:4, :4].any() and not mask[:4, -4:].any()  # background at the top corners
    T = views.cam_from_world[0].double().numpy()
    centre = -T[:3, :3].T @ T[:3, 3]
    assert centre[1] < -1.0  # in front of the canonical face (which looks along -y)
    whole, _ = photo_scene(
        photo, K=K, image_size=64, landmarks_3d=lm3d, segmenter="none", name="astronaut"
    )
    assert bool((whole.masks == 1).all())
    with pytest.raises(ValueError, match="unknown segmenter"):
        photo_scene(photo, K=K, image_size=64, landmarks_3d=lm3d, segmenter="sam")


class _DotFinder(torch.nn.Module):
    """A FAN stand-in with FAN's input/output contract: heatmap k is the 4x4-pooled red
    channel inside block k of a 9 x 8 grid of 7 x 7 cells (zero elsewhere)."""

    def __init__(self) -> None:
        super().__init__()
        window = torch.zeros(68, 64, 64)
        for k in range(68):
            r, c = divmod(k, 9)
            window[k, 4 + 7 * r : 11 + 7 * r, 1 + 7 * c : 8 + 7 * c] = 1.0
        self.register_buffer("window", window)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.nn.functional.avg_pool2d(x[:, :1], 4)
        return pooled.repeat(1, 68, 1, 1) * self.window[None]


def test_fan_backend_maps_heatmaps_back_to_the_photo(tmp_path) -> None:
    from multineus.wild.fan import HEATMAP_SIZE, fan_crop, fan_landmarks, load_fan

    path = tmp_path / "2DFAN4-standin.zip"
    torch.jit.save(torch.jit.script(_DotFinder()), str(path))  # a TorchScript archive, like FAN's
    box = np.array([140.0, 90.0, 260.0, 230.0])
    corner, side = fan_crop(box)
    assert side == pytest.approx(200 * 260 / 195)
    assert corner[1] == pytest.approx(160 - 0.12 * 140 - side / 2)
    cell = side / HEATMAP_SIZE
    rng = np.random.default_rng(0)
    image = np.zeros((400, 420, 3), np.uint8)
    truth = np.zeros((68, 2))
    for k in range(68):
        r, c = divmod(k, 9)
        # a dot well inside block k, in heatmap cells, then in photo pixels
        hx, hy = 1 + 7 * c + rng.uniform(2, 5), 4 + 7 * r + rng.uniform(2, 5)
        truth[k] = corner + np.array([hx, hy]) * cell
        x, y = np.floor(truth[k]).astype(int)
        image[y - 1 : y + 2, x - 1 : x + 2, 0] = 255
    found = fan_landmarks(image, box, load_fan(path))
    err = np.linalg.norm(found - truth, axis=1)
    assert err.max() < cell, (err.max(), cell)  # within one heatmap cell (~5 px here)
    assert err.mean() < 0.5 * cell


def test_fan_weights_missing_or_wrong(tmp_path) -> None:
    from multineus.wild.fan import load_fan

    with pytest.raises(FileNotFoundError, match="2DFAN4"):
        load_fan(tmp_path / "nope.zip")
    (tmp_path / "bad.zip").write_bytes(b"not an archive")
    with pytest.raises(ValueError, match=r"bad\.zip.*TorchScript"):
        load_fan(tmp_path / "bad.zip")


def test_detect_landmarks_with_fan_weights_uses_dlibs_box(tmp_path) -> None:
    pytest.importorskip("dlib", reason="dlib-bin finds the face box")
    skdata = pytest.importorskip("skimage.data")
    from multineus.wild.fan import fan_landmarks, load_fan
    from multineus.wild.landmarks import detect_landmarks

    path = tmp_path / "fan.zip"
    torch.jit.save(torch.jit.script(_DotFinder()), str(path))
    img = skdata.astronaut()
    dlib_pts, box = detect_landmarks(img, name="astronaut")
    fan_pts, fan_box = detect_landmarks(img, name="astronaut", fan_weights=path)
    np.testing.assert_array_equal(fan_box, box)
    np.testing.assert_allclose(fan_pts, fan_landmarks(img, box, load_fan(path)))
    assert not np.allclose(fan_pts, dlib_pts)


def _grace_hopper() -> np.ndarray:
    """matplotlib's bundled sample portrait (found in the installed package, never downloaded)."""
    import importlib.util
    from pathlib import Path

    from shared_utils.io.images import read_image

    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        pytest.skip("matplotlib is not installed (it is in the workspace's dev group)")
    path = Path(spec.origin).parent / "mpl-data" / "sample_data" / "grace_hopper.jpg"
    if not path.is_file():
        pytest.skip(f"this matplotlib has no sample photo at {path}")
    return read_image(path)[..., :3]


def test_landmarks_and_photo_scene_on_matplotlibs_grace_hopper() -> None:
    from multineus.data.loaders import photo_scene
    from multineus.wild.landmarks import detect_landmarks

    photo = _grace_hopper()
    assert photo.shape == (600, 512, 3)
    lm, box = detect_landmarks((photo * 255).round().astype(np.uint8), name="grace_hopper")
    assert lm.shape == (68, 2)
    x0, y0, x1, y1 = box
    assert 100 < x1 - x0 < 300 and 100 < y1 - y0 < 300  # one face, a third of the photo wide
    # the 68-point layout on a frontal face: eye corners either side of the nose tip,
    # brows above the eyes, chin below the nose, nose tip near the box centre
    nose, chin = lm[30], lm[8]
    assert lm[36, 0] < nose[0] < lm[45, 0]
    assert lm[19, 1] < lm[37, 1] and lm[24, 1] < lm[44, 1]
    assert chin[1] > nose[1] > max(lm[36, 1], lm[45, 1])
    assert abs(nose[0] - (x0 + x1) / 2) < 0.15 * (x1 - x0)
    assert abs(nose[1] - (y0 + y1) / 2) < 0.15 * (y1 - y0)

    K = intrinsics_from_fov(30.0, 64, 64)
    views, crop_lm = photo_scene(
        photo, K=K, image_size=64, landmarks_3d=canonical_landmarks(), name="grace_hopper"
    )
    assert views.images.shape == (1, 64, 64, 3)
    mask = views.masks[0].numpy() > 0.5
    assert 0.2 < mask.mean() < 0.7  # the head, not the whole crop
    inside = np.clip(crop_lm[27:36].round().astype(int), 0, 63)  # nose landmarks
    assert mask[inside[:, 1], inside[:, 0]].all()
    assert not mask[:4, :4].any() and not mask[:4, -4:].any()  # background at the top corners
    # a frontal portrait: PnP puts the camera in front of the canonical face (which looks
    # along -y), close to its axis, at about the training cameras' distance
    T = views.cam_from_world[0].double().numpy()
    centre = -T[:3, :3].T @ T[:3, 3]
    assert centre[1] < -1.5
    assert abs(centre[0]) < 0.2 * abs(centre[1])
    assert 1.5 < float(np.linalg.norm(centre)) < 4.0
