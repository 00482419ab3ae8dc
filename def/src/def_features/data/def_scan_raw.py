"""DEF-Scan raw views (the authors' ``ViewIO`` layout) and their annotation.

Before annotation the authors store each item's real scans as HDF5 files in their
``ViewIO`` layout (h5py, lzf), one row per scan, ``item_id`` giving the row count:

====================  ==================  ===============================================
field                 shape / dtype       meaning
====================  ==================  ===============================================
points                (N,) vlen f64       the scan's points, flattened (P * 3), in the
                                          scanner's calibration-board frame
faces                 (N,) vlen i32       its range-surface triangles, flattened (T * 3)
points_alignment      (N,4,4) f64         board frame -> the frame of the aligned CAD mesh
extrinsics            (N,4,4) f64         camera_to_world of the scanner camera (world =
                                          the board frame, i.e. before alignment)
intrinsics            (N,2,3,3) f64       focal matrix F and sensor matrix S
obj_alignment         (N,4,4) f64         CAD mesh (after ``obj_scale``) -> aligned frame
obj_scale             (N,) f64            scale of the CAD mesh (OBJ units -> mm)
item_id               (N,) ascii          the printed CAD item
====================  ==================  ===============================================

The annotation (our version of the authors' ``prepare_real_images_dataset.py`` in its
full-mesh mode) turns each scan into a depth view labelled like the synthetic data:

1. the CAD mesh and its sharp curves are scaled by ``obj_scale`` and moved by
   ``obj_alignment``; the scan's points are moved by ``points_alignment``;
2. points farther than ``max_point_mesh_distance`` from the mesh are dropped (badly
   aligned or spurious returns);
3. each remaining aligned point gets its distance to the nearest sharp curve, truncated
   at ``truncation``, and the unit direction to it (zero where truncated), through the
   same code as the synthetic targets (:func:`~def_features.data.patches.distance_targets`,
   i.e. the point-to-segment kernel);
4. the *unaligned* points are projected through the view's own camera: camera frame
   ``c = extrinsics^-1 p``, image plane ``(u, v) = (F c)_xy / c_z``, pixel
   ``(col, row) = round(S (u, v, 1))``; the image is ``W = 2 S[0,2]`` by ``H = 2 S[1,2]``
   pixels, and (as in the authors' pixelizer) a point is kept when ``0 < col < W`` and
   ``0 < row < H``, so row and column 0 stay empty; per pixel the point closest to the
   camera wins (z-buffer), giving depth ``(F c)_z`` and its distance and direction;
   pixels without a point get depth, distance and direction 0.

The result is written in the authors' ``AnnotatedViewIO`` layout, which
:func:`def_features.data.def_scan.read_scan_views` (``def convert-scans``) reads.
Differences from the authors' code: distances are to all sharp curves of the item
(their surface-based annotator only considers the curves adjacent to the surface patch
of the point's nearest face, which matters for thin walls), sampled from the curves'
parametric form every ``curve_spacing`` (theirs: the mesh edges along each curve's
``vert_indices``, i.e. the tessellation's chords); ``has_sharp`` marks a view
with a pixel closer than ``truncation`` to a curve (theirs, in full-mesh mode, says
that the item has a sharp curve at all); points behind the camera are ignored; the
counts are stored as int8 saturated at 127 (theirs would wrap).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from scipy.spatial import cKDTree

from def_features.data.abc import read_abc_features, read_abc_meshes
from def_features.data.def_scan import ScanFormatError, read_fields
from def_features.data.patches import distance_targets
from def_features.geometry.curves import Curve, curves_to_segments
from shared_utils.io.atomic import atomic_path
from shared_utils.io.hdf5 import FieldSpec

RAW_FIELDS: dict[str, FieldSpec] = {
    "points": FieldSpec((None,)),
    "faces": FieldSpec((None,)),
    "points_alignment": FieldSpec((None, 4, 4), "float"),
    "extrinsics": FieldSpec((None, 4, 4), "float"),
    "intrinsics": FieldSpec((None, 2, 3, 3), "float"),
    "obj_alignment": FieldSpec((None, 4, 4), "float"),
    "obj_scale": FieldSpec((None,), "float"),
    "item_id": FieldSpec((None,)),
}
"""The ``ViewIO`` fields and their shapes (N views)."""


class RawScanFormatError(ScanFormatError):
    """A malformed raw DEF-Scan (``ViewIO``) file; names the file and the field."""


@dataclass(frozen=True)
class RawView:
    """One raw real scan (a ``ViewIO`` row)."""

    points: np.ndarray
    """(P, 3) float64 scanned points in the scanner's board frame."""
    faces: np.ndarray
    """(T, 3) int32 range-surface triangles (indices into ``points``)."""
    points_alignment: np.ndarray
    """(4, 4) board frame -> aligned (CAD) frame."""
    extrinsics: np.ndarray
    """(4, 4) camera_to_world of the scanner camera, world = the board frame."""
    intrinsics: np.ndarray
    """(2, 3, 3) focal matrix F and sensor matrix S (pixels = S @ (F c / c_z))."""
    obj_alignment: np.ndarray
    """(4, 4) scaled CAD mesh -> aligned frame."""
    obj_scale: float
    """Scale of the CAD mesh (OBJ units -> scan units, mm)."""
    item_id: str
    """The printed CAD item."""

    @property
    def image_size(self) -> tuple[int, int]:
        """(H, W) of the view's image: twice the sensor matrix's principal point."""
        s = self.intrinsics[1]
        return int(2 * s[1, 2]), int(2 * s[0, 2])


