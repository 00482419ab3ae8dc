"""Frechet distance against the closed forms for commuting covariances and 1-D."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import special_ortho_group

from shared_utils.metrics.frechet import frechet_distance, gaussian_statistics


def test_one_dimensional() -> None:
    # (m1 - m2)^2 + (s1 - s2)^2 for standard deviations s
    assert frechet_distance([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(5.0)
    assert frechet_distance(
        np.array([0.5]), np.array([[2.0]]), np.array([0.5]), np.array([[2.0]])
    ) == (pytest.approx(0.0, abs=1e-12))


def test_diagonal_closed_form() -> None:
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    v1, v2 = rng.random(6) + 0.1, rng.random(6) + 0.1
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(mu1, np.diag(v1), mu2, np.diag(v2)) == pytest.approx(
        expected, rel=1e-10
    )


def test_commuting_covariances_closed_form() -> None:
    rng = np.random.default_rng(1)
    q = special_ortho_group.rvs(5, random_state=2)
    v1, v2 = rng.random(5) + 0.05, rng.random(5) + 0.05
    s1, s2 = q @ np.diag(v1) @ q.T, q @ np.diag(v2) @ q.T
    mu1, mu2 = rng.normal(size=5), rng.normal(size=5)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-8)


def test_statistics_and_singular_covariance() -> None:
    rng = np.random.default_rng(3)
    feats = rng.normal(size=(10, 40))  # N < D: singular covariance
    mu, sigma = gaussian_statistics(feats)
    np.testing.assert_allclose(mu, feats.mean(0))
    np.testing.assert_allclose(sigma, np.cov(feats, rowvar=False))
    d = frechet_distance(mu, sigma, mu, sigma)
    assert np.isfinite(d) and abs(d) < 1e-4 * np.trace(sigma)
    other = gaussian_statistics(rng.normal(loc=1.0, size=(10, 40)))
    assert frechet_distance(mu, sigma, *other) > 30.0  # |mu1 - mu2|^2 is about 40
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(mu, sigma, mu[:3], sigma)
    with pytest.raises(ValueError, match="N >= 2"):
        gaussian_statistics(feats[:1])
