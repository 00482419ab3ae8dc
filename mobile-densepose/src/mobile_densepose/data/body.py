"""A synthetic articulated body with DensePose's 24 charts, exact per-pixel I/U/V.

The body is 14 capsules (torso, head, upper/lower arms, hands, upper/lower legs, feet),
one per DensePose coarse part. Each capsule's lateral surface carries one or two charts
(DensePose's fine parts 1..24): a point at angle theta around the capsule axis (measured
from a body-attached reference direction) and at arc length s along it has
V = clamp(s / L, 0, 1) and U = the angle's fraction within its chart (front/back halves,
or left/right halves for the head; hands and feet are one chart each). Rendering is an
orthographic ray cast along +z against the analytic capsules with a z-buffer, so I, U, V
are exact at every pixel centre.

The same parameterisation on a canonical rest pose gives the surface used for DensePose
evaluation: a grid of vertices per chart, with geodesic distances by Dijkstra over the
grid edges (exact arc lengths on the unrolled cylinders) and joint edges between the
ends of adjacent capsules.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra
from scipy.spatial import cKDTree

from mobile_densepose.data.smpl_geodesics import MeshGeodesics

# segment: (coarse part 1..14, proximal joint, distal joint, radius, charts, split)
# charts: (chart for the + half, chart for the - half) or (single chart,)
# split: 'front' (halves by the body's forward direction) or 'side' (left/right)
SEGMENTS: list[tuple[str, int, str, str, float, tuple[int, ...], str]] = [
    ("torso", 1, "pelvis", "neck", 0.15, (2, 1), "front"),
    ("hand_r", 2, "wrist_r", "fingers_r", 0.045, (3,), "front"),
    ("hand_l", 3, "wrist_l", "fingers_l", 0.045, (4,), "front"),
    ("foot_l", 4, "ankle_l", "toes_l", 0.045, (5,), "front"),
    ("foot_r", 5, "ankle_r", "toes_r", 0.045, (6,), "front"),
    ("upper_leg_r", 6, "hip_r", "knee_r", 0.075, (9, 7), "front"),
    ("upper_leg_l", 7, "hip_l", "knee_l", 0.075, (10, 8), "front"),
    ("lower_leg_r", 8, "knee_r", "ankle_r", 0.058, (13, 11), "front"),
    ("lower_leg_l", 9, "knee_l", "ankle_l", 0.058, (14, 12), "front"),
    ("upper_arm_l", 10, "shoulder_l", "elbow_l", 0.05, (15, 17), "front"),
    ("upper_arm_r", 11, "shoulder_r", "elbow_r", 0.05, (16, 18), "front"),
    ("lower_arm_l", 12, "elbow_l", "wrist_l", 0.04, (19, 21), "front"),
    ("lower_arm_r", 13, "elbow_r", "wrist_r", 0.04, (20, 22), "front"),
    ("head", 14, "neck_top", "crown", 0.1, (24, 23), "side"),
]
"""(name, coarse part, proximal joint, distal joint, radius, charts, split)."""

SEGMENT_COLOURS = {
    "torso": "shirt", "upper_arm_l": "shirt", "upper_arm_r": "shirt", "lower_arm_l": "skin",
    "lower_arm_r": "skin", "hand_l": "skin", "hand_r": "skin", "head": "skin",
    "upper_leg_l": "pants", "upper_leg_r": "pants", "lower_leg_l": "pants",
    "lower_leg_r": "pants", "foot_l": "shoes", "foot_r": "shoes",
}  # fmt: skip


@dataclass
class Pose:
    """Joint angles and global placement of one person."""

    yaw: float = 0.0
    """Rotation of the body about the vertical axis (radians; 0 = facing the camera)."""
    shoulder: tuple[float, float] = (0.3, 0.3)
    """Arm abduction from the torso (left, right) in radians."""
    elbow: tuple[float, float] = (0.2, 0.2)
    """Elbow flexion (left, right)."""
    arm_swing: tuple[float, float] = (0.0, 0.0)
    """Arm swing forward/backward (left, right)."""
    hip: tuple[float, float] = (0.1, 0.1)
    """Leg abduction (left, right)."""
    leg_swing: tuple[float, float] = (0.0, 0.0)
    """Leg swing forward/backward (left, right)."""
    knee: tuple[float, float] = (0.0, 0.0)
    """Knee flexion (left, right)."""
    lean: float = 0.0
    """Torso lean sideways (radians)."""


def _rot(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = axis / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def skeleton(pose: Pose) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Joint positions of a posed body (metres, y up, z towards the viewer's back).

    Returns:
        joints: name -> (3,) position (pelvis at the origin);
        forward: (3,) unit forward direction of the body (towards the camera at yaw 0);
        left: (3,) unit direction of the body's left side.
    """
    up = np.array([0.0, 1.0, 0.0])
    r_yaw = _rot(up, pose.yaw)
    forward = r_yaw @ np.array([0.0, 0.0, -1.0])
    left = r_yaw @ np.array([1.0, 0.0, 0.0])
    # Camera looks along +z, image x right: a person facing the camera has their left
    # side on the image's right.
    torso_dir = _rot(forward, pose.lean) @ up
    j: dict[str, np.ndarray] = {"pelvis": np.zeros(3)}
    j["neck"] = j["pelvis"] + 0.5 * torso_dir
    j["neck_top"] = j["neck"] + 0.06 * torso_dir
    j["crown"] = j["neck_top"] + 0.12 * torso_dir
    for side, sign, i in (("l", 1.0, 0), ("r", -1.0, 1)):
        lat = sign * left
        down = -torso_dir
        j[f"shoulder_{side}"] = j["neck"] - 0.04 * torso_dir + 0.19 * lat
        arm = _rot(forward, -sign * pose.shoulder[i]) @ down
        # sagittal bends turn about the body's left axis on both sides (positive = forward
        # swing / elbow flexion / knee flexion), so the two sides are mirror images
        arm = _rot(left, pose.arm_swing[i]) @ arm
        j[f"elbow_{side}"] = j[f"shoulder_{side}"] + 0.29 * arm
        fore = _rot(left, pose.elbow[i]) @ arm
        j[f"wrist_{side}"] = j[f"elbow_{side}"] + 0.26 * fore
        j[f"fingers_{side}"] = j[f"wrist_{side}"] + 0.1 * fore
        j[f"hip_{side}"] = j["pelvis"] + 0.09 * lat
        leg = _rot(forward, -sign * pose.hip[i]) @ (-up)
        leg = _rot(left, pose.leg_swing[i]) @ leg
        j[f"knee_{side}"] = j[f"hip_{side}"] + 0.43 * leg
        shin = _rot(left, -pose.knee[i]) @ leg
        j[f"ankle_{side}"] = j[f"knee_{side}"] + 0.42 * shin
        j[f"toes_{side}"] = j[f"ankle_{side}"] + 0.14 * forward - 0.03 * up
    return j, forward, left


