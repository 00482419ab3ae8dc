"""Read NeRF-Synthetic (Blender) ``transforms_{split}.json`` into a ``ViewSet``.

Format: ``camera_angle_x`` (horizontal field of view in radians) and ``frames``, each
with ``file_path`` (relative to the json's folder, usually without extension, e.g.
``./train/r_0``) and ``transform_matrix`` (4x4 OpenGL camera-to-world). The image size
is read from the first image; the principal point is the image centre. Images are RGBA
with the object mask in alpha, so there are no separate masks.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from shared_utils.cameras.conventions import opencv_from_opengl_c2w
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.viewset import CameraFormatError, ViewSet


def read_nerf_synthetic(root: str | Path, split: str = "train") -> ViewSet:
    """Read one split of a NeRF-Synthetic scene.

    Args:
        root: scene folder holding ``transforms_{split}.json``.
        split: "train", "val" or "test".

    Returns:
        ViewSet (OpenCV ``cam_from_world``), names = file stems; no masks, points or
        scale_mat.

    Raises:
        CameraFormatError: missing/invalid json, missing key, bad matrix shape or a
            missing image file.
    """
    root = Path(root)
    path = root / f"transforms_{split}.json"
    if not path.is_file():
        raise CameraFormatError(path, "file", "transforms file does not exist")
    try:
        meta: Any = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise CameraFormatError(path, "json", f"not valid JSON: {exc}") from exc
    if not isinstance(meta, dict):
        raise CameraFormatError(path, "json", "top level must be an object")
    if "camera_angle_x" not in meta:
        raise CameraFormatError(path, "camera_angle_x", "missing key")
    angle_x = meta["camera_angle_x"]
    if not isinstance(angle_x, int | float) or not 0.0 < float(angle_x) < math.pi:
        raise CameraFormatError(
            path, "camera_angle_x", f"must be a number in (0, pi), got {angle_x!r}"
        )
    frames = meta.get("frames")
    if not isinstance(frames, list) or not frames:
        raise CameraFormatError(path, "frames", "missing or empty list")

    image_paths: list[Path] = []
    c2ws: list[np.ndarray] = []
    for i, frame in enumerate(frames):
        if not isinstance(frame, dict) or "file_path" not in frame:
            raise CameraFormatError(path, f"frames[{i}].file_path", "missing key")
        if "transform_matrix" not in frame:
            raise CameraFormatError(path, f"frames[{i}].transform_matrix", "missing key")
        try:
            c2w = np.asarray(frame["transform_matrix"], dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise CameraFormatError(
                path, f"frames[{i}].transform_matrix", f"not numeric: {exc}"
            ) from exc
        if c2w.shape != (4, 4) or not np.all(np.isfinite(c2w)):
            raise CameraFormatError(
                path,
                f"frames[{i}].transform_matrix",
                f"must be a finite 4x4 matrix, got shape {c2w.shape}",
            )
        img = root / str(frame["file_path"])
        if img.suffix.lower() not in (".png", ".jpg", ".jpeg"):
            img = img.with_name(img.name + ".png")
        if not img.is_file():
            raise CameraFormatError(path, f"frames[{i}].file_path", f"image {img} does not exist")
        image_paths.append(img)
        c2ws.append(c2w)

    with Image.open(image_paths[0]) as im0:
        width, height = im0.size
    focal = 0.5 * width / math.tan(0.5 * float(angle_x))
    K = np.array([[focal, 0.0, width / 2.0], [0.0, focal, height / 2.0], [0.0, 0.0, 1.0]])
    cams = [PinholeCamera(K, opencv_from_opengl_c2w(c2w), width, height) for c2w in c2ws]
    names = [p.stem for p in image_paths]
    return ViewSet(cams, image_paths, None, None, None, None, names)
