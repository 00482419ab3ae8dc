"""Camera-axis conventions and rigid-transform helpers.

The workspace uses OpenCV camera axes (x right, y down, z forward) and stores
``cam_from_world``. NeRF / Blender files store an OpenGL camera-to-world matrix
(x right, y up, z backward, the camera looks along -z). The two camera frames differ
by a rotation of pi about x: ``diag(1, -1, -1)``.
"""

from __future__ import annotations

import numpy as np

OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])
"""(4, 4) change of camera axes between OpenGL and OpenCV (its own inverse):
``c2w_cv = c2w_gl @ OPENGL_TO_OPENCV``."""


def invert_rigid(T: np.ndarray) -> np.ndarray:
    """Invert rigid transforms exactly (transpose the rotation) instead of a general inverse.

    Args:
        T: (..., 4, 4) rigid transforms ``[R t; 0 1]``.

    Returns:
        (..., 4, 4) the inverses ``[R^T, -R^T t; 0 1]``.
    """
    T = np.asarray(T, dtype=np.float64)
    if T.shape[-2:] != (4, 4):
        raise ValueError(f"invert_rigid expects (..., 4, 4), got {T.shape}")
    R = T[..., :3, :3]
    t = T[..., :3, 3]
    Rt = np.swapaxes(R, -1, -2)
    out = np.zeros_like(T)
    out[..., :3, :3] = Rt
    out[..., :3, 3] = -np.einsum("...ij,...j->...i", Rt, t)
    out[..., 3, 3] = 1.0
    return out


def opencv_from_opengl_c2w(c2w_gl: np.ndarray) -> np.ndarray:
    """OpenGL camera-to-world (NeRF / Blender) -> OpenCV ``cam_from_world``.

    Args:
        c2w_gl: (..., 4, 4) OpenGL camera-to-world transforms (3x4 also accepted).

    Returns:
        (..., 4, 4) OpenCV world-to-camera transforms.
    """
    c2w_gl = _as_4x4(c2w_gl)
    return invert_rigid(c2w_gl @ OPENGL_TO_OPENCV)


def opengl_c2w_from_opencv(cam_from_world: np.ndarray) -> np.ndarray:
    """OpenCV ``cam_from_world`` -> OpenGL camera-to-world (the inverse of the above).

    Args:
        cam_from_world: (..., 4, 4) OpenCV world-to-camera transforms.

    Returns:
        (..., 4, 4) OpenGL camera-to-world transforms.
    """
    return invert_rigid(_as_4x4(cam_from_world)) @ OPENGL_TO_OPENCV


def _as_4x4(T: np.ndarray) -> np.ndarray:
    """Pad (..., 3, 4) to (..., 4, 4) with the row [0 0 0 1]; pass (..., 4, 4) through."""
    T = np.asarray(T, dtype=np.float64)
    if T.shape[-2:] == (4, 4):
        return T
    if T.shape[-2:] == (3, 4):
        bottom = np.broadcast_to(np.array([0.0, 0.0, 0.0, 1.0]), (*T.shape[:-2], 1, 4))
        return np.concatenate([T, bottom], axis=-2)
    raise ValueError(f"expected (..., 4, 4) or (..., 3, 4) transforms, got {T.shape}")
