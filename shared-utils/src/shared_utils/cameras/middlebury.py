"""Read a Middlebury 2014 stereo scene: a rectified, calibrated photo pair with
ground-truth disparity, as two posed views and the left view's point cloud.

Layout (one folder per scene, as in vision.middlebury.edu/stereo/data/scenes2014)::

    root/im0.png      left image
    root/im1.png      right image (rectified: same rows as the left one)
    root/disp0.pfm    left disparity in pixels, ``inf`` where unknown
    root/calib.txt    cam0=[f 0 cx0; 0 f cy; 0 0 1]
                      cam1=[f 0 cx1; 0 f cy; 0 0 1]
                      doffs=<cx1 - cx0>  baseline=<mm>  width=  height=  ndisp=  ...

Geometry: the left pixel (x, y) with disparity d shows the same surface point as the
right pixel (x - d, y), at depth Z = baseline * f / (d + doffs) along the cameras' axis.
The principal points of ``calib.txt`` are read as 0-based pixel-centre coordinates and
moved to the workspace's corner origin (+0.5).

World frame: the left camera's centre is the origin and world +z is the cameras' up
(-y in OpenCV camera axes), so scene code that assumes a z-up world (e.g. aligning views
to the up direction) works unchanged; the right camera sits ``baseline`` along world +x.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.viewset import CameraFormatError, ViewSet
from shared_utils.io.atomic import atomic_write_text
from shared_utils.io.images import ImageFormatError, read_image, write_image
from shared_utils.io.pfm import PFMFormatError, read_pfm, write_pfm

WORLD_FROM_CAMERA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
"""(3, 3) rotation from the left camera's OpenCV axes to the z-up world frame."""


@dataclass(frozen=True)
class MiddleburyCalib:
    """The fields of ``calib.txt`` that the geometry needs."""

    K0: np.ndarray
    """(3, 3) left intrinsics as written (0-based pixel-centre principal point)."""
    K1: np.ndarray
    """(3, 3) right intrinsics as written."""
    doffs: float
    """x-difference of the principal points, cx1 - cx0, in pixels."""
    baseline: float
    """Distance between the camera centres, in millimetres."""
    width: int
    """Image width in pixels."""
    height: int
    """Image height in pixels."""

    def depth(self, disparity: np.ndarray) -> np.ndarray:
        """Depth in mm of (H, W) disparities (inf / nan / <= -doffs give nan)."""
        d = np.asarray(disparity, dtype=np.float64) + self.doffs
        with np.errstate(divide="ignore", invalid="ignore"):
            z = self.baseline * self.K0[0, 0] / d
        return np.where(np.isfinite(d) & (d > 0), z, np.nan)


def _matrix(text: str, path: Path, field: str) -> np.ndarray:
    rows = [r.split() for r in text.strip().strip("[]").split(";")]
    try:
        m = np.array([[float(v) for v in r] for r in rows], dtype=np.float64)
    except ValueError as exc:
        raise CameraFormatError(path, field, f"not a numeric matrix: {text!r}") from exc
    if m.shape != (3, 3):
        raise CameraFormatError(path, field, f"must be a 3x3 matrix, got shape {m.shape}")
    if not np.all(np.isfinite(m)) or m[0, 0] <= 0 or m[1, 1] <= 0:
        raise CameraFormatError(path, field, "focal lengths must be finite and positive")
    return m


