"""A family of procedural textured heads with identity parameters (the embedded data).

Each head is an analytic SDF (smooth union of ellipsoids: skull, jaw/chin, nose, two
ears, and a neck cylinder) whose shape is set by :class:`HeadParams`; a head's colour
(skin tone with value noise, hair cap, eyes, brows, lips) is a function of the surface
point. The mesh comes from marching cubes, the images from the shared ray-cast renderer
with a fixed world light (so the appearance does not depend on the view, as the
view-direction-free colour network assumes). Frame: z up, the face looks towards -y,
the head centre at the origin, everything inside the unit sphere. Deterministic by seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from multineus.mesh import Mesh, marching_cubes_mesh
from shared_utils.cameras.pinhole import PinholeCamera
from shared_utils.cameras.rigs import intrinsics_from_fov, look_at
from shared_utils.render.mesh import TexturedMesh
from shared_utils.render.raycast import RaycastScene
from shared_utils.render.renderer import render

LIGHT_DIR = (-0.4, -0.8, 0.6)
"""World direction towards the light used for every render."""


@dataclass(frozen=True)
class HeadParams:
    """Identity parameters of a procedural head (lengths in world units)."""

    skull: tuple[float, float, float] = (0.33, 0.40, 0.42)
    """Radii (x, y, z) of the skull ellipsoid."""
    jaw_width: float = 0.25
    """Half width of the jaw/chin ellipsoid."""
    chin_drop: float = 0.22
    """How far below the centre the jaw ellipsoid sits."""
    chin_forward: float = 0.12
    """How far in front (-y) the jaw ellipsoid sits."""
    nose_length: float = 0.09
    """Protrusion of the nose ellipsoid."""
    nose_width: float = 0.045
    """Half width of the nose."""
    ear_size: float = 1.0
    """Scale of the ears."""
    hairline: float = 0.12
    """Height of the hairline at the forehead."""
    skin: tuple[float, float, float] = (0.85, 0.65, 0.52)
    """Base skin colour."""
    hair: tuple[float, float, float] = (0.25, 0.16, 0.1)
    """Hair colour."""
    texture_seed: int = 0
    """Seed of the skin's value noise."""

    @staticmethod
    def sample(seed: int) -> HeadParams:
        """A random identity around the mean head."""
        rng = np.random.default_rng(seed)
        u = lambda lo, hi: float(rng.uniform(lo, hi))  # noqa: E731
        skin_base = np.array([0.85, 0.65, 0.52]) * u(0.55, 1.1)
        hair = [(0.08, 0.06, 0.05), (0.25, 0.16, 0.1), (0.6, 0.45, 0.25), (0.45, 0.2, 0.1)]
        return HeadParams(
            skull=(u(0.30, 0.36), u(0.37, 0.44), u(0.39, 0.45)),
            jaw_width=u(0.21, 0.29),
            chin_drop=u(0.19, 0.26),
            chin_forward=u(0.08, 0.16),
            nose_length=u(0.06, 0.12),
            nose_width=u(0.035, 0.055),
            ear_size=u(0.8, 1.2),
            hairline=u(0.06, 0.2),
            skin=tuple(float(c) for c in np.clip(skin_base, 0, 1)),  # type: ignore[arg-type]
            hair=hair[int(rng.integers(len(hair)))],
            texture_seed=int(rng.integers(1 << 30)),
        )

    def as_vector(self) -> np.ndarray:
        """(D,) the shape parameters as numbers (for weighting training scenes)."""
        vals: list[float] = []
        for f in fields(self):
            if f.name in ("skin", "hair", "texture_seed"):
                continue
            v = getattr(self, f.name)
            vals.extend(v if isinstance(v, tuple) else [v])
        return np.asarray(vals, dtype=np.float64)


