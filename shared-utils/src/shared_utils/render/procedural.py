"""Procedural textures and UV-mapped primitive meshes, deterministic by seed.

Textures are (size, size, 3) float32 in [0, 1]. Every random choice comes from a
``numpy.random.Generator`` built from the seed, so the same seed gives byte-identical
arrays. Meshes are centred at the origin with z as their axis (sphere poles, cylinder
and torus axes), carry per-corner uvs in [0, 1] and analytic per-corner normals, and
are closed (watertight) unless stated.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence

import numpy as np

from shared_utils.render.mesh import TexturedMesh

SeedLike = int | np.random.Generator
Color = Sequence[float] | np.ndarray

SHAPES = ("sphere", "box", "cylinder", "torus")
"""Shapes ``random_textured_object`` chooses from."""
TEXTURES = ("checker", "stripes", "noise", "gradient")
"""Texture kinds ``random_texture`` chooses from."""


def _rng(seed: SeedLike) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(int(seed))


def random_color(seed: SeedLike) -> np.ndarray:
    """A saturated, not too dark RGB colour (3,) float32 (random hue)."""
    rng = _rng(seed)
    h, s, v = rng.uniform(0.0, 1.0), rng.uniform(0.45, 1.0), rng.uniform(0.35, 1.0)
    return np.asarray(colorsys.hsv_to_rgb(h, s, v), dtype=np.float32)


def _two_colors(rng: np.random.Generator, colors: Sequence[Color] | None) -> np.ndarray:
    """(2, 3) colours: the given ones or two random colours of clearly different brightness."""
    if colors is not None:
        arr = np.asarray(colors, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] != 3:
            raise ValueError(f"colors must be a list of >= 2 RGB triples, got shape {arr.shape}")
        return arr
    a = random_color(rng)
    b = random_color(rng)
    if abs(float(a.mean()) - float(b.mean())) < 0.2:  # keep the pattern visible
        b = np.where(a.mean() > 0.5, b * 0.35, 1.0 - (1.0 - b) * 0.35).astype(np.float32)
    return np.stack([a, b])


def _texel_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Texel-centre coordinates (u right, v up) in [0, 1], each (size, size)."""
    if int(size) < 1:
        raise ValueError(f"texture size must be >= 1, got {size}")
    c = (np.arange(int(size), dtype=np.float64) + 0.5) / int(size)
    u, row_v = np.meshgrid(c, c)
    return u, 1.0 - row_v