@dataclass
class Capsule:
    """One posed segment."""

    a: np.ndarray
    """(3,) proximal end."""
    b: np.ndarray
    """(3,) distal end."""
    radius: float
    """Radius."""
    e1: np.ndarray
    """(3,) unit reference direction perpendicular to the axis (theta = 0)."""
    coarse: int
    """Coarse part 1..14."""
    charts: tuple[int, ...]
    """Fine charts (one or two)."""
    colour: str
    """Material name (shirt/pants/skin/shoes)."""


def capsules(pose: Pose) -> list[Capsule]:
    """The 14 posed capsules of a body."""
    joints, forward, left = skeleton(pose)
    out = []
    for name, coarse, pa, pb, radius, charts, split in SEGMENTS:
        a, b = joints[pa], joints[pb]
        k = (b - a) / np.linalg.norm(b - a)
        ref = forward if split == "front" else left
        e1 = ref - (ref @ k) * k
        if np.linalg.norm(e1) < 1e-6:  # axis along the reference: any perpendicular
            e1 = np.cross(k, np.array([0.0, 1.0, 0.0]))
        out.append(
            Capsule(a, b, radius, e1 / np.linalg.norm(e1), coarse, charts, SEGMENT_COLOURS[name])
        )
    return out


def chart_uv(
    theta: np.ndarray, v: np.ndarray, charts: tuple[int, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Angle theta in (-pi, pi] around the axis -> (chart index I, U) for a segment.

    Two charts: theta in (-pi/2, pi/2] is the first chart with U = (theta + pi/2) / pi,
    the rest the second with U = (wrap(theta - pi) + pi/2) / pi. One chart: U = (theta + pi) / (2 pi).
    """
    if len(charts) == 1:
        return np.full(theta.shape, charts[0], dtype=np.int64), chart_u(theta, charts[0], charts)
    first = (theta > -np.pi / 2) & (theta <= np.pi / 2)
    u = np.where(first, chart_u(theta, charts[0], charts), chart_u(theta, charts[1], charts))
    parts = np.where(first, charts[0], charts[1]).astype(np.int64)
    return parts, u


def chart_u(theta: np.ndarray, chart: int, charts: tuple[int, ...]) -> np.ndarray:
    """U of angle theta read in one given chart of a segment, clipped to [0, 1].

    One chart spans the whole turn from -pi; of two charts, the first is centred on
    theta = 0 and the second on pi, each half a turn wide.
    """
    if len(charts) == 1:
        return np.clip((np.angle(np.exp(1j * theta)) + np.pi) / (2 * np.pi), 0.0, 1.0)
    centre = 0.0 if chart == charts[0] else np.pi
    return np.clip((np.angle(np.exp(1j * (theta - centre))) + np.pi / 2) / np.pi, 0.0, 1.0)


def chart_to_theta(parts: np.ndarray, u: np.ndarray, charts: tuple[int, ...]) -> np.ndarray:
    """Inverse of :func:`chart_uv`: (I, U) on a segment -> theta."""
    if len(charts) == 1:
        return u * 2 * np.pi - np.pi
    theta = u * np.pi - np.pi / 2
    return np.where(parts == charts[0], theta, np.angle(np.exp(1j * (theta + np.pi))))


@dataclass
class Raster:
    """Per-pixel rendering of one or more bodies."""

    depth: np.ndarray
    """(H, W) z of the visible surface (inf = background)."""
    instance: np.ndarray
    """(H, W) int64 person index (-1 = background)."""
    coarse: np.ndarray
    """(H, W) int64 coarse part 0..14."""
    parts: np.ndarray
    """(H, W) int64 fine chart I 0..24."""
    u: np.ndarray
    """(H, W) U in [0, 1]."""
    v: np.ndarray
    """(H, W) V in [0, 1]."""
    normal: np.ndarray
    """(H, W, 3) unit surface normal."""
    colour: np.ndarray
    """(H, W) int64 material index (-1 = background)."""


MATERIALS = ("shirt", "pants", "skin", "shoes")


def raster_capsules(
    bodies: list[list[Capsule]],
    height: int,
    width: int,
    scales: list[float],
    offsets: list[np.ndarray],
) -> Raster:
    """Orthographic ray cast of posed bodies at pixel centres.

    Args:
        bodies: capsules of each person (body frame, metres, y up).
        height, width: image size.
        scales: per person pixels per metre.
        offsets: per person (x, y, z): image position of the pelvis in pixels and a depth
            offset in metres (larger = further away).
    """
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    shape = (height, width)
    r = Raster(
        np.full(shape, np.inf), np.full(shape, -1, np.int64), np.zeros(shape, np.int64),
        np.zeros(shape, np.int64), np.zeros(shape), np.zeros(shape), np.zeros((*shape, 3)),
        np.full(shape, -1, np.int64),
    )  # fmt: skip
    for person, (caps, scale, off) in enumerate(zip(bodies, scales, offsets)):
        # body frame (metres, y up) -> ray origin in the body frame for each pixel
        ox = (xs - off[0]) / scale
        oy = -(ys - off[1]) / scale
        for cap in caps:
            _hit_capsule(cap, ox, oy, float(off[2]), person, r)
    return r


def _hit_capsule(
    cap: Capsule, ox: np.ndarray, oy: np.ndarray, z_offset: float, person: int, r: Raster
) -> None:
    axis = cap.b - cap.a
    length = float(np.linalg.norm(axis))
    k = axis / length
    # ray p(t) = (ox, oy, t), direction d = (0, 0, 1); closest point of the segment
    # to the ray parameterised as a capsule: solve for the surface with the smallest z.
    m = np.stack([ox - cap.a[0], oy - cap.a[1], -cap.a[2] * np.ones_like(ox)], axis=-1)
    d = np.array([0.0, 0.0, 1.0])
    dk = d @ k
    d_perp = d - dk * k
    mk = m @ k
    m_perp = m - mk[..., None] * k
    best_t = np.full(ox.shape, np.inf)
    # cylinder body
    qa = d_perp @ d_perp
    if qa > 1e-12:
        qb = 2 * (m_perp @ d_perp)
        qc = np.einsum("...i,...i->...", m_perp, m_perp) - cap.radius**2
        disc = qb**2 - 4 * qa * qc
        ok = disc >= 0
        t = (-qb - np.sqrt(np.where(ok, disc, 0))) / (2 * qa)
        s = mk + t * dk
        ok &= (s >= 0) & (s <= length)
        best_t = np.where(ok, t, best_t)
    # end caps (spheres)
    for centre in (cap.a, cap.b):
        c = np.stack([ox - centre[0], oy - centre[1], -centre[2] * np.ones_like(ox)], axis=-1)
        qb = 2 * c[..., 2]
        qc = np.einsum("...i,...i->...", c, c) - cap.radius**2
        disc = qb**2 - 4 * qc
        ok = disc >= 0
        t = (-qb - np.sqrt(np.where(ok, disc, 0))) / 2
        best_t = np.where(ok & (t < best_t), t, best_t)
    # z in the body frame: the ray starts at z = 0 of the body frame, z grows away from camera
    visible = np.isfinite(best_t) & (best_t + z_offset < r.depth)
    if not visible.any():
        return
    t = best_t[visible]
    p = np.stack([ox[visible], oy[visible], t], axis=-1)
    theta, s, radial = capsule_coordinates(cap, p)
    normal = radial / np.maximum(np.linalg.norm(radial, axis=-1, keepdims=True), 1e-9)
    parts, u = chart_uv(theta, np.clip(s / length, 0, 1), cap.charts)
    r.depth[visible] = t + z_offset
    r.instance[visible] = person
    r.coarse[visible] = cap.coarse
    r.parts[visible] = parts
    r.u[visible] = u
    r.v[visible] = np.clip(s / length, 0, 1)
    r.normal[visible] = normal
    r.colour[visible] = MATERIALS.index(cap.colour)


@dataclass
class BodySurface:
    """Vertices of a body surface with chart coordinates and geodesic distances."""

    parts: np.ndarray
    """(N,) int64 chart I (1..24) of each vertex."""
    uv: np.ndarray
    """(N, 2) float (U, V) of each vertex."""
    geodesic: np.ndarray | MeshGeodesics
    """(N, N) float32 geodesic distances (same units as kappa), or, for large meshes such
    as SMPL, a lower-triangle table over mesh vertices (:class:`MeshGeodesics`)."""

    def save(self, path: str) -> None:
        """Write an npz with parts, uv and geodesic, or, for :class:`MeshGeodesics`, parts,
        uv, vertex_map and ``geodesic_file`` (the table's ``.npy``, relative to the npz)."""
        if not isinstance(self.geodesic, MeshGeodesics):
            np.savez_compressed(path, parts=self.parts, uv=self.uv, geodesic=self.geodesic)
            return
        table = getattr(self.geodesic.condensed, "filename", None)
        if table is None:
            table = str(Path(path).with_suffix("")) + "_geodesics.npy"
            np.save(table, self.geodesic.condensed)
        rel = os.path.relpath(table, Path(path).resolve().parent)
        np.savez_compressed(
            path,
            parts=self.parts,
            uv=self.uv,
            vertex_map=self.geodesic.vertex_map,
            geodesic_file=np.array(rel),
        )

    @staticmethod
    def load(path: str) -> BodySurface:
        """Read an npz written by :meth:`save`; a missing field names the file and the field.

        A mesh table is opened memory-mapped (the SMPL one is 1.5 GB)."""
        with np.load(path) as data:
            keys = ("parts", "uv", "geodesic") if "vertex_map" not in data else ("parts", "uv")
            for key in keys:
                if key not in data:
                    raise KeyError(
                        f"{path}: missing field {key!r} (expected parts, uv and geodesic, "
                        "or parts, uv, vertex_map and geodesic_file)"
                    )
            parts, uv = data["parts"].astype(np.int64), data["uv"].astype(np.float64)
            if "vertex_map" in data:
                if "geodesic_file" not in data:
                    raise KeyError(f"{path}: missing field 'geodesic_file' (next to vertex_map)")
                table = Path(path).resolve().parent / str(data["geodesic_file"])
                if not table.is_file():
                    raise FileNotFoundError(f"{path}: geodesic_file {table} does not exist")
                mesh = MeshGeodesics(
                    data["vertex_map"].astype(np.int64), np.load(table, mmap_mode="r")
                )
                geodesic: np.ndarray | MeshGeodesics = mesh
            else:
                geodesic = data["geodesic"].astype(np.float32)
        surf = BodySurface(parts, uv, geodesic)
        n = parts.shape[0]
        if isinstance(geodesic, MeshGeodesics):
            if geodesic.vertex_map.shape != (n,):
                raise ValueError(f"{path}: vertex_map {geodesic.vertex_map.shape}, expected ({n},)")
            if (
                geodesic.vertex_map.min() < 0
                or geodesic.vertex_map.max() >= geodesic.num_mesh_vertices
            ):
                raise ValueError(
                    f"{path}: vertex_map leaves 0..{geodesic.num_mesh_vertices - 1}, the mesh of "
                    "its geodesic_file"
                )
            shape_ok = surf.uv.shape == (n, 2)
            geo_shape = geodesic.condensed.shape
        else:
            shape_ok = surf.uv.shape == (n, 2) and geodesic.shape == (n, n)
            geo_shape = geodesic.shape
        if not shape_ok:
            raise ValueError(
                f"{path}: field shapes disagree: parts {parts.shape}, uv {uv.shape}, geodesic {geo_shape}"
            )
        return surf


def rest_pose() -> Pose:
    """The canonical pose whose surface defines geodesic distances (arms and legs slightly apart)."""
    return Pose(yaw=0.0, shoulder=(0.35, 0.35), elbow=(0.0, 0.0), hip=(0.08, 0.08))


def synthetic_body_surface(grid: int = 8, body_scale: float = 1.0) -> BodySurface:
    """Vertices on a grid x grid lattice of every chart of the rest-pose body, Dijkstra geodesics.

    Distances are in metres (times ``body_scale``): the synthetic body is 1.75 m tall like
    SMPL, so DensePose's kappa = 0.255 keeps its meaning.
    """
    caps = capsules(rest_pose())
    points, parts, uvs, seg_of = [], [], [], []
    for si, cap in enumerate(caps):
        for chart in cap.charts:
            g = (np.arange(grid) + 0.5) / grid
            grid_u, grid_v = np.meshgrid(g, g, indexing="ij")
            uu, vv = grid_u.ravel(), grid_v.ravel()
            theta = chart_to_theta(np.full(uu.shape, chart), uu, cap.charts)
            points.append(surface_point(cap, theta, vv))
            parts.append(np.full(uu.shape, chart))
            uvs.append(np.stack([uu, vv], axis=1))
            seg_of.append(np.full(uu.shape, si))
    pts = np.concatenate(points)
    seg = np.concatenate(seg_of)
    n = pts.shape[0]
    # edges: pairs on one segment closer than ~2 lattice steps (a short chord ~ the
    # geodesic) and pairs across segments within 1.5 radii (joints); candidate pairs
    # come from a k-d tree, so memory stays O(edges).
    radius = np.array([caps[s].radius for s in seg])
    lengths = np.array([np.linalg.norm(caps[s].b - caps[s].a) for s in seg])
    step = np.maximum(2 * np.pi * radius / (2 * grid), lengths / grid)
    reach = max(2.1 * step.max(), 1.5 * radius.max())
    pairs = cKDTree(pts).query_pairs(reach, output_type="ndarray")
    ii, jj = pairs[:, 0], pairs[:, 1]
    d = np.linalg.norm(pts[ii] - pts[jj], axis=1)
    same = seg[ii] == seg[jj]
    keep = np.where(
        same,
        d <= 2.1 * np.maximum(step[ii], step[jj]),
        d <= 1.5 * np.maximum(radius[ii], radius[jj]),
    )
    ii, jj, d = ii[keep], jj[keep], d[keep]
    graph = coo_matrix((d, (ii, jj)), shape=(n, n)).tocsr()
    geo = dijkstra(graph, directed=False)
    geo[~np.isfinite(geo)] = geo[np.isfinite(geo)].max()
    return BodySurface(
        np.concatenate(parts).astype(np.int64),
        np.concatenate(uvs),
        (geo * body_scale).astype(np.float32),
    )


def capsule_coordinates(
    cap: Capsule, points: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points (..., 3) -> angle theta around the axis (from ``e1``, right-handed about a -> b),
    arc length s along it, and the radial offset (..., 3) from the axis (s clipped to the
    segment, so cap points get their sphere's radial direction)."""
    axis = cap.b - cap.a
    length = float(np.linalg.norm(axis))
    k = axis / length
    e2 = np.cross(k, cap.e1)
    rel = points - cap.a
    s = rel @ k
    radial = rel - np.clip(s, 0, length)[..., None] * k
    return np.arctan2(radial @ e2, radial @ cap.e1), s, radial


def surface_point(cap: Capsule, theta: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Points (..., 3) on a capsule's lateral surface at angle theta and axis fraction v."""
    axis = cap.b - cap.a
    k = axis / np.linalg.norm(axis)
    e2 = np.cross(k, cap.e1)
    radial = np.cos(theta)[..., None] * cap.e1 + np.sin(theta)[..., None] * e2
    return cap.a + v[..., None] * axis + cap.radius * radial