def _ellipsoid(
    p: np.ndarray, centre: tuple[float, float, float], radii: tuple[float, float, float]
) -> np.ndarray:
    r = np.asarray(radii)
    q = (p - np.asarray(centre)) / r
    return (np.linalg.norm(q, axis=-1) - 1.0) * r.min()


def _smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    h = np.clip(0.5 + 0.5 * (b - a) / k, 0.0, 1.0)
    return b * (1 - h) + a * h - k * h * (1 - h)


def _front(params: HeadParams) -> float:
    """y of the face surface (the skull's front)."""
    return -params.skull[1]


def head_sdf(params: HeadParams, p: np.ndarray) -> np.ndarray:
    """(N, 3) -> (N,) approximate signed distance of the head (negative inside)."""
    sx, sy, sz = params.skull
    d = _ellipsoid(p, (0.0, 0.02, 0.06), (sx, sy, sz))
    jaw = _ellipsoid(
        p, (0.0, -params.chin_forward, -params.chin_drop), (params.jaw_width, 0.26, 0.2)
    )
    d = _smooth_min(d, jaw, 0.08)
    nose = _ellipsoid(
        p,
        (0.0, _front(params) + 0.04, -0.03),
        (params.nose_width, params.nose_length + 0.04, 0.09),
    )
    d = _smooth_min(d, nose, 0.03)
    e = params.ear_size
    for side in (-1.0, 1.0):
        ear = _ellipsoid(p, (side * (sx - 0.01), 0.04, 0.0), (0.04 * e, 0.08 * e, 0.11 * e))
        d = _smooth_min(d, ear, 0.02)
    # Neck: a vertical cylinder capped at z = -0.62.
    radial = np.linalg.norm(p[:, :2] - np.array([0.0, 0.06]), axis=-1) - 0.15
    cap = np.maximum(p[:, 2] - (-0.2), -0.62 - p[:, 2])
    neck = np.maximum(radial, cap)
    return _smooth_min(d, neck, 0.08)


def _value_noise(seed: int, p: np.ndarray, cells: float = 12.0) -> np.ndarray:
    """Smooth 3D value noise in [0, 1] (trilinear interpolation of a hashed lattice)."""
    rng = np.random.default_rng(seed)
    lattice = rng.random((32, 32, 32))
    q = (p + 1.0) * cells / 2.0
    i = np.floor(q).astype(np.int64)
    f = q - i
    f = f * f * (3 - 2 * f)
    out = np.zeros(len(p))
    for dx in (0, 1):
        for dy in (0, 1):
            for dz in (0, 1):
                w = (
                    (f[:, 0] if dx else 1 - f[:, 0])
                    * (f[:, 1] if dy else 1 - f[:, 1])
                    * (f[:, 2] if dz else 1 - f[:, 2])
                )
                out += w * lattice[(i[:, 0] + dx) % 32, (i[:, 1] + dy) % 32, (i[:, 2] + dz) % 32]
    return out


def head_colors(params: HeadParams, p: np.ndarray) -> np.ndarray:
    """(N, 3) surface points -> (N, 3) albedo in [0, 1]."""
    n = _value_noise(params.texture_seed, p)
    col = np.asarray(params.skin)[None] * (0.9 + 0.2 * n[:, None])
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    front = y < -0.15
    hair = (z > params.hairline + 0.25 * np.clip(-y / params.skull[1], 0, 1) - 0.1) | (
        (y > 0.05) & (z > -0.12)
    )
    col[hair] = np.asarray(params.hair) * (0.8 + 0.4 * n[hair, None])
    for side in (-1.0, 1.0):
        r2 = (x - side * 0.12) ** 2 + (z - 0.07) ** 2
        col[front & (r2 < 0.05**2)] = (0.95, 0.95, 0.95)
        col[front & (r2 < 0.025**2)] = (0.1, 0.12, 0.2)
        brow = front & (np.abs(x - side * 0.12) < 0.06) & (np.abs(z - 0.14) < 0.012)
        col[brow] = np.asarray(params.hair) * 0.8
    lips = front & ((x / 0.08) ** 2 + ((z + 0.17) / 0.022) ** 2 < 1.0)
    col[lips] = (0.7, 0.25, 0.25)
    return np.clip(col, 0.0, 1.0).astype(np.float32)