def _fail(path: Path, field: str, what: str) -> RawScanFormatError:
    return RawScanFormatError(f"{path}: field {field!r} {what}")


def _check_transforms(path: Path, field: str, mats: np.ndarray) -> None:
    """(N, 4, 4) finite affine transforms with an invertible linear part."""
    if not np.isfinite(mats).all():
        raise _fail(path, field, "has non-finite values")
    bottom = np.broadcast_to(np.array([0.0, 0.0, 0.0, 1.0]), mats[:, 3].shape)
    if not np.allclose(mats[:, 3], bottom, atol=1e-9):
        raise _fail(path, field, "must be affine 4x4 matrices (last row 0 0 0 1)")
    dets = np.abs(np.linalg.det(mats[:, :3, :3]))
    if (dets < 1e-12).any():
        k = int(np.argmin(dets))
        raise _fail(path, field, f"of view {k} is singular")


def read_raw_views(path: str | Path) -> list[RawView]:
    """Read every scan of a raw DEF-Scan (``ViewIO``) HDF5 file.

    Checks that every field is present with its shape, that all fields hold the same
    number of views, that the points and faces are whole triples, the faces index the
    points, and the matrices and scales are finite (transforms affine and invertible).

    Raises:
        RawScanFormatError: naming the file and the field.
    """
    path = Path(path)
    data = read_fields(path, RAW_FIELDS, RawScanFormatError)
    n = len(data["item_id"])
    for key in RAW_FIELDS:
        if len(data[key]) != n:
            raise _fail(path, key, f"has {len(data[key])} views but 'item_id' has {n}")
    for key in ("points_alignment", "extrinsics", "obj_alignment"):
        _check_transforms(path, key, np.asarray(data[key], np.float64))
    intr = np.asarray(data["intrinsics"], np.float64)
    if not np.isfinite(intr).all():
        raise _fail(path, "intrinsics", "has non-finite values")
    if (intr[:, 1, 0, 2] < 0.5).any() or (intr[:, 1, 1, 2] < 0.5).any():
        raise _fail(path, "intrinsics", "sensor matrix S must have a positive image size")
    scale = np.asarray(data["obj_scale"], np.float64)
    if not (np.isfinite(scale).all() and (scale > 0).all()):
        raise _fail(path, "obj_scale", "must be finite and positive")
    views = []
    for i in range(n):
        pts = np.asarray(data["points"][i], np.float64)
        if pts.ndim != 1 or len(pts) % 3:
            raise _fail(path, "points", f"of view {i} has {pts.size} values, not (x, y, z) triples")
        if not np.isfinite(pts).all():
            raise _fail(path, "points", f"of view {i} has non-finite values")
        faces = np.asarray(data["faces"][i])
        if faces.ndim != 1 or len(faces) % 3 or faces.dtype.kind not in "iu":
            raise _fail(path, "faces", f"of view {i} must be integer triples, got {faces.size}")
        if len(faces) and (faces.min() < 0 or faces.max() >= len(pts) // 3):
            raise _fail(path, "faces", f"of view {i} indexes outside its {len(pts) // 3} points")
        item = data["item_id"][i]
        views.append(
            RawView(
                points=pts.reshape(-1, 3),
                faces=faces.astype(np.int32).reshape(-1, 3),
                points_alignment=np.asarray(data["points_alignment"][i], np.float64),
                extrinsics=np.asarray(data["extrinsics"][i], np.float64),
                intrinsics=intr[i],
                obj_alignment=np.asarray(data["obj_alignment"][i], np.float64),
                obj_scale=float(scale[i]),
                item_id=item.decode() if isinstance(item, bytes) else str(item),
            )
        )
    return views


@dataclass(frozen=True)
class CadItem:
    """The CAD model of a scanned item, in its OBJ frame (the features' units)."""

    vertices: np.ndarray
    """(V, 3) mesh vertices."""
    faces: np.ndarray
    """(F, 3) triangles."""
    sharp_curves: Sequence[Curve | np.ndarray]
    """Its sharp curves: parametric curves or (K, 3) polylines."""
    num_surfaces: int = 0
    """Surfaces of its B-rep (stored per view; 0 when unknown)."""


def read_cad_item(
    meshes: Sequence[str | Path], features: str | Path, mesh_scale: float = 1.0
) -> CadItem:
    """An ABC-format item: mesh file(s) and the features ``.yml`` (only sharp curves kept).

    ``mesh_scale`` brings the mesh to the features' units (1000 for ABC STL parts).
    """
    feats = read_abc_features(features)
    verts, faces = read_abc_meshes([Path(m) for m in meshes], scale=mesh_scale)
    return CadItem(verts, faces, feats.sharp_curves, feats.num_surfaces)


@dataclass(frozen=True)
class AnnotatedView:
    """One annotated depth view (an ``AnnotatedViewIO`` row) plus bookkeeping."""

    raw: RawView
    """The scan it was made from (its camera, alignments, faces, id)."""
    depth: np.ndarray
    """(H, W) camera depth of the closest point per pixel, 0 where none."""
    distances: np.ndarray
    """(H, W) truncated distance of that point to the nearest sharp curve (0 where none)."""
    directions: np.ndarray
    """(H, W, 3) unit direction to that curve point in the aligned frame (0 where
    truncated or empty)."""
    has_sharp: bool
    """Some pixel is closer than the truncation to a sharp curve."""
    num_sharp_curves: int
    """Sharp curves of the item."""
    num_surfaces: int
    """Surfaces of the item."""
    smell_discontinuities: bool
    """The authors' data smell: some point and its nearest neighbour differ in distance
    by more than 1.1 times their spacing (the field is not 1-Lipschitz there)."""
    aligned_points: int
    """How many of the scan's points lay within ``max_point_mesh_distance`` of the mesh."""


def transform(mat: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(4, 4) affine transform of (P, 3) points."""
    return points @ mat[:3, :3].T + mat[:3, 3]


def project_to_pixels(
    points: np.ndarray, extrinsics: np.ndarray, intrinsics: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The authors' pixelization of world points (P, 3) into a view.

    Returns:
        rows (P,), cols (P,) int64 pixel indices, depth (P,) camera depth, and keep (P,)
        bool: in front of the camera and inside ``0 < col < W``, ``0 < row < H``.
    """
    cam = transform(np.linalg.inv(extrinsics), points)
    F, S = intrinsics[0], intrinsics[1]
    img = cam @ F.T
    z = cam[:, 2]
    front = z > 0
    safe_z = np.where(front, z, 1.0)
    uv1 = np.stack([img[:, 0] / safe_z, img[:, 1] / safe_z, np.ones_like(z)], axis=1)
    pix = uv1 @ S.T
    cols = np.round(pix[:, 0]).astype(np.int64)
    rows = np.round(pix[:, 1]).astype(np.int64)
    h, w = int(2 * S[1, 2]), int(2 * S[0, 2])
    keep = front & (cols > 0) & (cols < w) & (rows > 0) & (rows < h)
    return rows, cols, img[:, 2], keep


def rasterize(
    points: np.ndarray, signal: np.ndarray, extrinsics: np.ndarray, intrinsics: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Z-buffered image of world points (P, 3) with per-point signal (P, C).

    Returns:
        depth (H, W) (0 where no point) and signal (H, W, C) (0 where no point); per
        pixel the point of smallest depth wins (the first one on ties).
    """
    S = intrinsics[1]
    h, w = int(2 * S[1, 2]), int(2 * S[0, 2])
    rows, cols, depth, keep = project_to_pixels(points, extrinsics, intrinsics)
    flat = (rows * w + cols)[keep]
    d, sig = depth[keep], signal[keep]
    order = np.lexsort((d, flat))  # by pixel, then depth; stable on ties
    first = np.ones(len(order), bool)
    first[1:] = flat[order][1:] != flat[order][:-1]
    win = order[first]
    depth_img = np.zeros(h * w)
    sig_img = np.zeros((h * w, signal.shape[1]))
    depth_img[flat[win]] = d[win]
    sig_img[flat[win]] = sig[win]
    return depth_img.reshape(h, w), sig_img.reshape(h, w, -1)


def curve_distances(
    points: np.ndarray, seg_a: np.ndarray, seg_b: np.ndarray, truncation: float, cell: float
) -> tuple[np.ndarray, np.ndarray]:
    """Truncated distance (P,) and direction (P, 3) of points to segments, zero direction
    where truncated.

    Points are grouped into cubes of side ``cell`` so that each group is compared only
    with the segments near it (a whole scan against every curve sample would need
    P x M temporaries).
    """
    dist = np.full(len(points), truncation)
    direc = np.zeros((len(points), 3))
    if len(points) == 0:
        return dist, direc
    keys = np.floor(points / cell).astype(np.int64)
    _, group = np.unique(keys, axis=0, return_inverse=True)
    order = np.argsort(group.ravel(), kind="stable")
    bounds = np.flatnonzero(np.diff(group.ravel()[order])) + 1
    far = np.zeros(len(points), bool)
    for idx in np.split(order, bounds):
        d, v = distance_targets(
            points[idx][:, None, :], np.ones((len(idx), 1), bool), seg_a, seg_b, truncation
        )
        # The targets come back in float32: compare with the float32 truncation, so that
        # truncated points are recognised whichever way the truncation rounds.
        far[idx] = d[:, 0] >= np.float32(truncation)
        dist[idx], direc[idx] = d[:, 0], v[:, 0]
    dist[far] = truncation
    direc[far] = 0.0
    return dist, direc


class MeshDistance:
    """Unsigned distance from points to one triangle mesh (open3d, float32; the filter it
    serves has a 1 mm threshold). Built once, queried per scan."""

    def __init__(self, vertices: np.ndarray, faces: np.ndarray) -> None:
        from shared_utils.o3d import open3d

        self._o3d = open3d()
        self._scene = self._o3d.t.geometry.RaycastingScene()
        self._scene.add_triangles(
            self._o3d.core.Tensor(vertices.astype(np.float32)),
            self._o3d.core.Tensor(faces.astype(np.uint32)),
        )

    def __call__(self, points: np.ndarray) -> np.ndarray:
        """(P, 3) points -> (P,) distances."""
        query = self._o3d.core.Tensor(points.astype(np.float32).reshape(-1, 3))
        return self._scene.compute_distance(query).numpy()


def smells_discontinuous(points: np.ndarray, distances: np.ndarray) -> bool:
    """The authors' check: a nearest-neighbour pair whose distances differ by more than
    1.1 times their spacing."""
    if len(points) < 2:
        return False
    nn_d, nn_i = cKDTree(points).query(points, k=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.abs(distances[nn_i[:, 0]] - distances[nn_i[:, 1]]) / nn_d[:, 1]
    return bool(np.any(ratio > 1.1))


def annotate_views(
    views: Sequence[RawView],
    item: CadItem,
    *,
    truncation: float = 1.0,
    max_point_mesh_distance: float = 1.0,
    curve_spacing: float = 0.05,
) -> list[AnnotatedView]:
    """Annotate raw scans against their CAD item (see the module docstring).

    Args:
        views: scans of one item (a ``ViewIO`` file); all must share one image size.
        item: the CAD mesh and sharp curves in the OBJ frame.
        truncation: distances above it are clamped (the authors: 1 mm).
        max_point_mesh_distance: scan points farther from the aligned mesh are dropped.
        curve_spacing: sampling step of parametric curves, in scan units (after
            ``obj_scale``); polylines are used as they are.

    Returns:
        one :class:`AnnotatedView` per scan.
    """
    if not views:
        raise ValueError("annotate_views: no views")
    for name, value in (
        ("truncation", truncation),
        ("max_point_mesh_distance", max_point_mesh_distance),
        ("curve_spacing", curve_spacing),
    ):
        if not value > 0:
            raise ValueError(f"annotate_views: {name} must be > 0, got {value}")
    sizes = {v.image_size for v in views}
    if len(sizes) != 1:
        raise ValueError(f"annotate_views: the views have different image sizes {sorted(sizes)}")
    out = []
    cache: dict[bytes, tuple[MeshDistance, np.ndarray, np.ndarray]] = {}
    for view in views:
        # The CAD model in the aligned frame, once per distinct (scale, alignment): the
        # authors' files repeat one per item on every row.
        key = np.append(view.obj_alignment.ravel(), view.obj_scale).tobytes()
        if key not in cache:
            s, A = view.obj_scale, view.obj_alignment
            a, b = curves_to_segments(item.sharp_curves, curve_spacing / s)
            mesh = MeshDistance(transform(A, s * item.vertices), item.faces)
            cache[key] = (mesh, transform(A, s * a), transform(A, s * b))
        mesh_distance, seg_a, seg_b = cache[key]
        aligned = transform(view.points_alignment, view.points)
        near = mesh_distance(aligned) < max_point_mesh_distance
        dist, direc = curve_distances(
            aligned[near], seg_a, seg_b, truncation, cell=max(8.0 * truncation, 1e-6)
        )
        signal = np.concatenate([dist[:, None], direc], axis=1)
        depth, sig = rasterize(view.points[near], signal, view.extrinsics, view.intrinsics)
        surface = depth > 0
        out.append(
            AnnotatedView(
                raw=view,
                depth=depth,
                distances=sig[..., 0],
                directions=sig[..., 1:],
                has_sharp=bool((sig[..., 0][surface] < truncation).any()),
                num_sharp_curves=len(item.sharp_curves),
                num_surfaces=item.num_surfaces,
                smell_discontinuities=smells_discontinuous(aligned[near], dist),
                aligned_points=int(near.sum()),
            )
        )
    return out


def _vlen(f: h5py.File, name: str, rows: list[np.ndarray]) -> None:
    dset = f.create_dataset(
        name, shape=(len(rows),), dtype=h5py.vlen_dtype(np.int32), compression="lzf"
    )
    for i, row in enumerate(rows):
        dset[i] = np.asarray(row, np.int32).ravel()


def _write_frames(f: h5py.File, raws: Sequence[RawView]) -> None:
    """The per-scan transforms, cameras and item ids shared by both layouts."""
    fixed = {
        "points_alignment": np.stack([r.points_alignment for r in raws]),
        "extrinsics": np.stack([r.extrinsics for r in raws]),
        "intrinsics": np.stack([r.intrinsics for r in raws]),
        "obj_alignment": np.stack([r.obj_alignment for r in raws]),
        "obj_scale": np.array([r.obj_scale for r in raws]),
    }
    for name, arr in fixed.items():
        f.create_dataset(name, data=np.asarray(arr, np.float64), compression="lzf")
    f.create_dataset(
        "item_id",
        data=np.array([r.item_id.encode("ascii") for r in raws]),
        dtype=h5py.string_dtype(encoding="ascii"),
        compression="lzf",
    )


def write_annotated_views(
    path: str | Path, views: Sequence[AnnotatedView], n_vertices: int, n_faces: int
) -> None:
    """Write annotated views in the authors' ``AnnotatedViewIO`` layout (lzf, vlen int32
    faces and mesh indices, ascii ids), atomically.

    ``n_vertices``/``n_faces`` of the CAD mesh fill ``orig_vert_indices`` and
    ``orig_face_indexes`` as in the authors' full-mesh mode (every vertex and face).
    """
    raws = [v.raw for v in views]
    fixed = {
        "points": np.stack([v.depth for v in views]),
        "distances": np.stack([v.distances for v in views]),
        "directions": np.stack([v.directions for v in views]),
    }
    with atomic_path(Path(path)) as tmp, h5py.File(tmp, "w") as f:
        _write_frames(f, raws)
        for name, arr in fixed.items():
            f.create_dataset(name, data=np.asarray(arr, np.float64), compression="lzf")
        _vlen(f, "faces", [r.faces for r in raws])
        _vlen(f, "orig_vert_indices", [np.arange(n_vertices)] * len(views))
        _vlen(f, "orig_face_indexes", [np.arange(n_faces)] * len(views))
        flags = {
            "has_sharp": [v.has_sharp for v in views],
            "has_smell_sharpness_discontinuities": [v.smell_discontinuities for v in views],
        }
        for name, vals in flags.items():
            f.create_dataset(name, data=np.array(vals, bool), compression="lzf")
        for name, counts in (
            ("num_sharp_curves", [v.num_sharp_curves for v in views]),
            ("num_surfaces", [v.num_surfaces for v in views]),
        ):
            f.create_dataset(
                name, data=np.minimum(np.array(counts), 127).astype(np.int8), compression="lzf"
            )


def write_raw_views(path: str | Path, views: Sequence[RawView]) -> None:
    """Write raw scans in the authors' ``ViewIO`` layout (lzf, vlen float64 points and
    int32 faces, flattened; ascii ids), atomically; :func:`read_raw_views` reads it."""
    if not views:
        raise ValueError("write_raw_views: no views")
    with atomic_path(Path(path)) as tmp, h5py.File(tmp, "w") as f:
        _write_frames(f, views)
        for name, dtype in (("points", np.float64), ("faces", np.int32)):
            dset = f.create_dataset(
                name, shape=(len(views),), dtype=h5py.vlen_dtype(dtype), compression="lzf"
            )
            for i, v in enumerate(views):
                dset[i] = np.asarray(getattr(v, name), dtype).ravel()
