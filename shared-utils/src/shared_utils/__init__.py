"""Shared utilities for the five method packages of the workspace.

Subpackages (import them explicitly; nothing is registered on import):

- ``shared_utils.cameras``: pinhole cameras, OpenCV/OpenGL conventions, rays, rigs,
  readers for COLMAP, NeRF-Synthetic, IDR/NeuS and ScanNet layouts.
- ``shared_utils.geometry``: SO(3)/SE(3) exp/log, alignment, ICP, Chamfer, sampling.
- ``shared_utils.io``: images, videos, meshes/point clouds, HDF5, atomic writes.
- ``shared_utils.metrics``: PSNR, SSIM, LPIPS, Frechet distance / FVD, bits per dim.
- ``shared_utils.train``: the trainer (DDP, AMP, checkpoints, exact resume, NaN guard).
- ``shared_utils.config``: typed dataclass configs with presets, CLI and YAML.
- ``shared_utils.kernels``: implementation dispatch and testing helpers for Triton kernels.
- ``shared_utils.render``: the synthetic scene renderer and procedural textured objects.
- ``shared_utils.report``: the HTML report writer used by the demos.
"""

__version__ = "0.1.0"
