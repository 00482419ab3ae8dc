"""Kabsch and Umeyama alignment."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from shared_utils.geometry.align import rigid_align, similarity_align


def _data(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    src = rng.normal(size=(50, 3))
    R = Rotation.random(random_state=seed).as_matrix()
    t = rng.normal(size=3) * 5
    return src, R, t


@pytest.mark.parametrize("seed", range(5))
def test_rigid_align_recovers_transform(seed: int) -> None:
    src, R, t = _data(seed)
    R_est, t_est = rigid_align(src, src @ R.T + t)
    np.testing.assert_allclose(R_est, R, atol=1e-10)
    np.testing.assert_allclose(t_est, t, atol=1e-10)


@pytest.mark.parametrize("seed", range(5))
def test_similarity_align_recovers_transform(seed: int) -> None:
    src, R, t = _data(seed)
    s = 0.3 + seed
    s_est, R_est, t_est = similarity_align(src, s * src @ R.T + t)
    assert s_est == pytest.approx(s, rel=1e-10)
    np.testing.assert_allclose(R_est, R, atol=1e-10)
    np.testing.assert_allclose(t_est, t, atol=1e-10)


def test_weights_ignore_outliers() -> None:
    src, R, t = _data(7)
    dst = src @ R.T + t
    dst[:5] += 10.0  # corrupted correspondences with zero weight
    w = np.ones(50)
    w[:5] = 0.0
    R_est, t_est = rigid_align(src, dst, w)
    np.testing.assert_allclose(R_est, R, atol=1e-10)
    np.testing.assert_allclose(t_est, t, atol=1e-10)
    s_est, R_est, _ = similarity_align(src, 2 * (dst - t) + t, w)
    assert s_est == pytest.approx(2.0, rel=1e-10)


def test_reflection_is_never_returned() -> None:
    src, _, _ = _data(8)
    mirror = np.diag([1.0, 1.0, -1.0])
    R_est, _ = rigid_align(src, src @ mirror.T)
    assert np.linalg.det(R_est) == pytest.approx(1.0)
    _, R_est, _ = similarity_align(src, src @ mirror.T)
    assert np.linalg.det(R_est) == pytest.approx(1.0)


def test_bad_input() -> None:
    with pytest.raises(ValueError, match=r"equal shape"):
        rigid_align(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"at least 3"):
        rigid_align(np.zeros((2, 3)), np.zeros((2, 3)))
