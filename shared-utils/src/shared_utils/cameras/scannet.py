"""Read a ScanNet-style folder (the layout of the ScanNet SensReader export).

Layout::

    root/intrinsic/intrinsic_color.txt   4x4 colour-camera intrinsics (K in the top-left 3x3)
    root/pose/<i>.txt                    4x4 camera-to-world, OpenCV camera axes
    root/color/<i>.jpg                   colour frames
    root/full.ply                        optional scene point cloud / mesh vertices

Frames whose pose has inf/nan entries (tracking failures, written as ``-inf`` by
ScanNet) are skipped. Frames are ordered by their integer id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from shared_utils.cameras.conventions import invert_rigid
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.viewset import CameraFormatError, ViewSet


def read_scannet(root: str | Path, *, color_dir: str = "color") -> ViewSet:
    """Read a ScanNet-style scene.

    Args:
        root: scene folder.
        color_dir: name of the colour-image folder.

    Returns:
        ViewSet with names = frame ids, no masks, the ``full.ply`` points (and colours in
        [0, 1] when the file has them) or None, no scale_mat.

    Raises:
        CameraFormatError: missing intrinsics/pose folder/image, a matrix that is not
            4x4 numbers, no valid pose, or an unreadable ``full.ply``.
    """
    root = Path(root)
    K_path = root / "intrinsic" / "intrinsic_color.txt"
    K = _read_matrix(K_path, "intrinsic_color")[:3, :3]
    if not np.all(np.isfinite(K)) or K[0, 0] <= 0 or K[1, 1] <= 0:
        raise CameraFormatError(
            K_path, "intrinsic_color", "focal lengths must be finite and positive"
        )
    pose_dir = root / "pose"
    if not pose_dir.is_dir():
        raise CameraFormatError(pose_dir, "pose", "pose folder does not exist")
    pose_files = [p for p in pose_dir.glob("*.txt") if p.stem.isdigit()]
    pose_files.sort(key=lambda p: int(p.stem))

    ids: list[str] = []
    c2ws: list[np.ndarray] = []
    paths: list[Path] = []
    for pf in pose_files:
        c2w = _read_matrix(pf, "pose")
        if not np.all(np.isfinite(c2w)):
            continue  # ScanNet marks lost tracking with -inf poses
        img = root / color_dir / f"{pf.stem}.jpg"
        if not img.is_file():
            raise CameraFormatError(
                img, f"{color_dir}/{pf.stem}.jpg", "colour image of a posed frame is missing"
            )
        ids.append(pf.stem)
        c2ws.append(c2w)
        paths.append(img)
    if not ids:
        raise CameraFormatError(pose_dir, "pose", "no frame with a finite pose")

    with Image.open(paths[0]) as im0:
        width, height = im0.size
    cams = [PinholeCamera(K, invert_rigid(c2w), width, height) for c2w in c2ws]
    points, colors = _read_points(root / "full.ply")
    return ViewSet(cams, paths, None, points, colors, None, ids)


def _read_matrix(path: Path, field: str) -> np.ndarray:
    """A whitespace-separated 4x4 text matrix (inf/nan allowed, checked by the caller)."""
    if not path.is_file():
        raise CameraFormatError(path, field, "file does not exist")
    try:
        m = np.loadtxt(path, dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise CameraFormatError(path, field, f"not a numeric matrix: {exc}") from exc
    if m.shape != (4, 4):
        raise CameraFormatError(path, field, f"must be 4x4, got shape {m.shape}")
    return m


def _read_points(path: Path) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Points and colours of ``full.ply`` (None, None when absent)."""
    if not path.is_file():
        return None, None
    from shared_utils.o3d import open3d

    pcd = open3d().io.read_point_cloud(str(path))
    points = np.asarray(pcd.points, dtype=np.float64)
    if points.shape[0] == 0:
        raise CameraFormatError(path, "vertex", "point cloud is empty or unreadable")
    colors = np.asarray(pcd.colors, dtype=np.float64) if pcd.has_colors() else None
    return points, colors