def head_mesh(params: HeadParams, resolution: int = 96) -> Mesh:
    """Marching-cubes mesh of the head with vertex colours."""
    return marching_cubes_mesh(
        lambda q: head_sdf(params, q),
        resolution=resolution,
        bound=0.75,
        color_fn=lambda v: head_colors(params, v),
    )


def frontal_cameras(
    n: int,
    *,
    image_size: int,
    fov_deg: float,
    distance: float,
    seed: int,
    yaw_range: float = 80.0,
    pitch_range: tuple[float, float] = (-10.0, 25.0),
) -> list[PinholeCamera]:
    """``n`` cameras on the frontal half sphere (like a hand-held video around a face).

    Camera 0 is exactly frontal (yaw 0, pitch 5 degrees); the others have yaw evenly
    spread over ``[-yaw_range, yaw_range]`` and random pitch.
    """
    rng = np.random.default_rng(seed)
    K = intrinsics_from_fov(fov_deg, image_size, image_size)
    yaws = [0.0, *list(np.linspace(-yaw_range, yaw_range, max(n - 1, 1)))[: n - 1]]
    pitches = [5.0, *rng.uniform(*pitch_range, size=n - 1)]
    cams = []
    for yaw, pitch in zip(yaws, pitches, strict=True):
        a, b = math.radians(yaw), math.radians(pitch)
        eye = distance * np.array(
            [math.sin(a) * math.cos(b), -math.cos(a) * math.cos(b), math.sin(b)]
        )
        cams.append(PinholeCamera(K, look_at(tuple(eye), (0.0, 0.0, 0.0)), image_size, image_size))
    return cams


@dataclass
class HeadScene:
    """A rendered procedural head: images, masks, cameras and the ground-truth mesh."""

    params: HeadParams
    """Identity."""
    images: np.ndarray
    """(V, H, W, 3) float32 renders on black."""
    masks: np.ndarray
    """(V, H, W) bool foreground."""
    cameras: list[PinholeCamera]
    """V cameras."""
    mesh: Mesh
    """Ground-truth surface with vertex colours."""


def render_mesh_views(mesh: Mesh, cameras: list[PinholeCamera]) -> tuple[np.ndarray, np.ndarray]:
    """Render a coloured mesh from every camera as the heads are (fixed light, on black).

    Returns:
        images (V, H, W, 3) float32 and masks (V, H, W) bool.
    """
    scene = RaycastScene(
        [TexturedMesh(mesh.vertices, mesh.faces, vertex_colors=mesh.vertex_colors)]
    )
    images, masks = [], []
    for cam in cameras:
        out = render(scene, cam, light_dir=LIGHT_DIR, ambient=0.45, nthreads=1)
        images.append(out.rgb)
        masks.append(out.mask)
    return np.stack(images).astype(np.float32, copy=False), np.stack(masks)


def render_head(
    params: HeadParams, cameras: list[PinholeCamera], *, mesh_resolution: int = 96
) -> HeadScene:
    """Render a head from every camera with the shared renderer."""
    mesh = head_mesh(params, mesh_resolution)
    images, masks = render_mesh_views(mesh, cameras)
    return HeadScene(params, images, masks, cameras, mesh)


def head_nose_tip(params: HeadParams) -> np.ndarray:
    """(3,) approximate nose tip of a procedural head (centre of the face region)."""
    return np.array([0.0, -params.skull[1] - params.nose_length + 0.04, -0.03])


def head_family(num: int, seed: int) -> list[HeadParams]:
    """``num`` identities, deterministic by ``seed``."""
    return [HeadParams.sample(seed * 1000 + i) for i in range(num)]
