"""3D positions of the 68 iBUG facial landmarks on the canonical (mean) procedural head.

A frontal 2D template of the 68-point layout (jaw 0-16, brows 17-26, nose 27-35, eyes
36-47, lips 48-67; point 0 on the image's left, i.e. the subject's right, at -x) is laid
out in the (x, z) plane of the head frame and projected onto the head surface along +y
by sphere tracing its SDF. Image right is +x, image down is -z for a camera in front.
"""

from __future__ import annotations

import numpy as np

from multineus.data.heads import HeadParams, head_sdf


def template_xz() -> np.ndarray:
    """(68, 2) frontal (x, z) template in head units."""
    pts: list[tuple[float, float]] = []
    # Jaw 0-16: from the right temple down round the chin to the left temple.
    for a in np.linspace(np.pi * 0.95, np.pi * 0.05, 17):
        pts.append((0.27 * np.cos(a), 0.04 - 0.40 * np.sin(a)))
    for side in (-1.0, 1.0):  # brows 17-21 (right, -x), 22-26 (left, +x)
        xs = np.linspace(0.2, 0.05, 5) if side < 0 else np.linspace(0.05, 0.2, 5)
        for x in xs:
            pts.append((side * x, 0.14 + 0.02 * np.sin(np.pi * (x - 0.05) / 0.15)))
    for z in np.linspace(0.07, -0.03, 4):  # nose bridge 27-30
        pts.append((0.0, float(z)))
    for x in np.linspace(-0.05, 0.05, 5):  # nostrils 31-35
        pts.append((float(x), -0.07 + 0.01 * (1 - abs(x) / 0.05)))
    for side in (-1.0, 1.0):  # eyes 36-41, 42-47 (corner, upper x2, corner, lower x2)
        cx = side * 0.12
        ring = [
            (-0.04, 0.0),
            (-0.015, 0.018),
            (0.015, 0.018),
            (0.04, 0.0),
            (0.015, -0.018),
            (-0.015, -0.018),
        ]
        for dx, dz in ring:
            pts.append((cx + dx, 0.07 + dz))
    for k in range(12):  # outer lips 48-59
        a = np.pi - 2 * np.pi * k / 12
        pts.append((0.08 * np.cos(a), -0.17 + 0.03 * np.sin(a)))
    for k in range(8):  # inner lips 60-67
        a = np.pi - 2 * np.pi * k / 8
        pts.append((0.05 * np.cos(a), -0.17 + 0.01 * np.sin(a)))
    return np.asarray(pts, dtype=np.float64)


def canonical_landmarks(params: HeadParams | None = None, *, iterations: int = 80) -> np.ndarray:
    """(68, 3) landmarks on the head surface (the mean head by default)."""
    params = HeadParams() if params is None else params
    xz = template_xz()
    p = np.stack([xz[:, 0], np.full(len(xz), -1.5), xz[:, 1]], axis=1)
    for _ in range(iterations):  # sphere tracing along +y (the SDF is a distance bound)
        d = head_sdf(params, p)
        p[:, 1] += np.clip(d, -0.05, None) * 0.9
    return p
