"""Head foreground masks for in-the-wild photos: GrabCut seeded by the 68 facial landmarks.

A local segmenter with no weights to download: OpenCV's GrabCut (colour mixture models +
graph cut) starts from a trimap laid out around the landmarks. The face (the landmarks'
convex hull, shrunk) is certain foreground; an ellipse over face, hair and ears, and a
band below the chin for the neck, are probable foreground; the photo's border away from
that region is certain background; the rest is probable background. The result keeps
the connected component holding the face, with holes filled.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def head_trimap(shape: tuple[int, int], landmarks: np.ndarray) -> np.ndarray:
    """(H, W) uint8 GrabCut labels (cv2.GC_BGD/FGD/PR_BGD/PR_FGD) around a face.

    Args:
        shape: (H, W) of the photo.
        landmarks: (68, 2) pixel positions (x, y), 68-point iBUG layout.
    """
    import cv2

    h, w = shape
    lm = np.asarray(landmarks, dtype=np.float64)
    face_w = lm[16, 0] - lm[0, 0]
    brow_y = lm[17:27, 1].min()
    chin_y = lm[8, 1]
    face_h = chin_y - brow_y
    if face_w <= 0 or face_h <= 0:
        raise ValueError(f"head_trimap: degenerate landmarks (face {face_w:.1f} x {face_h:.1f} px)")
    cx = 0.5 * (lm[0, 0] + lm[16, 0])
    # head ellipse: hair reaches ~0.9 face heights above the brows, ears ~0.3 widths out
    top, bottom = brow_y - 0.9 * face_h, chin_y + 0.1 * face_h
    cy, ry, rx = 0.5 * (top + bottom), 0.5 * (bottom - top), 0.8 * face_w
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64) + 0.5
    ellipse = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    neck = (np.abs(xx - cx) < 0.35 * face_w) & (yy > chin_y - 0.2 * face_h)
    labels = np.full((h, w), cv2.GC_PR_BGD, np.uint8)
    labels[(ellipse > 1.6**2) & ~neck] = cv2.GC_BGD
    border = max(2, round(0.02 * min(h, w)))
    frame = np.zeros((h, w), bool)
    frame[:border], frame[:, :border], frame[:, -border:] = True, True, True
    labels[frame & (ellipse > 1.0) & ~neck] = cv2.GC_BGD
    labels[(ellipse <= 1.0) | neck] = cv2.GC_PR_FGD
    hull = cv2.convexHull(lm.astype(np.float32)).reshape(-1, 2)
    centre = hull.mean(axis=0)
    inner = (centre + 0.8 * (hull - centre)).round().astype(np.int32)
    sure = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(sure, inner, 1)
    labels[sure > 0] = cv2.GC_FGD
    return labels


def grabcut_head_mask(
    image: np.ndarray, landmarks: np.ndarray, *, iterations: int = 5, seed: int = 0
) -> np.ndarray:
    """(H, W) bool head mask of a photo.

    Args:
        image: (H, W, 3) float in [0, 1] or uint8 RGB.
        landmarks: (68, 2) pixel positions (x, y) of the face.
        iterations: GrabCut iterations.
        seed: OpenCV's RNG seed (GrabCut's mixture initialisation uses k-means).
    """
    import cv2

    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] < 3:
        raise ValueError(f"grabcut_head_mask: image must be (H, W, 3), got {img.shape}")
    if img.dtype != np.uint8:
        img = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    bgr = np.ascontiguousarray(img[..., 2::-1])
    labels = head_trimap(img.shape[:2], landmarks)
    cv2.setRNGSeed(seed)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(bgr, labels, (0, 0, 0, 0), bgd, fgd, iterations, cv2.GC_INIT_WITH_MASK)
    fg = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    components, _ = ndimage.label(fg)
    face = components[labels == cv2.GC_FGD]
    face = face[face > 0]
    if face.size:
        fg = components == np.bincount(face).argmax()
    return ndimage.binary_fill_holes(fg)
