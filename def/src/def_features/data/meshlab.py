"""MeshLab alignment projects and VCG range maps -> raw DEF-Scan views (``ViewIO``).

A scan set aligned in MeshLab is a project file listing meshes with one 4x4 matrix each
(mesh frame -> the project's common frame):

* ``.mlp`` (MeshLab project, XML): ``<MLMesh label=... filename=...>`` holding an
  ``<MLMatrix44>`` of 16 numbers, row by row (translation in the last column);
* ``.aln`` (VCG alignment): the mesh count, then per mesh its file name, a line starting
  with ``#``, the 4 rows of its matrix, and a final ``0``.

File names are resolved relative to the project file. The matrices are accepted when
they are finite affine transforms (last row ``0 0 0 1``) with an invertible linear
part; they are *not* required to be rigid, because MeshLab's transform filters can put
a scale into them (the annotation applies them as they are).

A range map is a PLY mesh whose header may carry VCG's one-row ``camera`` element (as
MeshLab and VCG write it): ``view_px/py/pz`` (the viewpoint ``t``), ``x_axis*``,
``y_axis*``, ``z_axis*`` (the rows of the rotation ``R``), ``focal`` (mm), ``scalex``
and ``scaley`` (pixel size, mm/pixel), ``centerx``/``centery`` (principal point,
pixels), ``viewportx``/``viewporty`` (image size, pixels) and ``k1..k4`` (radial
distortion). VCG's ``Shot::Project`` (vcglib ``vcg/math/shot.ipp``, ``camera.ipp``)
maps a point ``p`` of the mesh frame to pixels by::

    c = R (p - t);  c_z = -c_z             (ConvertWorldToCameraCoordinates)
    q = focal * c_xy / c_z                 (Camera::Project; distortion when k1 != 0)
    pixel = q / scale + center             (Camera::LocalToViewportPx, no axis flip)

This module reads the camera as VCG's PLY importer does (``wrap/io_trimesh/
import_ply.h``: ``view_p`` is the viewpoint as written; note that VCG's *ASCII* PLY
writer negates it while its binary writer and the importer do not, so an ASCII file
written by VCG reads back with the opposite viewpoint in MeshLab too) and turns it into
this package's camera: ``intrinsics`` = ``F = diag(focal, focal, 1)`` and
``S = [[1/scalex, 0, centerx], [0, 1/scaley, centery], [0, 0, 1]]``, and ``extrinsics``
(camera_to_world) the inverse of ``p -> sigma * D R (p - t)`` with ``D = diag(1, -1, -1)``.
The pixel column is VCG's viewport x and the pixel row is ``2 * centery - y``
(``viewporty - y`` for a centred principal point): VCG's viewport y axis points up
(OpenGL), ours down, so the image comes out upright and the
camera frame is x right, y down, z forward. Both signs ``sigma`` give exactly these
pixels (``c`` and ``-c`` project alike); the sign is chosen so that the range map's own
points have positive depth (most of them; ``+1``, VCG's documented convention in which
the camera looks down the shot frame's -z axis, when there are no points). With VCG's
documented right-handed shot frames and ``sigma = +1`` the camera_to_world rotation is
proper. pymeshlab's sample range map ``face000.ply`` has a left-handed shot frame
(axes ``x, y, -z``) and its points lie at negative VCG depth (the camera looks down
the shot frame's +z axis), so its decoded camera uses ``sigma = -1``, again a proper
rotation (half a turn about y).

The ``ViewIO`` layout takes the image size as twice the principal point, so
:func:`meshlab_raw_views` requires ``2 * center == viewport`` and no lens distortion
(``k1 == 0``; VCG ignores ``k2..k4`` when ``k1`` is 0).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from def_features.data.def_scan_raw import RawView


class MeshLabFormatError(ValueError):
    """A malformed MeshLab project, alignment file or range map; names the file and the
    field or line."""


@dataclass(frozen=True)
class ProjectMesh:
    """One mesh of a MeshLab project."""

    path: Path
    """The mesh file, resolved relative to the project file."""
    matrix: np.ndarray
    """(4, 4) mesh frame -> the project's common (aligned) frame."""
    label: str
    """MeshLab's label (``.mlp``) or the file name as written (``.aln``)."""


