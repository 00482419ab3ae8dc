"""Scene loaders for the real formats, through shared_utils.cameras readers.

Formats (``fmt``):

- ``nerf_synthetic``: ``transforms_<split>.json`` + images (RGBA composited on black,
  the alpha kept as the view's mask); the point cloud comes from ``points.ply`` in the
  root (the format has none).
- ``idr``: DTU / IDR / NeuS layout (``cameras_sphere.npz``, ``image/``, ``mask/``, the
  masks kept); points from ``points.ply`` in the root (in the normalised unit-sphere frame).
- ``scannet``: ``intrinsic/``, ``pose/``, ``color/`` and ``full.ply``.
- ``colmap``: ``sparse/0`` (or ``sparse/``) + ``images/``; the sparse points are used
  unless a denser ``points.ply`` is in the root.
- ``middlebury``: a Middlebury 2014 stereo scene (``im0.png``, ``im1.png``,
  ``disp0.pfm``, ``calib.txt``): two real photos (left, right) and the points of the
  left view's ground-truth disparity, in metres, world z up.

Images are optionally resized by an integer factor (cameras follow), and dense point
clouds optionally thinned to a random subset of ``max_points``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npbgpp.data.scene import Scene, SceneError
from shared_utils.cameras.colmap import read_colmap
from shared_utils.cameras.idr import read_idr
from shared_utils.cameras.middlebury import read_middlebury
from shared_utils.cameras.nerf_synthetic import read_nerf_synthetic
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.scannet import read_scannet
from shared_utils.cameras.viewset import ViewSet
from shared_utils.io.images import ImageFormatError, read_image, read_mask
from shared_utils.io.meshes import read_point_cloud

FORMATS = ("nerf_synthetic", "idr", "scannet", "colmap", "middlebury")
"""Scene formats :func:`load_scene` reads."""


def _colmap_model_dir(root: Path) -> Path:
    for cand in (root / "sparse" / "0", root / "sparse"):
        if (cand / "cameras.bin").is_file() or (cand / "cameras.txt").is_file():
            return cand
    raise SceneError(f"{root}: sparse: no COLMAP model (cameras.bin/.txt) in sparse/0 or sparse/")


def _read_rgb(path: Path) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) colour and, for RGBA files, the (H, W) alpha."""
    img = read_image(path)
    if img.shape[-1] == 4:  # composite RGBA on black (NeRF-Synthetic convention here)
        return img[..., :3] * img[..., 3:], img[..., 3]
    return img[..., :3], None


def _read_mask(path: Path, size: tuple[int, int]) -> np.ndarray:
    """(H, W) mask in [0, 1] (the file's first channel), its size checked."""
    try:
        return read_mask(path, size)
    except ImageFormatError as exc:
        raise SceneError(str(exc)) from exc


def _downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Box-filter (H, W) or (H, W, C) by an integer factor (cropping the remainder)."""
    h, w = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    blocks = image[:h, :w].reshape(h // factor, factor, w // factor, factor, *image.shape[2:])
    return blocks.mean(axis=(1, 3))


def _scaled_camera(cam: PinholeCamera, factor: int) -> PinholeCamera:
    K = cam.K.copy()
    K[:2] /= factor
    return PinholeCamera(K, cam.cam_from_world, cam.width // factor, cam.height // factor)


def scene_from_viewset(
    views: ViewSet,
    name: str,
    *,
    points_file: Path | None = None,
    downscale: int = 1,
    max_points: int | None = None,
) -> Scene:
    """Read the images of a ViewSet and attach its point cloud (or ``points_file``).

    ``max_points``: keep a random subset of at most this many points (seed 0, so the
    same file always gives the same subset); None keeps all.
    """
    if points_file is not None and points_file.is_file():
        cloud = read_point_cloud(points_file)
        points, colors = cloud.points, cloud.colors
    elif views.points is not None:
        points, colors = views.points, views.point_colors
    else:
        where = points_file if points_file is not None else "the scene"
        raise SceneError(f"{name}: points: no point cloud ({where} not found)")
    if max_points is not None:
        if max_points < 1:
            raise SceneError(f"{name}: max_points must be >= 1, got {max_points}")
        if len(points) > max_points:
            keep = np.sort(np.random.default_rng(0).choice(len(points), max_points, replace=False))
            points = points[keep]
            colors = None if colors is None else colors[keep]
    images, cams, masks = [], [], []
    mask_paths: list[Path | None] = (
        list(views.mask_paths) if views.mask_paths else [None] * len(views.cameras)
    )
    for path, cam, mask_path in zip(views.image_paths, views.cameras, mask_paths, strict=True):
        img, alpha = _read_rgb(path)
        if img.shape[:2] != (cam.height, cam.width):
            raise SceneError(
                f"{path}: image size {img.shape[1]}x{img.shape[0]} differs from its camera "
                f"{cam.width}x{cam.height}"
            )
        mask = _read_mask(mask_path, img.shape[:2]) if mask_path is not None else alpha
        if downscale > 1:
            img, cam = _downscale(img, downscale), _scaled_camera(cam, downscale)
            mask = None if mask is None else _downscale(mask, downscale)
        images.append(img)
        cams.append(cam)
        masks.append(mask)
    if not images:
        raise SceneError(f"{name}: cameras: the scene has no views")
    # masks only when every view has one (a Dice target for some views only would bias it)
    present = [m for m in masks if m is not None]
    stacked = np.stack(present) if len(present) == len(masks) else None
    return Scene(name, np.stack(images), cams, points, colors, masks=stacked)


def load_scene(
    root: str | Path,
    fmt: str,
    *,
    split: str = "train",
    downscale: int = 1,
    max_points: int | None = None,
) -> Scene:
    """Load a scene folder in one of :data:`FORMATS` (``split``: NeRF-Synthetic only;
    ``max_points``: see :func:`scene_from_viewset`)."""
    root = Path(root)
    if not root.is_dir():
        raise SceneError(f"{root}: scene folder not found")
    extra: Path | None = root / "points.ply"
    if fmt == "nerf_synthetic":
        views = read_nerf_synthetic(root, split)
    elif fmt == "idr":
        views = read_idr(root)
    elif fmt == "scannet":
        views = read_scannet(root)
    elif fmt == "colmap":
        views = read_colmap(_colmap_model_dir(root), root / "images")
    elif fmt == "middlebury":
        views = read_middlebury(root)
        extra = None  # the disparity's points are the scene's geometry
    else:
        raise SceneError(f"{root}: unknown scene format {fmt!r}; choose one of {FORMATS}")
    return scene_from_viewset(
        views, str(root), points_file=extra, downscale=downscale, max_points=max_points
    )
