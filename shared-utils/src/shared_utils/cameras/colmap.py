"""Read a COLMAP reconstruction (``cameras``, ``images``, ``points3D`` in .bin or .txt)
with pycolmap 4.x into a ``ViewSet``.

Only registered images are returned, sorted by image name. COLMAP already uses OpenCV
camera axes, ``cam_from_world`` poses and the pixel-corner origin, so poses and
principal points are taken as they are.

Supported camera models: SIMPLE_PINHOLE, PINHOLE, SIMPLE_RADIAL, RADIAL, OPENCV. The
``PinholeCamera`` has no distortion, so lens distortion is *ignored*; to keep that
honest, the reader measures how far the distortion moves the image border (in pixels)
and raises ``CameraFormatError`` when it exceeds ``max_distortion_px``. Undistort such
images first (``pycolmap.undistort_images``) or raise the tolerance knowingly.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.viewset import CameraFormatError, ViewSet

SUPPORTED_MODELS = ("SIMPLE_PINHOLE", "PINHOLE", "SIMPLE_RADIAL", "RADIAL", "OPENCV")
"""COLMAP camera models this reader turns into a pinhole camera."""


def read_colmap(
    model_dir: str | Path,
    images_dir: str | Path,
    *,
    max_distortion_px: float = 1.0,
    check_images: bool = True,
) -> ViewSet:
    """Read a COLMAP model folder.

    Args:
        model_dir: folder with cameras/images/points3D (.bin or .txt), e.g. ``sparse/0``.
        images_dir: folder the image names are relative to.
        max_distortion_px: largest tolerated displacement, in pixels, that the ignored
            distortion causes on the image border.
        check_images: require every image file to exist.

    Returns:
        ViewSet with cameras, image paths, names (COLMAP image names), the sparse points
        and their colours (in [0, 1]); no masks, no scale_mat.

    Raises:
        CameraFormatError: the folder is not a readable model, a camera model is not
            supported or too distorted, or an image file is missing.
    """
    import pycolmap

    model_dir = Path(model_dir)
    images_dir = Path(images_dir)
    if not model_dir.is_dir():
        raise CameraFormatError(model_dir, "model_dir", "COLMAP model folder does not exist")
    has_model = any((model_dir / f"cameras.{ext}").is_file() for ext in ("bin", "txt"))
    if not has_model:
        raise CameraFormatError(
            model_dir / "cameras.bin",
            "cameras",
            "no cameras.bin or cameras.txt in the model folder",
        )
    try:
        rec = pycolmap.Reconstruction(str(model_dir))
    except Exception as exc:  # pycolmap raises plain RuntimeError / ValueError
        raise CameraFormatError(
            model_dir, "reconstruction", f"pycolmap could not read it: {exc}"
        ) from exc

    pinholes: dict[int, np.ndarray] = {}
    for cam_id, cam in rec.cameras.items():
        pinholes[cam_id] = _camera_K(cam, model_dir, max_distortion_px)

    images = sorted((im for im in rec.images.values() if im.has_pose), key=lambda im: im.name)
    if not images:
        raise CameraFormatError(model_dir / "images.bin", "images", "no registered images")
    cameras: list[PinholeCamera] = []
    paths: list[Path] = []
    names: list[str] = []
    for im in images:
        cam = rec.cameras[im.camera_id]
        T = np.eye(4)
        T[:3, :] = im.cam_from_world().matrix()  # a method in pycolmap 4.x
        cameras.append(PinholeCamera(pinholes[im.camera_id], T, cam.width, cam.height))
        path = images_dir / im.name
        if check_images and not path.is_file():
            raise CameraFormatError(
                path, f"image '{im.name}'", "image file listed in the model is missing"
            )
        paths.append(path)
        names.append(im.name)

    points = colors = None
    if rec.num_points3D() > 0:
        pts = list(rec.points3D.values())
        points = np.stack([p.xyz for p in pts]).astype(np.float64)
        colors = np.stack([p.color for p in pts]).astype(np.float64) / 255.0
    return ViewSet(cameras, paths, None, points, colors, None, names)


def _camera_K(cam: object, model_dir: Path, max_distortion_px: float) -> np.ndarray:
    """(3, 3) pinhole K of a COLMAP camera, after checking the ignored distortion is small."""
    model = cam.model_name  # type: ignore[attr-defined]
    where = f"camera {cam.camera_id} model"  # type: ignore[attr-defined]
    if model not in SUPPORTED_MODELS:
        raise CameraFormatError(
            model_dir / "cameras.bin",
            where,
            f"{model} is not supported (use one of {SUPPORTED_MODELS})",
        )
    K = np.asarray(cam.calibration_matrix(), dtype=np.float64)  # type: ignore[attr-defined]
    if model in ("SIMPLE_PINHOLE", "PINHOLE"):
        return K
    w, h = cam.width, cam.height  # type: ignore[attr-defined]
    # Border samples: undistort them with COLMAP, re-project with the plain K.
    s = np.linspace(0.0, 1.0, 9)
    border = np.concatenate(
        [
            np.stack([s * w, np.zeros_like(s)], 1),
            np.stack([s * w, np.full_like(s, h)], 1),
            np.stack([np.zeros_like(s), s * h], 1),
            np.stack([np.full_like(s, w), s * h], 1),
        ]
    )
    normalised = np.asarray(cam.cam_from_img(border), dtype=np.float64)  # type: ignore[attr-defined]
    reproj = normalised @ K[:2, :2].T + K[:2, 2]
    shift = float(np.max(np.linalg.norm(reproj - border, axis=1)))
    if not np.isfinite(shift) or shift > max_distortion_px:
        raise CameraFormatError(
            model_dir / "cameras.bin",
            f"camera {cam.camera_id} params",  # type: ignore[attr-defined]
            f"{model} distortion moves the image border by {shift:.2f} px > {max_distortion_px} px; "
            "undistort the images first (pycolmap.undistort_images) or raise max_distortion_px",
        )
    return K
