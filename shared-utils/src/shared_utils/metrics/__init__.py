"""Image and video quality metrics: PSNR, SSIM, LPIPS, Frechet distance / FVD, bits per dim.

Import the submodules explicitly, e.g. ``from shared_utils.metrics.image import psnr``.
"""