def _blend(colors: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Piecewise-linear colour ramp through ``colors`` (K, 3) at t (H, W) in [0, 1]."""
    k = len(colors) - 1
    x = np.clip(t, 0.0, 1.0) * k
    i = np.minimum(np.floor(x).astype(np.int64), k - 1)
    f = (x - i)[..., None]
    return (colors[i] * (1.0 - f) + colors[i + 1] * f).astype(np.float32)


def checker_texture(
    seed: SeedLike = 0,
    size: int = 128,
    *,
    squares: int | None = None,
    colors: Sequence[Color] | None = None,
) -> np.ndarray:
    """Checkerboard with ``squares`` x ``squares`` cells (random 4..12 if None) -> (size, size, 3)."""
    rng = _rng(seed)
    n = int(rng.integers(4, 13)) if squares is None else int(squares)
    cols = _two_colors(rng, colors)
    u, v = _texel_grid(size)
    parity = (np.floor(u * n).astype(np.int64) + np.floor(v * n).astype(np.int64)) % 2
    return cols[parity].astype(np.float32)


def stripes_texture(
    seed: SeedLike = 0,
    size: int = 128,
    *,
    stripes: int | None = None,
    angle_deg: float | None = None,
    colors: Sequence[Color] | None = None,
) -> np.ndarray:
    """Alternating stripes (``stripes`` periods across the texture) at ``angle_deg`` -> (size, size, 3)."""
    rng = _rng(seed)
    n = int(rng.integers(3, 11)) if stripes is None else int(stripes)
    angle = np.deg2rad(rng.uniform(0.0, 180.0) if angle_deg is None else float(angle_deg))
    cols = _two_colors(rng, colors)
    u, v = _texel_grid(size)
    s = u * np.cos(angle) + v * np.sin(angle)
    return cols[np.floor(s * n * 2).astype(np.int64) % 2].astype(np.float32)


def gradient_texture(
    seed: SeedLike = 0,
    size: int = 128,
    *,
    angle_deg: float | None = None,
    colors: Sequence[Color] | None = None,
) -> np.ndarray:
    """Linear colour ramp through ``colors`` (2 or 3 random if None) along ``angle_deg`` -> (size, size, 3)."""
    rng = _rng(seed)
    angle = np.deg2rad(rng.uniform(0.0, 360.0) if angle_deg is None else float(angle_deg))
    if colors is None:
        cols = np.concatenate([_two_colors(rng, None), random_color(rng)[None]])
    else:
        cols = _two_colors(rng, colors)
    u, v = _texel_grid(size)
    s = (u - 0.5) * np.cos(angle) + (v - 0.5) * np.sin(angle)
    half = 0.5 * (abs(np.cos(angle)) + abs(np.sin(angle)))  # the corners reach +-half
    return _blend(cols, (s + half) / (2.0 * half))


def value_noise(
    seed: SeedLike, size: int, *, cells: int = 4, octaves: int = 4, persistence: float = 0.5
) -> np.ndarray:
    """Fractal value noise (size, size) float64 in [0, 1].

    Each octave puts uniform random values on a (cells 2^o + 1)^2 lattice and
    interpolates them with a quintic fade (C2-smooth, like Perlin's); octave o has
    weight persistence^o. The sum is rescaled to span [0, 1].
    """
    if cells < 1 or octaves < 1:
        raise ValueError(f"value_noise: cells and octaves must be >= 1, got {cells}, {octaves}")
    rng = _rng(seed)
    u, v = _texel_grid(size)
    total = np.zeros_like(u)
    for o in range(int(octaves)):
        n = int(cells) * 2**o
        lattice = rng.uniform(0.0, 1.0, size=(n + 1, n + 1))
        x, y = u * n, v * n
        x0 = np.minimum(np.floor(x).astype(np.int64), n - 1)
        y0 = np.minimum(np.floor(y).astype(np.int64), n - 1)
        fx, fy = _fade(x - x0), _fade(y - y0)
        top = lattice[y0, x0] * (1 - fx) + lattice[y0, x0 + 1] * fx
        bottom = lattice[y0 + 1, x0] * (1 - fx) + lattice[y0 + 1, x0 + 1] * fx
        total += persistence**o * (top * (1 - fy) + bottom * fy)
    lo, hi = float(total.min()), float(total.max())
    return (total - lo) / (hi - lo) if hi > lo else np.zeros_like(total)


def _fade(t: np.ndarray) -> np.ndarray:
    return t * t * t * (t * (t * 6.0 - 15.0) + 10.0)


def noise_texture(
    seed: SeedLike = 0,
    size: int = 128,
    *,
    cells: int | None = None,
    octaves: int = 4,
    colors: Sequence[Color] | None = None,
) -> np.ndarray:
    """Fractal value noise mapped through a colour ramp -> (size, size, 3)."""
    rng = _rng(seed)
    n = int(rng.integers(2, 7)) if cells is None else int(cells)
    cols = _two_colors(rng, colors)
    return _blend(cols, value_noise(rng, size, cells=n, octaves=octaves))


def blob_texture(
    seed: SeedLike = 0,
    size: int = 512,
    *,
    count: int = 3000,
    radius_range: tuple[float, float] = (0.003, 0.018),
    background: float = 0.5,
) -> np.ndarray:
    """Random filled disks of random colours on grey, painted in order -> (size, size, 3).

    Many small high-contrast blobs and their overlaps give feature detectors (SIFT)
    distinctive, non-repeating keypoints everywhere, which smooth or periodic textures
    do not: use it for scenes that go through structure from motion.

    Args:
        seed: int or Generator.
        size: texture resolution (square).
        count: number of disks (3000 covers most of the texture at the default radii).
        radius_range: (min, max) disk radius as a fraction of the texture side.
        background: grey level under the disks.
    """
    lo, hi = radius_range
    if not 0 < lo <= hi:
        raise ValueError(
            f"blob_texture: radius_range must satisfy 0 < min <= max, got {radius_range}"
        )
    rng = _rng(seed)
    n = int(size)
    if n < 1:
        raise ValueError(f"texture size must be >= 1, got {size}")
    k = int(count)
    if k < 0:
        raise ValueError(f"blob_texture: count must be >= 0, got {count}")
    tex = np.full((n, n, 3), float(background), dtype=np.float32)
    centres = rng.uniform(0.0, n, size=(k, 2))
    radii = rng.uniform(lo, hi, size=k) * n
    colours = rng.uniform(0.0, 1.0, size=(k, 3)).astype(np.float32)
    for (cx, cy), r, c in zip(centres, radii, colours, strict=True):
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 2, n)
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 2, n)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        inside = (xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2 < r * r
        tex[y0:y1, x0:x1][inside] = c
    return tex


def random_texture(seed: SeedLike, size: int = 128) -> np.ndarray:
    """One of ``TEXTURES`` with random parameters -> (size, size, 3) float32."""
    rng = _rng(seed)
    kind = TEXTURES[int(rng.integers(len(TEXTURES)))]
    if kind == "checker":
        return checker_texture(rng, size)
    if kind == "stripes":
        return stripes_texture(rng, size)
    if kind == "noise":
        return noise_texture(rng, size)
    return gradient_texture(rng, size)


def textured_sphere(
    radius: float = 1.0, *, texture: np.ndarray | None = None, segments: int = 64, rings: int = 32
) -> TexturedMesh:
    """UV sphere around the z axis: u = longitude / 2 pi, v = 1 at the north pole (+z).

    Args:
        radius: sphere radius.
        texture: (Ht, Wt, 3) or None (flat albedo when rendered).
        segments: vertices around each latitude ring (>= 3).
        rings: latitude bands from pole to pole (>= 2).

    Returns:
        A closed mesh with 2 + (rings - 1) segments vertices and 2 segments (rings - 1) faces.
    """
    S, Rn = int(segments), int(rings)
    if S < 3 or Rn < 2 or radius <= 0:
        raise ValueError(
            f"textured_sphere: need segments >= 3, rings >= 2, radius > 0, got {S}, {Rn}, {radius}"
        )
    theta = np.pi * np.arange(1, Rn) / Rn  # polar angle of rings 1 .. Rn-1
    phi = 2.0 * np.pi * np.arange(S) / S
    st, ct = np.sin(theta)[:, None], np.cos(theta)[:, None]
    ring_pts = np.stack(
        [st * np.cos(phi)[None], st * np.sin(phi)[None], np.broadcast_to(ct, (Rn - 1, S))], axis=-1
    ).reshape(-1, 3)
    unit = np.concatenate([[[0.0, 0.0, 1.0]], ring_pts, [[0.0, 0.0, -1.0]]])
    north, south = 0, len(unit) - 1

    def vid(k: np.ndarray, j: np.ndarray) -> np.ndarray:  # ring k in 1..Rn-1
        return 1 + (k - 1) * S + j % S

    j = np.arange(S)
    faces, uvs = [], []
    # Cap triangles: the pole corner sits at the middle of its wedge in u.
    faces.append(
        np.stack(
            [np.full(S, north), vid(np.ones(S, np.int64), j), vid(np.ones(S, np.int64), j + 1)], 1
        )
    )
    uvs.append(
        np.stack(
            [
                np.stack([(j + 0.5) / S, np.ones(S)], 1),
                np.stack([j / S, np.full(S, 1 - 1 / Rn)], 1),
                np.stack([(j + 1) / S, np.full(S, 1 - 1 / Rn)], 1),
            ],
            1,
        )
    )
    if Rn > 2:
        k2, j2 = np.meshgrid(np.arange(1, Rn - 1), j, indexing="ij")
        k, jj = k2.ravel(), j2.ravel()
        a, b, c, d = vid(k, jj), vid(k + 1, jj), vid(k + 1, jj + 1), vid(k, jj + 1)
        ua, ub = jj / S, (jj + 1) / S
        va, vb = 1 - k / Rn, 1 - (k + 1) / Rn
        uv_a, uv_b = np.stack([ua, va], 1), np.stack([ua, vb], 1)
        uv_c, uv_d = np.stack([ub, vb], 1), np.stack([ub, va], 1)
        faces += [np.stack([a, b, c], 1), np.stack([a, c, d], 1)]
        uvs += [np.stack([uv_a, uv_b, uv_c], 1), np.stack([uv_a, uv_c, uv_d], 1)]
    last = np.full(S, Rn - 1)
    faces.append(np.stack([vid(last, j), np.full(S, south), vid(last, j + 1)], 1))
    uvs.append(
        np.stack(
            [
                np.stack([j / S, np.full(S, 1 / Rn)], 1),
                np.stack([(j + 0.5) / S, np.zeros(S)], 1),
                np.stack([(j + 1) / S, np.full(S, 1 / Rn)], 1),
            ],
            1,
        )
    )
    f = np.concatenate(faces)
    return TexturedMesh(
        vertices=unit * radius,
        faces=f,
        uvs=np.concatenate(uvs),
        texture=texture,
        corner_normals=unit[f],
    )


def textured_box(
    size: Sequence[float] | np.ndarray = (1.0, 1.0, 1.0), *, texture: np.ndarray | None = None
) -> TexturedMesh:
    """Axis-aligned box centred at the origin; each face maps the whole texture [0, 1]^2.

    Seen from outside, side faces have v up along +z; the +z / -z faces have v along +y.
    8 shared vertices, 12 faces, flat corner normals.
    """
    half = np.asarray(size, dtype=np.float64) / 2.0
    if half.shape != (3,) or np.any(half <= 0):
        raise ValueError(f"textured_box: size must be three positive lengths, got {size!r}")
    signs = np.array(
        [[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=np.float64
    )
    vertices = signs * half
    eye = np.eye(3)
    faces, uvs, normals = [], [], []
    for axis in range(3):
        for sign in (1.0, -1.0):
            n = sign * eye[axis]
            up = eye[1] if axis == 2 else eye[2]
            right = np.cross(up, n)  # right x up = n: counter-clockwise seen from outside
            corners = [n - right - up, n + right - up, n + right + up, n - right + up]
            idx = [int((c[0] > 0) * 4 + (c[1] > 0) * 2 + (c[2] > 0)) for c in corners]
            faces += [[idx[0], idx[1], idx[2]], [idx[0], idx[2], idx[3]]]
            uvs += [[[0, 0], [1, 0], [1, 1]], [[0, 0], [1, 1], [0, 1]]]
            normals += [[n, n, n], [n, n, n]]
    return TexturedMesh(
        vertices=vertices,
        faces=np.asarray(faces, dtype=np.int64),
        uvs=np.asarray(uvs, dtype=np.float64),
        texture=texture,
        corner_normals=np.asarray(normals),
    )


def textured_cylinder(
    radius: float = 0.5,
    height: float = 1.0,
    *,
    texture: np.ndarray | None = None,
    segments: int = 64,
    caps: bool = True,
) -> TexturedMesh:
    """Cylinder around the z axis from z = -height/2 to +height/2.

    The side maps u = angle / 2 pi, v = 0 at the bottom to 1 at the top; each cap maps
    the disc inscribed in the texture (centre (0.5, 0.5)), unmirrored as seen from
    outside. Without caps it is an open tube.
    """
    S = int(segments)
    if S < 3 or radius <= 0 or height <= 0:
        raise ValueError(
            f"textured_cylinder: need segments >= 3, radius, height > 0, got {S}, {radius}, {height}"
        )
    phi = 2.0 * np.pi * np.arange(S) / S
    cos, sin = np.cos(phi), np.sin(phi)
    z = height / 2.0
    ring = np.stack([radius * cos, radius * sin], 1)
    vertices = np.concatenate(
        [np.c_[ring, np.full(S, -z)], np.c_[ring, np.full(S, z)], [[0.0, 0.0, -z], [0.0, 0.0, z]]]
    )
    bottom, top = np.arange(S), S + np.arange(S)
    nxt = (np.arange(S) + 1) % S
    j = np.arange(S)
    a, b, c, d = bottom, bottom[nxt], top[nxt], top
    faces = [np.stack([a, b, c], 1), np.stack([a, c, d], 1)]
    u0, u1 = j / S, (j + 1) / S
    uv_a, uv_b = np.stack([u0, np.zeros(S)], 1), np.stack([u1, np.zeros(S)], 1)
    uv_c, uv_d = np.stack([u1, np.ones(S)], 1), np.stack([u0, np.ones(S)], 1)
    uvs = [np.stack([uv_a, uv_b, uv_c], 1), np.stack([uv_a, uv_c, uv_d], 1)]
    radial = np.c_[cos, sin, np.zeros(S)]
    normals = [
        np.stack([radial, radial[nxt], radial[nxt]], 1),
        np.stack([radial, radial[nxt], radial], 1),
    ]
    if caps:
        disc = 0.5 + 0.5 * np.stack([cos, sin], 1)
        # Seen from below, +x is on the left: mirror u so the bottom cap is not mirrored.
        disc_bottom = 0.5 + 0.5 * np.stack([-cos, sin], 1)
        centre_uv = np.full((S, 2), 0.5)
        cb, ct = 2 * S, 2 * S + 1
        faces += [
            np.stack([np.full(S, ct), top, top[nxt]], 1),
            np.stack([np.full(S, cb), bottom[nxt], bottom], 1),
        ]
        uvs += [
            np.stack([centre_uv, disc, disc[nxt]], 1),
            np.stack([centre_uv, disc_bottom[nxt], disc_bottom], 1),
        ]
        up = np.broadcast_to([0.0, 0.0, 1.0], (S, 3, 3))
        normals += [up, -up]
    return TexturedMesh(
        vertices=vertices if caps else vertices[: 2 * S],
        faces=np.concatenate(faces),
        uvs=np.concatenate(uvs),
        texture=texture,
        corner_normals=np.concatenate(normals),
    )


def textured_torus(
    major_radius: float = 1.0,
    minor_radius: float = 0.3,
    *,
    texture: np.ndarray | None = None,
    major_segments: int = 64,
    minor_segments: int = 32,
) -> TexturedMesh:
    """Torus around the z axis: u = angle around z / 2 pi, v = angle around the tube / 2 pi."""
    M, N = int(major_segments), int(minor_segments)
    if M < 3 or N < 3 or not 0 < minor_radius < major_radius:
        raise ValueError(
            "textured_torus: need segments >= 3 and 0 < minor_radius < major_radius, "
            f"got {M}, {N}, {minor_radius}, {major_radius}"
        )
    phi = 2.0 * np.pi * np.arange(M) / M
    theta = 2.0 * np.pi * np.arange(N) / N
    P, T = np.meshgrid(phi, theta, indexing="ij")  # (M, N)
    normal = np.stack([np.cos(T) * np.cos(P), np.cos(T) * np.sin(P), np.sin(T)], -1).reshape(-1, 3)
    centre = np.stack([np.cos(P), np.sin(P), np.zeros_like(P)], -1).reshape(-1, 3) * major_radius
    vertices = centre + minor_radius * normal
    i2, j2 = np.meshgrid(np.arange(M), np.arange(N), indexing="ij")
    i, j = i2.ravel(), j2.ravel()

    def vid(ii: np.ndarray, jj: np.ndarray) -> np.ndarray:
        return (ii % M) * N + jj % N

    a, b, c, d = vid(i, j), vid(i + 1, j), vid(i + 1, j + 1), vid(i, j + 1)
    uv_a = np.stack([i / M, j / N], 1)
    uv_b = np.stack([(i + 1) / M, j / N], 1)
    uv_c = np.stack([(i + 1) / M, (j + 1) / N], 1)
    uv_d = np.stack([i / M, (j + 1) / N], 1)
    faces = np.concatenate([np.stack([a, b, c], 1), np.stack([a, c, d], 1)])
    return TexturedMesh(
        vertices=vertices,
        faces=faces,
        uvs=np.concatenate([np.stack([uv_a, uv_b, uv_c], 1), np.stack([uv_a, uv_c, uv_d], 1)]),
        texture=texture,
        corner_normals=normal[faces],
    )


def random_rotation(seed: SeedLike) -> np.ndarray:
    """A uniformly distributed rotation matrix (3, 3) (normalised Gaussian quaternion)."""
    q = _rng(seed).normal(size=4)
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def random_textured_object(
    seed: SeedLike,
    *,
    texture_size: int = 128,
    shapes: Sequence[str] = SHAPES,
    radius_range: tuple[float, float] = (0.6, 1.0),
) -> TexturedMesh:
    """A random primitive with a random texture, stretched, rotated and scaled.

    The shape is drawn from ``shapes``, its proportions and a per-axis stretch in
    [0.7, 1.3] are random, then a uniform random rotation is applied and the mesh is
    scaled so that its farthest vertex from the origin lies at a radius drawn from
    ``radius_range``. Centred at the origin.

    Args:
        seed: int or Generator; the same int gives byte-identical arrays.
        texture_size: texture resolution (square).
        shapes: subset of ``SHAPES`` to choose from.
        radius_range: (min, max) bounding radius.

    Returns:
        A textured mesh (uvs, texture and corner normals set).
    """
    bad = [s for s in shapes if s not in SHAPES]
    if bad or not shapes:
        raise ValueError(
            f"random_textured_object: shapes must be a non-empty subset of {SHAPES}, got {list(shapes)}"
        )
    lo, hi = radius_range
    if not 0 < lo <= hi:
        raise ValueError(
            f"random_textured_object: radius_range must satisfy 0 < min <= max, got {radius_range}"
        )
    rng = _rng(seed)
    shape = shapes[int(rng.integers(len(shapes)))]
    texture = random_texture(rng, texture_size)
    if shape == "sphere":
        mesh = textured_sphere(1.0, texture=texture, segments=64, rings=32)
    elif shape == "box":
        mesh = textured_box(rng.uniform(0.5, 1.5, size=3), texture=texture)
    elif shape == "cylinder":
        mesh = textured_cylinder(
            rng.uniform(0.3, 0.7), rng.uniform(0.6, 1.8), texture=texture, segments=64
        )
    else:
        mesh = textured_torus(
            1.0, rng.uniform(0.2, 0.5), texture=texture, major_segments=64, minor_segments=32
        )
    A = np.diag(rng.uniform(0.7, 1.3, size=3))
    A = random_rotation(rng) @ A
    radius = rng.uniform(lo, hi)
    T = np.eye(4)
    T[:3, :3] = A
    mesh = mesh.transformed(T)
    scale = radius / float(np.linalg.norm(mesh.vertices, axis=1).max())
    T = np.diag([scale, scale, scale, 1.0])
    return mesh.transformed(T)
