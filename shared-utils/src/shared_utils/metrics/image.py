"""PSNR and SSIM for batches of images, in torch.

SSIM follows Wang et al. (2004) with the Gaussian window used by scikit-image's
``structural_similarity(..., gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=R, channel_axis=...)``: 11 taps (radius
``int(3.5 * 1.5 + 0.5) = 5``), K1 = 0.01, K2 = 0.03. scikit-image filters with
reflect padding and then crops 5 pixels from every border before averaging, so the
padding never reaches the mean; a *valid* convolution here gives the same numbers.
The per-image value is the mean over channels and cropped pixels.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

SSIM_SIGMA = 1.5
SSIM_TRUNCATE = 3.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _check_pair(pred: torch.Tensor, target: torch.Tensor, name: str) -> None:
    if pred.shape != target.shape:
        raise ValueError(
            f"{name}: pred {tuple(pred.shape)} and target {tuple(target.shape)} differ"
        )
    if pred.ndim != 4:
        raise ValueError(f"{name}: expected (B, C, H, W) tensors, got {tuple(pred.shape)}")


def psnr(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    data_range: float = 1.0,
    mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Peak signal-to-noise ratio in dB, per image.

    Args:
        pred, target: (B, C, H, W).
        data_range: max value minus min value of the signal (1 for [0, 1] images).
        mask: optional (B, 1, H, W), (B, H, W) or (B, C, H, W) bool/float weights; the
            MSE is averaged over masked pixels (and all channels) only.

    Returns:
        (B,) PSNR = 10 log10(data_range^2 / MSE); +inf where the images are equal.
    """
    _check_pair(pred, target, "psnr")
    sq = (pred - target).to(torch.promote_types(pred.dtype, torch.float32)) ** 2
    if mask is None:
        mse = sq.flatten(1).mean(dim=1)
    else:
        m = mask.to(sq.dtype)
        if m.ndim == 3:
            m = m.unsqueeze(1)
        m = m.expand_as(sq)
        denom = m.flatten(1).sum(dim=1)
        if bool((denom <= 0).any()):
            raise ValueError("psnr: the mask selects no pixel in at least one image")
        mse = (sq * m).flatten(1).sum(dim=1) / denom
    return 10.0 * torch.log10(data_range**2 / mse)


def gaussian_kernel1d(
    sigma: float = SSIM_SIGMA,
    truncate: float = SSIM_TRUNCATE,
    *,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Normalised 1-D Gaussian taps as scipy.ndimage.gaussian_filter builds them.

    Returns:
        (2r + 1,) with r = int(truncate * sigma + 0.5).
    """
    radius = int(truncate * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    w = torch.exp(-0.5 * (x / sigma) ** 2)
    return (w / w.sum()).to(dtype=dtype, device=device)


def _blur_valid(x: torch.Tensor, taps: torch.Tensor) -> torch.Tensor:
    """Separable valid Gaussian filter of every channel; (N, C, H, W) -> (N, C, H-2r, W-2r)."""
    c = x.shape[1]
    k = taps.numel()
    kh = taps.view(1, 1, k, 1).expand(c, 1, k, 1)
    kw = taps.view(1, 1, 1, k).expand(c, 1, 1, k)
    return F.conv2d(F.conv2d(x, kh, groups=c), kw, groups=c)


def ssim_map(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Local SSIM values with an 11-tap Gaussian window (sigma 1.5), border cropped.

    Args:
        pred, target: (B, C, H, W) with H, W >= 11.

    Returns:
        (B, C, H - 10, W - 10) SSIM index per pixel and channel.
    """
    _check_pair(pred, target, "ssim")
    dtype = torch.promote_types(pred.dtype, torch.float32)
    x = pred.to(dtype)
    y = target.to(dtype)
    taps = gaussian_kernel1d(dtype=dtype, device=x.device)
    if min(x.shape[-2:]) < taps.numel():
        raise ValueError(f"ssim: images must be at least {taps.numel()} pixels on each side")
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    # One grouped convolution pass over the five moments.
    b, c = x.shape[:2]
    stacked = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    moments = _blur_valid(stacked, taps)
    mu_x, mu_y, e_xx, e_yy, e_xy = moments.split(c, dim=1)
    var_x = e_xx - mu_x * mu_x
    var_y = e_yy - mu_y * mu_y
    cov = e_xy - mu_x * mu_y
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (var_x + var_y + c2)
    return (num / den).view(b, c, *moments.shape[-2:])


def ssim(pred: torch.Tensor, target: torch.Tensor, *, data_range: float = 1.0) -> torch.Tensor:
    """Mean structural similarity per image (matches scikit-image, see the module doc).

    Args:
        pred, target: (B, C, H, W), H and W >= 11.
        data_range: max value minus min value (1 for [0, 1] images).

    Returns:
        (B,) SSIM in [-1, 1]; 1 for identical images.
    """
    return ssim_map(pred, target, data_range=data_range).flatten(1).mean(dim=1)


def mse_to_psnr(mse: float, data_range: float = 1.0) -> float:
    """PSNR in dB for a given mean squared error (inf for 0)."""
    return math.inf if mse <= 0 else 10.0 * math.log10(data_range**2 / mse)


def mask_iou(pred: torch.Tensor, target: torch.Tensor, *, empty: float = 1.0) -> float:
    """Intersection over union of two boolean masks of one shape (``empty`` when both are
    empty)."""
    if pred.shape != target.shape:
        raise ValueError(f"mask_iou: shapes differ, {tuple(pred.shape)} vs {tuple(target.shape)}")
    union = int((pred | target).sum())
    return empty if union == 0 else int((pred & target).sum()) / union
