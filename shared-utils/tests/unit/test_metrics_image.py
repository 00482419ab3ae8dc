"""PSNR and SSIM agree with scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.ndimage import gaussian_filter
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from shared_utils.metrics.image import gaussian_kernel1d, psnr, ssim


def _sk_ssim(a: np.ndarray, b: np.ndarray, data_range: float) -> float:
    """scikit-image SSIM of (C, H, W) arrays with the Gaussian-window settings."""
    return float(
        structural_similarity(
            a.transpose(1, 2, 0),
            b.transpose(1, 2, 0),
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
            data_range=data_range,
            channel_axis=2,
        )
    )


def _pairs() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(0)
    noise = rng.random((2, 3, 32, 40))
    noisy = np.clip(noise + 0.1 * rng.standard_normal(noise.shape), 0, 1)
    y, x = np.mgrid[0:48, 0:37]
    checker = (((y // 6) + (x // 5)) % 2).astype(np.float64)
    grad = np.stack([x / 36.0, y / 47.0, 0.5 * np.ones_like(x, dtype=np.float64)])
    structured = np.stack([np.stack([checker] * 3), grad])
    blurred = np.stack([gaussian_filter(im, sigma=(0, 1.2, 1.2)) for im in structured])
    shifted = np.roll(structured, 2, axis=-1)
    return [(noise, noisy), (structured, blurred), (structured, shifted)]


@pytest.mark.parametrize("case", [0, 1, 2])
def test_ssim_matches_skimage(case: int) -> None:
    a, b = _pairs()[case]
    ours = ssim(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    ref = [_sk_ssim(a[i], b[i], 1.0) for i in range(len(a))]
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    ours32 = ssim(torch.from_numpy(a).float(), torch.from_numpy(b).float()).numpy()
    np.testing.assert_allclose(ours32, ref, atol=1e-4)


def test_ssim_data_range_grayscale_and_identity() -> None:
    rng = np.random.default_rng(3)
    a = rng.random((1, 1, 20, 25)) * 255
    b = np.clip(a + rng.normal(0, 20, a.shape), 0, 255)
    ours = ssim(torch.from_numpy(a), torch.from_numpy(b), data_range=255.0)
    ref = structural_similarity(
        a[0, 0],
        b[0, 0],
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        data_range=255,
    )
    assert float(ours[0]) == pytest.approx(ref, abs=1e-10)
    assert float(
        ssim(torch.from_numpy(a), torch.from_numpy(a), data_range=255)[0]
    ) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="at least 11"):
        ssim(torch.zeros(1, 1, 8, 30), torch.zeros(1, 1, 8, 30))


def test_gaussian_taps_match_scipy() -> None:
    impulse = np.zeros(21)
    impulse[10] = 1.0
    ref = gaussian_filter(impulse, sigma=1.5, truncate=3.5)[5:16]
    np.testing.assert_allclose(gaussian_kernel1d().numpy(), ref, atol=1e-15)


def test_psnr_matches_skimage_and_mask() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((3, 3, 16, 16))
    b = np.clip(a + 0.05 * rng.standard_normal(a.shape), 0, 1)
    ours = psnr(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    ref = [peak_signal_noise_ratio(a[i], b[i], data_range=1.0) for i in range(3)]
    np.testing.assert_allclose(ours, ref, rtol=1e-12)
    mask = rng.random((3, 16, 16)) > 0.5
    ours_m = psnr(torch.from_numpy(a), torch.from_numpy(b), mask=torch.from_numpy(mask)).numpy()
    for i in range(3):
        mse = np.mean((a[i][:, mask[i]] - b[i][:, mask[i]]) ** 2)
        assert ours_m[i] == pytest.approx(10 * np.log10(1.0 / mse), rel=1e-12)
    assert float(
        psnr(torch.ones(1, 3, 4, 4) * 200, torch.ones(1, 3, 4, 4) * 190, data_range=255)[0]
    ) == (pytest.approx(10 * np.log10(255**2 / 100)))
    assert torch.isinf(psnr(torch.ones(1, 1, 2, 2), torch.ones(1, 1, 2, 2))).all()
    with pytest.raises(ValueError, match="no pixel"):
        psnr(
            torch.zeros(1, 1, 2, 2),
            torch.ones(1, 1, 2, 2),
            mask=torch.zeros(1, 2, 2, dtype=torch.bool),
        )


def test_mask_iou_known_answers() -> None:
    from shared_utils.metrics.image import mask_iou

    a = torch.zeros(4, 4, dtype=torch.bool)
    b = torch.zeros(4, 4, dtype=torch.bool)
    a[:2] = True  # 8 pixels
    b[1:3] = True  # 8 pixels, 4 shared
    assert mask_iou(a, b) == pytest.approx(4 / 12)
    assert mask_iou(a, b) == mask_iou(b, a)
    assert mask_iou(a, a) == 1.0
    empty = torch.zeros(4, 4, dtype=torch.bool)
    assert mask_iou(empty, empty) == 1.0 and mask_iou(empty, empty, empty=0.0) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        mask_iou(a, b[:2])
