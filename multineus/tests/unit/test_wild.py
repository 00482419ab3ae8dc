"""Canonical landmarks, PnP pose recovery, and the dlib landmark backend on real portraits."""

from __future__ import annotations

import numpy as np
import pytest

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