def _check_matrix(path: Path, where: str, values: Sequence[str]) -> np.ndarray:
    if len(values) != 16:
        raise MeshLabFormatError(f"{path}: {where} has {len(values)} numbers, not 16 (4x4)")
    try:
        mat = np.array([float(v) for v in values], np.float64).reshape(4, 4)
    except ValueError as exc:
        raise MeshLabFormatError(f"{path}: {where} is not 16 numbers ({exc})") from None
    if not np.isfinite(mat).all():
        raise MeshLabFormatError(f"{path}: {where} has non-finite values")
    if not np.allclose(mat[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
        raise MeshLabFormatError(f"{path}: {where} is not affine (last row {mat[3].tolist()})")
    if abs(np.linalg.det(mat[:3, :3])) < 1e-12:
        raise MeshLabFormatError(f"{path}: {where} is singular")
    return mat


def read_mlp(path: str | Path) -> list[ProjectMesh]:
    """The meshes of a MeshLab ``.mlp`` project and their matrices (see the module doc).

    Raises:
        MeshLabFormatError: naming the file and the mesh/field (malformed XML, no
            ``MLMesh``, a missing ``filename`` or ``MLMatrix44``, a bad matrix).
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise MeshLabFormatError(f"{path}: malformed XML ({exc})") from None
    meshes = root.findall(".//MLMesh")
    if not meshes:
        raise MeshLabFormatError(f"{path}: no MLMesh element")
    out = []
    for k, node in enumerate(meshes):
        name = node.get("filename")
        if not name:
            raise MeshLabFormatError(f"{path}: MLMesh {k} has no 'filename' attribute")
        label = node.get("label") or name
        mat_node = node.find("MLMatrix44")
        if mat_node is None:
            raise MeshLabFormatError(f"{path}: MLMesh {k} ({label}) has no MLMatrix44")
        where = f"MLMatrix44 of MLMesh {k} ({label})"
        mat = _check_matrix(path, where, (mat_node.text or "").split())
        out.append(ProjectMesh((path.parent / name).resolve(), mat, label))
    return out


def read_aln(path: str | Path) -> list[ProjectMesh]:
    """The meshes of a VCG/MeshLab ``.aln`` alignment file and their matrices.

    Raises:
        MeshLabFormatError: naming the file and the line.
    """
    path = Path(path)
    lines = path.read_text().splitlines()

    def line(i: int, what: str) -> str:
        if i >= len(lines):
            raise MeshLabFormatError(f"{path}: ends at line {i + 1}, expected {what}")
        return lines[i].strip()

    try:
        count = int(line(0, "the mesh count"))
    except ValueError:
        raise MeshLabFormatError(
            f"{path}: line 1 must be the mesh count, got {lines[0]!r}"
        ) from None
    if count < 1:
        raise MeshLabFormatError(f"{path}: line 1: mesh count must be >= 1, got {count}")
    out, i = [], 1
    for k in range(count):
        name = line(i, f"the file name of mesh {k}")
        if not name:
            raise MeshLabFormatError(f"{path}: line {i + 1}: empty file name of mesh {k}")
        if not line(i + 1, f"a '#' line after {name}").startswith("#"):
            raise MeshLabFormatError(f"{path}: line {i + 2}: expected a '#' line after {name}")
        rows = [line(i + 2 + r, f"row {r} of the matrix of {name}").split() for r in range(4)]
        where = f"lines {i + 3}-{i + 6} (matrix of {name})"
        mat = _check_matrix(path, where, [v for row in rows for v in row])
        out.append(ProjectMesh((path.parent / name).resolve(), mat, name))
        i += 6
    return out


def read_project(path: str | Path) -> list[ProjectMesh]:
    """:func:`read_mlp` or :func:`read_aln` by the file's suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".mlp":
        return read_mlp(path)
    if suffix == ".aln":
        return read_aln(path)
    raise MeshLabFormatError(f"{path}: not a MeshLab project (.mlp) or alignment (.aln)")


# --- PLY range maps ---------------------------------------------------------------------

_PLY_TYPES = {
    "char": "i1",
    "int8": "i1",
    "uchar": "u1",
    "uint8": "u1",
    "short": "i2",
    "int16": "i2",
    "ushort": "u2",
    "uint16": "u2",
    "int": "i4",
    "int32": "i4",
    "uint": "u4",
    "uint32": "u4",
    "float": "f4",
    "float32": "f4",
    "double": "f8",
    "float64": "f8",
}

CAMERA_FIELDS = (
    "view_px view_py view_pz x_axisx x_axisy x_axisz y_axisx y_axisy y_axisz "
    "z_axisx z_axisy z_axisz focal scalex scaley centerx centery viewportx viewporty "
    "k1 k2 k3 k4"
).split()
"""The properties of VCG's PLY ``camera`` element, in the order VCG writes them."""


@dataclass(frozen=True)
class VcgCamera:
    """VCG's ``Shot`` as stored in a PLY ``camera`` element (mm and pixels)."""

    viewpoint: np.ndarray
    """(3,) the camera centre ``t`` in the mesh frame."""
    axes: np.ndarray
    """(3, 3) rotation ``R``: its rows are the shot frame's x, y, z axes."""
    focal_mm: float
    pixel_size_mm: np.ndarray
    """(2,) ``scalex``, ``scaley``."""
    center_px: np.ndarray
    """(2,) principal point."""
    viewport_px: tuple[int, int]
    """(width, height) in pixels."""
    k: np.ndarray
    """(4,) radial distortion ``k1..k4`` (VCG uses it only when ``k1 != 0``)."""

    def vcg_camera_coordinates(self, points: np.ndarray) -> np.ndarray:
        """VCG's ``ConvertWorldToCameraCoordinates``: ``R (p - t)`` with z negated."""
        cam = (np.asarray(points, np.float64) - self.viewpoint) @ self.axes.T
        cam[:, 2] = -cam[:, 2]
        return cam

    def project(self, points: np.ndarray) -> np.ndarray:
        """VCG's ``Shot::Project`` of (P, 3) points -> (P, 2) viewport pixels (x, y),
        without lens distortion (refused when ``k1 != 0``)."""
        if self.k[0] != 0:
            raise ValueError("VcgCamera.project: lens distortion (k1 != 0) is not supported")
        cam = self.vcg_camera_coordinates(points)
        return self.focal_mm * cam[:, :2] / cam[:, 2:3] / self.pixel_size_mm + self.center_px

    @property
    def intrinsics(self) -> np.ndarray:
        """(2, 3, 3) focal matrix F and sensor matrix S of this package."""
        F = np.diag([self.focal_mm, self.focal_mm, 1.0])
        sx, sy = self.pixel_size_mm
        cx, cy = self.center_px
        S = np.array([[1.0 / sx, 0.0, cx], [0.0, 1.0 / sy, cy], [0.0, 0.0, 1.0]])
        return np.stack([F, S])

    def extrinsics(self, sign: float = 1.0) -> np.ndarray:
        """(4, 4) camera_to_world of the camera ``p -> sign * D R (p - t)``,
        ``D = diag(1, -1, -1)`` (see the module doc)."""
        world_to_cam = sign * np.diag([1.0, -1.0, -1.0]) @ self.axes
        out = np.eye(4)
        out[:3, :3] = np.linalg.inv(world_to_cam)
        out[:3, 3] = self.viewpoint
        return out

    def front_sign(self, points: np.ndarray) -> float:
        """+1 when most points have positive VCG depth (or there are none), else -1."""
        if len(points) == 0:
            return 1.0
        depth = self.vcg_camera_coordinates(points)[:, 2]
        return 1.0 if np.count_nonzero(depth > 0) >= np.count_nonzero(depth < 0) else -1.0


@dataclass(frozen=True)
class RangeMap:
    """A PLY range map: its mesh and, when it has one, its scanner camera."""

    points: np.ndarray
    """(P, 3) float64 vertices (the mesh's own frame)."""
    faces: np.ndarray
    """(T, 3) int32 triangles."""
    camera: VcgCamera | None
    """VCG's camera, or None when the PLY has no ``camera`` element."""
    extrinsics: np.ndarray | None
    """(4, 4) camera_to_world with the points in front (see the module doc), or None."""
    intrinsics: np.ndarray | None
    """(2, 3, 3) F and S, or None."""


@dataclass
class _Element:
    name: str
    count: int
    props: list[tuple[str, str, str | None]]  # (name, value type, list count type or None)


def _parse_header(path: Path, data: bytes) -> tuple[str, list[_Element], int]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise MeshLabFormatError(f"{path}: not a PLY file (no 'ply' magic or 'end_header')")
    body = data.index(b"\n", end) + 1
    fmt = ""
    elements: list[_Element] = []
    for n, raw in enumerate(data[:end].decode("ascii", "replace").splitlines(), start=1):
        tok = raw.split()
        if not tok or tok[0] in ("ply", "comment", "obj_info"):
            continue
        if tok[0] == "format" and len(tok) >= 2:
            fmt = tok[1]
        elif tok[0] == "element" and len(tok) == 3 and tok[2].isdigit():
            elements.append(_Element(tok[1], int(tok[2]), []))
        elif tok[0] == "property" and elements:
            if len(tok) == 5 and tok[1] == "list" and tok[2] in _PLY_TYPES:
                if tok[3] in _PLY_TYPES:
                    elements[-1].props.append((tok[4], _PLY_TYPES[tok[3]], _PLY_TYPES[tok[2]]))
                    continue
            elif len(tok) == 3 and tok[1] in _PLY_TYPES:
                elements[-1].props.append((tok[2], _PLY_TYPES[tok[1]], None))
                continue
            raise MeshLabFormatError(f"{path}: header line {n}: bad property {raw.strip()!r}")
        else:
            raise MeshLabFormatError(f"{path}: header line {n}: unexpected {raw.strip()!r}")
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise MeshLabFormatError(f"{path}: header field 'format' is {fmt!r}")
    return fmt, elements, body


def _element_dtype(el: _Element, order: str) -> np.dtype:
    """Row dtype assuming every list has 3 entries (triangles); checked after reading."""
    fields: list[tuple[str, str] | tuple[str, str, tuple[int]]] = []
    for name, vtype, ctype in el.props:
        if ctype is None:
            fields.append((name, order + vtype))
        else:
            fields.append((f"{name}__count", order + ctype))
            fields.append((name, order + vtype, (3,)))
    return np.dtype(fields)


def _read_ply(path: Path) -> dict[str, np.ndarray]:
    """The PLY's elements as structured arrays (list properties: triangles only)."""
    data = path.read_bytes()
    fmt, elements, offset = _parse_header(path, data)
    out: dict[str, np.ndarray] = {}
    tokens: list[bytes] = data[offset:].split() if fmt == "ascii" else []
    pos = 0
    for el in elements:
        order = ">" if fmt == "binary_big_endian" else "<"
        dtype = _element_dtype(el, order)
        if fmt == "ascii":
            width = sum(1 if c is None else 4 for _, _, c in el.props)
            need = width * el.count
            if pos + need > len(tokens):
                raise MeshLabFormatError(f"{path}: element {el.name!r} is truncated")
            try:
                flat = (
                    np.array(tokens[pos : pos + need]).astype(np.float64).reshape(el.count, width)
                )
            except ValueError:
                raise MeshLabFormatError(f"{path}: element {el.name!r} is not numbers") from None
            arr = np.zeros(el.count, dtype)
            col = 0
            for name, _, ctype in el.props:
                if ctype is None:
                    arr[name] = flat[:, col]
                    col += 1
                else:
                    arr[f"{name}__count"] = flat[:, col]
                    arr[name] = flat[:, col + 1 : col + 4]
                    col += 4
            pos += need
        else:
            if pos + dtype.itemsize * el.count > len(data) - offset:
                raise MeshLabFormatError(f"{path}: element {el.name!r} is truncated")
            arr = np.frombuffer(data, dtype, el.count, offset + pos).copy()
            pos += dtype.itemsize * el.count
        for name, _, ctype in el.props:
            if ctype is not None and el.count and (arr[f"{name}__count"] != 3).any():
                raise MeshLabFormatError(
                    f"{path}: element {el.name!r} property {name!r}: only triangles are "
                    "supported (found a list that is not 3 long)"
                )
        out[el.name] = arr
    return out


def _decode_camera(path: Path, cam: np.ndarray) -> VcgCamera:
    names = cam.dtype.names or ()
    missing = [f for f in CAMERA_FIELDS if f not in names]
    if missing:
        raise MeshLabFormatError(f"{path}: element 'camera' lacks {', '.join(missing)}")
    if len(cam) != 1:
        raise MeshLabFormatError(f"{path}: element 'camera' has {len(cam)} rows, expected 1")
    row = {f: float(cam[f][0]) for f in CAMERA_FIELDS}
    for f, v in row.items():
        if not np.isfinite(v):
            raise MeshLabFormatError(f"{path}: camera field {f!r} is not finite")
    for f in ("focal", "scalex", "scaley", "viewportx", "viewporty"):
        if not row[f] > 0:
            raise MeshLabFormatError(f"{path}: camera field {f!r} must be > 0, got {row[f]}")
    axes = np.array([[row[f"{a}_axis{c}"] for c in "xyz"] for a in "xyz"])
    if abs(np.linalg.det(axes)) < 1e-9:
        raise MeshLabFormatError(f"{path}: camera axes (x_axis*, y_axis*, z_axis*) are singular")
    return VcgCamera(
        viewpoint=np.array([row["view_px"], row["view_py"], row["view_pz"]]),
        axes=axes,
        focal_mm=row["focal"],
        pixel_size_mm=np.array([row["scalex"], row["scaley"]]),
        center_px=np.array([row["centerx"], row["centery"]]),
        viewport_px=(int(row["viewportx"]), int(row["viewporty"])),
        k=np.array([row["k1"], row["k2"], row["k3"], row["k4"]]),
    )


def read_range_map(path: str | Path) -> RangeMap:
    """A PLY range map (ascii or binary): vertices, triangles and VCG's camera if present.

    Raises:
        MeshLabFormatError: naming the file and the element/field.
    """
    path = Path(path)
    elements = _read_ply(path)
    vert = elements.get("vertex")
    if vert is None or not all(c in (vert.dtype.names or ()) for c in "xyz"):
        raise MeshLabFormatError(f"{path}: no 'vertex' element with x, y, z")
    points = np.stack([vert["x"], vert["y"], vert["z"]], axis=1).astype(np.float64)
    if not np.isfinite(points).all():
        raise MeshLabFormatError(f"{path}: element 'vertex' has non-finite coordinates")
    faces = np.zeros((0, 3), np.int32)
    face = elements.get("face")
    if face is not None:
        names = face.dtype.names or ()
        key = next((k for k in ("vertex_indices", "vertex_index") if k in names), None)
        if key is None:
            raise MeshLabFormatError(f"{path}: element 'face' has no vertex_indices list")
        tri = np.asarray(face[key], np.int64).reshape(-1, 3)
        if len(tri) and (tri.min() < 0 or tri.max() >= len(points)):
            raise MeshLabFormatError(f"{path}: face 'vertex_indices' index outside the vertices")
        faces = tri.astype(np.int32)
    camera = extrinsics = intrinsics = None
    if "camera" in elements:
        camera = _decode_camera(path, elements["camera"])
        extrinsics = camera.extrinsics(camera.front_sign(points))
        intrinsics = camera.intrinsics
    return RangeMap(points, faces, camera, extrinsics, intrinsics)


def meshlab_raw_views(
    project: str | Path,
    *,
    item_id: str,
    obj_alignment: np.ndarray | None = None,
    obj_scale: float = 1.0,
    cad: str | None = None,
) -> list[RawView]:
    """Raw DEF-Scan views (``ViewIO`` rows) of a MeshLab project of range maps.

    Each range map becomes one view: its vertices and faces in its own frame, its camera
    decoded as in the module doc, and ``points_alignment`` = its project matrix.

    Args:
        project: an ``.mlp`` or ``.aln`` file.
        item_id: the printed CAD item.
        obj_alignment: (4, 4) scaled CAD mesh -> project frame (default identity: the
            CAD model is already in the project's frame). Not with ``cad``.
        obj_scale: scale of the CAD mesh (its units -> scan units).
        cad: the label or file name of the CAD mesh when it was aligned in the same
            project: it is left out of the views and ``obj_alignment`` becomes its matrix
            with the ``obj_scale`` divided out (so that ``obj_alignment @ (obj_scale *
            v)`` puts the mesh where the project does).

    Raises:
        MeshLabFormatError: naming the file and field (a mesh without a VCG camera, a
            principal point not at the viewport's centre, lens distortion).
    """
    project = Path(project)
    meshes = read_project(project)
    if not obj_scale > 0:
        raise ValueError(f"meshlab_raw_views: obj_scale must be > 0, got {obj_scale}")
    if not item_id or not item_id.isascii():
        raise ValueError(f"meshlab_raw_views: item_id must be non-empty ASCII, got {item_id!r}")
    align = np.eye(4) if obj_alignment is None else np.asarray(obj_alignment, np.float64)
    if cad is not None:
        if obj_alignment is not None:
            raise ValueError("meshlab_raw_views: give either cad or obj_alignment")
        hits = [m for m in meshes if cad in (m.label, m.path.name)]
        if len(hits) != 1:
            names = ", ".join(m.label for m in meshes)
            raise MeshLabFormatError(
                f"{project}: {len(hits)} meshes are labelled or named {cad!r} (meshes: {names})"
            )
        align = hits[0].matrix @ np.diag([1 / obj_scale, 1 / obj_scale, 1 / obj_scale, 1.0])
        meshes = [m for m in meshes if m is not hits[0]]
    if align.shape != (4, 4):
        raise ValueError(f"meshlab_raw_views: obj_alignment must be 4x4, got {align.shape}")
    views = []
    for mesh in meshes:
        if mesh.path.suffix.lower() != ".ply":
            raise MeshLabFormatError(
                f"{project}: mesh {mesh.label!r} ({mesh.path.name}) is not a PLY range map"
            )
        if not mesh.path.is_file():
            raise MeshLabFormatError(f"{project}: mesh file {mesh.path} does not exist")
        rmap = read_range_map(mesh.path)
        cam = rmap.camera
        if cam is None or rmap.extrinsics is None or rmap.intrinsics is None:
            raise MeshLabFormatError(f"{mesh.path}: no VCG 'camera' element (not a range map)")
        if not np.allclose(2 * cam.center_px, cam.viewport_px, atol=1e-3):
            raise MeshLabFormatError(
                f"{mesh.path}: camera 'centerx/centery' {cam.center_px.tolist()} is not the "
                f"centre of 'viewportx/viewporty' {list(cam.viewport_px)} (ViewIO takes the "
                "image size as twice the principal point)"
            )
        if cam.k[0] != 0:
            raise MeshLabFormatError(f"{mesh.path}: camera 'k1' != 0 (lens distortion)")
        views.append(
            RawView(
                points=rmap.points,
                faces=rmap.faces,
                points_alignment=mesh.matrix,
                extrinsics=rmap.extrinsics,
                intrinsics=rmap.intrinsics,
                obj_alignment=align,
                obj_scale=float(obj_scale),
                item_id=item_id,
            )
        )
    if not views:
        raise MeshLabFormatError(f"{project}: no range map besides the CAD mesh")
    return views
