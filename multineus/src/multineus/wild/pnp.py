"""Camera extrinsics of a photo by PnP from 2D landmarks against the canonical 3D ones.

OpenCV's ``solvePnP`` (EPnP initialisation, then Levenberg-Marquardt refinement)
finds the rotation and translation that project the 68 canonical 3D landmarks onto the
detected 2D ones under the given intrinsics (the average of the training cameras', as
in the paper). The result seeds the per-image se(3) refinement.
"""

from __future__ import annotations

import cv2
import numpy as np


class PoseEstimationError(ValueError):
    """PnP could not run or failed on the given landmarks."""


def estimate_pose(landmarks_2d: np.ndarray, K: np.ndarray, landmarks_3d: np.ndarray) -> np.ndarray:
    """cam_from_world (4, 4) from N >= 6 correspondences.

    Args:
        landmarks_2d: (N, 2) pixel positions (x right, y down).
        K: (3, 3) intrinsics.
        landmarks_3d: (N, 3) the same landmarks on the canonical head (world units).

    Raises:
        PoseEstimationError: on mismatched shapes, too few or non-finite points, or when
            OpenCV reports failure.
    """
    p2 = np.asarray(landmarks_2d, dtype=np.float64)
    p3 = np.asarray(landmarks_3d, dtype=np.float64)
    if p2.ndim != 2 or p2.shape[1] != 2 or p3.ndim != 2 or p3.shape[1] != 3 or len(p2) != len(p3):
        raise PoseEstimationError(
            f"estimate_pose: landmarks_2d must be (N, 2) and landmarks_3d (N, 3) with the same N; "
            f"got {p2.shape} and {p3.shape}"
        )
    if len(p2) < 6:
        raise PoseEstimationError(f"estimate_pose: need at least 6 landmarks, got {len(p2)}")
    if not (np.isfinite(p2).all() and np.isfinite(p3).all()):
        raise PoseEstimationError("estimate_pose: landmarks contain NaN or inf")
    Kf = np.asarray(K, dtype=np.float64)
    ok, rvec, tvec = cv2.solvePnP(p3, p2, Kf, None, flags=cv2.SOLVEPNP_EPNP)
    if not ok:
        raise PoseEstimationError("estimate_pose: EPnP failed")
    ok, rvec, tvec = cv2.solvePnP(
        p3, p2, Kf, None, rvec=rvec, tvec=tvec, useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE
    )
    if not ok:
        raise PoseEstimationError("estimate_pose: iterative PnP failed")
    T = np.eye(4)
    T[:3, :3] = cv2.Rodrigues(rvec)[0]
    T[:3, 3] = tvec[:, 0]
    return T
