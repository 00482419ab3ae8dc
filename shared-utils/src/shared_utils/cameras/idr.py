"""Read the IDR / NeuS layout (``cameras_sphere.npz``, ``image/``, ``mask/``).

``cameras_sphere.npz`` holds, for view i:

- ``world_mat_i`` (4, 4): the projection ``K [R | t]`` (padded with [0 0 0 1]) of the
  original world frame;
- ``scale_mat_i`` (4, 4): a similarity that maps the *normalised* frame, where the object
  lies inside the unit sphere, to the original world frame:
  ``x_world = scale_mat @ x_norm`` (usually ``[[s, 0, 0, cx], [0, s, 0, cy],
  [0, 0, s, cz], [0, 0, 0, 1]]``, the bounding sphere's radius and centre).

Like NeuS, by default the cameras are returned in the normalised frame: the projection
``world_mat_i @ scale_mat_i`` is decomposed (``cv2.decomposeProjectionMatrix``) into K
and a rigid ``cam_from_world``. ``ViewSet.scale_mat`` carries ``scale_mat_0`` so callers
can map normalised geometry back to world units.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.viewset import CameraFormatError, ViewSet

_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def camera_from_projection(P: np.ndarray, width: int, height: int) -> PinholeCamera:
    """Decompose a projection matrix ``P ~ K [R | t]`` into a pinhole camera.

    The overall scale and sign of P are free; K is normalised to ``K[2, 2] = 1`` with a
    positive diagonal and R is made a proper rotation.

    Args:
        P: (3, 4) or (4, 4) projection matrix (the last row of a (4, 4) is ignored).
        width: image width.
        height: image height.

    Returns:
        The camera with ``camera.projection_matrix()`` proportional to P.
    """
    P = np.asarray(P, dtype=np.float64)[:3, :4]
    if np.linalg.det(P[:, :3]) < 0:  # P = -K[R|t]: flip so R comes out proper
        P = -P
    K, R, C_hom = cv2.decomposeProjectionMatrix(P)[:3]
    K = K / K[2, 2]
    # Move any negative focal sign from K into R (D = D^-1, so K R is unchanged).
    D = np.diag(np.sign(np.diag(K)))
    K, R = K @ D, D @ R
    center = C_hom[:3, 0] / C_hom[3, 0]
    T = np.eye(4)
    T[:3, :3] = R
    T[:3, 3] = -R @ center
    return PinholeCamera(K=K, cam_from_world=T, width=width, height=height)


def idr_world_mat(camera: PinholeCamera) -> np.ndarray:
    """The (4, 4) ``world_mat`` of a camera: ``K [R | t]`` padded with [0 0 0 1]."""
    out = np.eye(4)
    out[:3, :4] = camera.projection_matrix()
    return out


def read_idr(root: str | Path, *, normalized: bool = True) -> ViewSet:
    """Read an IDR / NeuS scene folder.

    Args:
        root: folder with ``cameras_sphere.npz``, ``image/`` and optionally ``mask/``.
        normalized: return cameras in the unit-sphere frame (``world_mat @ scale_mat``, as
            NeuS does); False returns them in the original world frame (``world_mat``).

    Returns:
        ViewSet with names = image stems, mask paths (None without ``mask/``), no points,
        and ``scale_mat`` = ``scale_mat_0`` (normalised -> world).

    Raises:
        CameraFormatError: missing file or folder, missing key, wrong matrix shape,
            singular projection, or masks not matching images.
    """
    root = Path(root)
    npz_path = root / "cameras_sphere.npz"
    if not npz_path.is_file():
        raise CameraFormatError(npz_path, "file", "cameras file does not exist")
    image_dir = root / "image"
    images = _list_images(image_dir)
    if not images:
        raise CameraFormatError(image_dir, "image", "no images (.png/.jpg) in the image folder")
    masks: list[Path] | None = None
    mask_dir = root / "mask"
    if mask_dir.is_dir():
        masks = _list_images(mask_dir)
        if len(masks) != len(images):
            raise CameraFormatError(
                mask_dir, "mask", f"{len(masks)} masks for {len(images)} images"
            )

    try:
        data = dict(np.load(npz_path))
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise CameraFormatError(npz_path, "file", f"not a readable npz: {exc}") from exc
    with Image.open(images[0]) as im0:
        width, height = im0.size

    cameras: list[PinholeCamera] = []
    scale0: np.ndarray | None = None
    for i in range(len(images)):
        world_mat = _matrix(data, npz_path, f"world_mat_{i}")
        scale_mat = _matrix(data, npz_path, f"scale_mat_{i}")
        if scale0 is None:
            scale0 = scale_mat
        P = world_mat @ scale_mat if normalized else world_mat
        if abs(np.linalg.det(P[:3, :3])) < 1e-12 * max(1.0, float(np.abs(P[:3, :3]).max()) ** 3):
            raise CameraFormatError(
                npz_path, f"world_mat_{i}", "projection's left 3x3 block is singular"
            )
        cameras.append(camera_from_projection(P, width, height))
    names = [p.stem for p in images]
    return ViewSet(cameras, images, masks, None, None, scale0, names)


def _list_images(folder: Path) -> list[Path]:
    """Image files in ``folder``, sorted like NeuS (numerically when names are numbers)."""
    if not folder.is_dir():
        raise CameraFormatError(folder, folder.name, "folder does not exist")
    files = [p for p in folder.iterdir() if p.suffix.lower() in _IMAGE_SUFFIXES]

    def key(p: Path) -> tuple[int, str]:
        digits = re.fullmatch(r"\d+", p.stem)
        return (int(p.stem) if digits else -1, p.name)

    return sorted(files, key=key)


def _matrix(data: dict[str, np.ndarray], path: Path, key: str) -> np.ndarray:
    """``data[key]`` as a finite (4, 4) float64 matrix, or a CameraFormatError."""
    if key not in data:
        raise CameraFormatError(path, key, "missing key")
    m = np.asarray(data[key], dtype=np.float64)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise CameraFormatError(path, key, f"must be a finite (4, 4) matrix, got shape {m.shape}")
    return m