def read_calib(path: str | Path) -> MiddleburyCalib:
    """Parse a Middlebury ``calib.txt`` (``key=value`` lines; unknown keys are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise CameraFormatError(path, "calib.txt", "file does not exist")
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        m = re.match(r"\s*(\w+)\s*=\s*(.*?)\s*$", line)
        if m:
            values[m.group(1)] = m.group(2)
    for key in ("cam0", "cam1", "baseline", "width", "height"):
        if key not in values:
            raise CameraFormatError(path, key, "missing")
    K0, K1 = _matrix(values["cam0"], path, "cam0"), _matrix(values["cam1"], path, "cam1")
    numbers: dict[str, float] = {}
    for key in ("baseline", "width", "height", "doffs"):
        if key not in values:
            continue
        try:
            numbers[key] = float(values[key])
        except ValueError as exc:
            raise CameraFormatError(path, key, f"not a number: {values[key]!r}") from exc
    doffs = numbers.get("doffs", K1[0, 2] - K0[0, 2])
    if not abs(doffs - (K1[0, 2] - K0[0, 2])) < 1e-3 * max(1.0, abs(doffs)):
        raise CameraFormatError(
            path, "doffs", f"{doffs} differs from cam1 cx - cam0 cx = {K1[0, 2] - K0[0, 2]}"
        )
    if not numbers["baseline"] > 0:
        raise CameraFormatError(path, "baseline", f"must be positive, got {numbers['baseline']}")
    width, height = int(numbers["width"]), int(numbers["height"])
    if width <= 0 or height <= 0 or width != numbers["width"] or height != numbers["height"]:
        raise CameraFormatError(path, "width/height", f"not a valid size: {width}x{height}")
    return MiddleburyCalib(K0, K1, float(doffs), numbers["baseline"], width, height)


def read_middlebury(
    root: str | Path, *, point_stride: int = 1, unit_scale: float = 1e-3
) -> ViewSet:
    """Read a Middlebury 2014 scene folder as two views and the left view's points.

    Args:
        root: scene folder (``im0.png``, ``im1.png``, ``disp0.pfm``, ``calib.txt``).
        point_stride: keep the points of every ``point_stride``-th pixel in both
            directions (1: one point per left pixel with a known disparity).
        unit_scale: world units per millimetre (1e-3: metres).

    Returns:
        ViewSet with names ``["im0", "im1"]`` (left, right), no masks, the back-projected
        left-view points with their left-image colours in [0, 1], no scale_mat.

    Raises:
        CameraFormatError: a missing file, a bad ``calib.txt`` field, images or
            disparity whose size differs from ``calib.txt``, or no known disparity.
    """
    root = Path(root)
    if point_stride < 1:
        raise ValueError(f"read_middlebury: point_stride must be >= 1, got {point_stride}")
    calib = read_calib(root / "calib.txt")
    size = (calib.width, calib.height)
    paths = [root / "im0.png", root / "im1.png"]
    for p in paths:
        if not p.is_file():
            raise CameraFormatError(p, p.name, "image does not exist")
    try:  # the left photo colours the points, read as the scene loaders read it
        left = read_image(paths[0])[..., :3]
    except ImageFormatError as exc:
        raise CameraFormatError(paths[0], paths[0].name, str(exc)) from exc
    with Image.open(paths[1]) as im:  # the right photo: only its size is needed here
        right_size = im.size
    for p, (w, h) in zip(paths, [(left.shape[1], left.shape[0]), right_size], strict=True):
        if (w, h) != size:
            raise CameraFormatError(p, p.name, f"size {w}x{h} differs from calib.txt {size}")
    disp_path = root / "disp0.pfm"
    try:
        disp = read_pfm(disp_path)
    except PFMFormatError as exc:
        raise CameraFormatError(disp_path, "disp0.pfm", str(exc)) from exc
    if disp.ndim != 2 or disp.shape != (calib.height, calib.width):
        raise CameraFormatError(
            disp_path, "disp0.pfm", f"shape {disp.shape} differs from calib.txt {size[::-1]}"
        )

    depth = calib.depth(disp[::point_stride, ::point_stride])
    rows, cols = np.nonzero(np.isfinite(depth))
    if len(rows) == 0:
        raise CameraFormatError(disp_path, "disp0.pfm", "no pixel has a known disparity")
    z = depth[rows, cols]
    y_pix, x_pix = rows * point_stride, cols * point_stride
    K0 = _corner_origin(calib.K0)
    # back-project the pixel centres through the (corner-origin) left camera
    x_cam = np.stack(
        [
            (x_pix + 0.5 - K0[0, 2]) / K0[0, 0] * z,
            (y_pix + 0.5 - K0[1, 2]) / K0[1, 1] * z,
            z,
        ],
        axis=1,
    )
    points = x_cam @ WORLD_FROM_CAMERA.T * unit_scale
    colors = left[y_pix, x_pix]

    cams = []
    for K, centre_x in ((calib.K0, 0.0), (calib.K1, calib.baseline * unit_scale)):
        T = np.eye(4)
        T[:3, :3] = WORLD_FROM_CAMERA.T
        T[:3, 3] = -WORLD_FROM_CAMERA.T @ np.array([centre_x, 0.0, 0.0])
        cams.append(PinholeCamera(_corner_origin(K), T, calib.width, calib.height))
    return ViewSet(cams, paths, None, points, colors, None, ["im0", "im1"])


def _corner_origin(K: np.ndarray) -> np.ndarray:
    out = K.copy()
    out[:2, 2] += 0.5
    return out


def write_middlebury(
    root: str | Path,
    left: np.ndarray,
    right: np.ndarray,
    disparity: np.ndarray,
    *,
    focal: float,
    cx0: float,
    cy: float,
    doffs: float,
    baseline: float,
) -> Path:
    """Write a stereo pair in the Middlebury 2014 layout that :func:`read_middlebury` reads.

    Args:
        left, right: (H, W, 3) uint8 rectified images.
        disparity: (H, W) left disparities in pixels (inf or nan where unknown).
        focal, cx0, cy: left intrinsics (0-based pixel-centre principal point).
        doffs: cx1 - cx0 in pixels.
        baseline: camera distance in mm.
    """
    root = Path(root)
    left, right = np.asarray(left), np.asarray(right)
    if left.shape != right.shape or left.ndim != 3 or left.dtype != np.uint8:
        raise ValueError(
            f"write_middlebury: left/right must be equal (H, W, 3) uint8, got "
            f"{left.shape} {left.dtype} and {right.shape} {right.dtype}"
        )
    if disparity.shape != left.shape[:2]:
        raise ValueError(f"write_middlebury: disparity {disparity.shape} vs images {left.shape}")
    root.mkdir(parents=True, exist_ok=True)
    write_image(root / "im0.png", left)
    write_image(root / "im1.png", right)
    write_pfm(root / "disp0.pfm", np.where(np.isfinite(disparity), disparity, np.inf))
    h, w = left.shape[:2]
    cx1 = cx0 + doffs
    atomic_write_text(
        root / "calib.txt",
        f"cam0=[{focal:.10g} 0 {cx0:.10g}; 0 {focal:.10g} {cy:.10g}; 0 0 1]\n"
        f"cam1=[{focal:.10g} 0 {cx1:.10g}; 0 {focal:.10g} {cy:.10g}; 0 0 1]\n"
        f"doffs={doffs:.10g}\nbaseline={baseline:.10g}\nwidth={w}\nheight={h}\n",
    )
    return root
