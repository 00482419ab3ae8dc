"""68-point facial landmarks from photos with dlib (model shipped by face_recognition_models).

The offline backend: dlib's HOG face detector and its 68-point shape predictor, whose
weights the registry package ``face_recognition_models`` ships. The file is located
without importing that package (it imports the deprecated ``pkg_resources``). The
face-alignment backend (FAN, :mod:`multineus.wild.fan`) takes dlib's face box and its
own network from a local file.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


class NoFaceError(ValueError):
    """No face was found in the photo."""


def dlib_predictor_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` from face_recognition_models.

    Raises:
        FileNotFoundError: when the package or the file is missing.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("the package face_recognition_models is not installed")
    path = Path(spec.origin).parent / "models" / "shape_predictor_68_face_landmarks.dat"
    if not path.is_file():
        raise FileNotFoundError(f"missing dlib landmark model {path}")
    return path


def detect_landmarks(
    image: np.ndarray,
    *,
    upsample: int = 1,
    name: str = "image",
    fan_weights: str | Path | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Landmarks of the largest face.

    Args:
        image: (H, W, 3) float in [0, 1] or uint8 RGB.
        upsample: detector upsampling (finds smaller faces, slower).
        name: the photo's name for error messages.
        fan_weights: a TorchScript FAN file: landmarks by FAN in dlib's face box
            (face-alignment backend) instead of dlib's shape predictor.

    Returns:
        landmarks (68, 2) pixel positions (x, y) and the face box (4,) x0, y0, x1, y1.

    Raises:
        NoFaceError: when no face is detected.
    """
    import dlib

    img = np.asarray(image)
    if img.dtype != np.uint8:
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f"detect_landmarks: {name} must be (H, W, 3), got {img.shape}")
    img = np.ascontiguousarray(img[..., :3])
    detector = dlib.get_frontal_face_detector()
    faces = detector(img, upsample)
    if len(faces) == 0:
        raise NoFaceError(f"no face found in {name}")
    box = max(faces, key=lambda r: r.width() * r.height())
    corners = np.array([box.left(), box.top(), box.right(), box.bottom()], dtype=np.float64)
    if fan_weights is not None:
        from multineus.wild.fan import fan_landmarks, load_fan

        return fan_landmarks(img, corners, load_fan(fan_weights)), corners
    predictor = dlib.shape_predictor(str(dlib_predictor_path()))
    shape = predictor(img, box)
    pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float64)
    # dlib's coordinates index pixels; shift to the corner-origin convention.
    return pts + 0.5, corners
