"""Triangle meshes (PLY, OBJ, STL, OFF) and point clouds (PLY, PCD, XYZ).

Meshes go through trimesh with ``process=False`` so vertex order is preserved (STL has
no shared vertices: its triangles are read back with duplicated corners merged).
Vertex colours survive PLY and OBJ; STL and OFF store geometry only. PLY is written
binary by default (``ascii=True`` for text); PLY stores float32 coordinates.

Point clouds are PLY files with positions and normals as double and colours as
uchar (so float colours come back quantised to 1/255); the writer is a few lines of
numpy, the reader trimesh's PLY parser plus a check of the declared vertex count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import trimesh

from shared_utils.io.atomic import atomic_path

MESH_SUFFIXES = (".ply", ".obj", ".stl", ".off")
POINT_CLOUD_SUFFIXES = (".ply",)


class MeshFormatError(ValueError):
    """A mesh or point-cloud file is malformed, or arrays have the wrong shape."""


@dataclass(frozen=True)
class TriangleMesh:
    """A triangle mesh as plain numpy arrays."""

    vertices: np.ndarray
    """(V, 3) float64 vertex positions."""
    faces: np.ndarray
    """(F, 3) int64 vertex indices per triangle (counter-clockwise = front)."""
    vertex_colors: np.ndarray | None = None
    """(V, 3) float64 RGB in [0, 1], or None when the file has no colours."""


@dataclass(frozen=True)
class PointCloud:
    """A point cloud as plain numpy arrays."""

    points: np.ndarray
    """(N, 3) float64 positions."""
    colors: np.ndarray | None = None
    """(N, 3) float64 RGB in [0, 1], or None."""
    normals: np.ndarray | None = None
    """(N, 3) float64 normals, or None."""


def _check_suffix(path: Path, allowed: tuple[str, ...], what: str) -> str:
    suffix = path.suffix.lower()
    if suffix not in allowed:
        raise MeshFormatError(f"unsupported {what} format {suffix!r} for {path} (use {allowed})")
    return suffix


def _check_n3(name: str, arr: np.ndarray | None, n: int | None, path: Path) -> np.ndarray | None:
    if arr is None:
        return None
    a = np.asarray(arr)
    if a.ndim != 2 or a.shape[1] != 3 or (n is not None and a.shape[0] != n):
        want = f"({n}, 3)" if n is not None else "(N, 3)"
        raise MeshFormatError(f"{name} for {path} must be {want}, got {a.shape}")
    return a


def _colors_to_float(colors: np.ndarray) -> np.ndarray:
    c = np.asarray(colors)[:, :3]
    if np.issubdtype(c.dtype, np.integer):
        return c.astype(np.float64) / 255.0
    return c.astype(np.float64)


def _colors_to_uint8(colors: np.ndarray) -> np.ndarray:
    c = np.asarray(colors)
    if c.dtype == np.uint8:
        return c
    return np.round(np.clip(c, 0.0, 1.0) * 255.0).astype(np.uint8)


def read_mesh(path: str | os.PathLike[str]) -> TriangleMesh:
    """Read a triangle mesh from .ply, .obj, .stl or .off.

    Returns:
        TriangleMesh with vertices (V, 3) float64, faces (F, 3) int64 and vertex colours
        (V, 3) in [0, 1] when the file has per-vertex colours.

    Raises:
        FileNotFoundError: no such file.
        MeshFormatError: the file is malformed (message names the file and the problem).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"mesh file not found: {p}")
    suffix = _check_suffix(p, MESH_SUFFIXES, "mesh")
    try:
        loaded = trimesh.load(p, file_type=suffix[1:], force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for bad files
        raise MeshFormatError(f"cannot parse mesh {p}: {type(exc).__name__}: {exc}") from exc
    if not isinstance(loaded, trimesh.Trimesh):
        raise MeshFormatError(f"mesh {p} did not load as a single triangle mesh")
    if suffix == ".stl":
        loaded.merge_vertices()
    if suffix == ".ply":
        declared = _ply_header_counts(p)
        for element, got in (("vertex", len(loaded.vertices)), ("face", len(loaded.faces))):
            if declared.get(element, 0) != got:
                raise MeshFormatError(
                    f"mesh {p}: header declares {declared.get(element, 0)} {element} "
                    f"elements but {got} were read"
                )
    vertices = np.asarray(loaded.vertices, dtype=np.float64)
    faces = np.asarray(loaded.faces, dtype=np.int64)
    if len(vertices) == 0:
        raise MeshFormatError(f"mesh {p} has no vertices (empty or unparsable file)")
    if faces.size and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise MeshFormatError(
            f"mesh {p}: field 'faces' indexes vertex {faces.max()} but only {len(vertices)} exist"
        )
    colors = None
    visual = loaded.visual
    if isinstance(visual, trimesh.visual.ColorVisuals) and visual.kind == "vertex":
        colors = _colors_to_float(visual.vertex_colors)
    return TriangleMesh(vertices=vertices, faces=faces.reshape(-1, 3), vertex_colors=colors)


def write_mesh(
    path: str | os.PathLike[str],
    vertices: np.ndarray,
    faces: np.ndarray,
    vertex_colors: np.ndarray | None = None,
    *,
    ascii: bool = False,
) -> None:
    """Write a triangle mesh atomically; the suffix picks .ply/.obj/.stl/.off.

    Args:
        vertices: (V, 3) float positions.
        faces: (F, 3) integer vertex indices.
        vertex_colors: (V, 3) float in [0, 1] or uint8; kept by PLY and OBJ only.
        ascii: PLY/STL as text instead of binary.
    """
    p = Path(path)
    suffix = _check_suffix(p, MESH_SUFFIXES, "mesh")
    v = _check_n3("vertices", vertices, None, p)
    f = _check_n3("faces", faces, None, p)
    assert v is not None and f is not None
    if f.size and (f.min() < 0 or f.max() >= len(v)):
        raise MeshFormatError(f"faces for {p} index outside [0, {len(v)})")
    c = _check_n3("vertex_colors", vertex_colors, len(v), p)
    mesh = trimesh.Trimesh(
        vertices=np.asarray(v, dtype=np.float64),
        faces=np.asarray(f, dtype=np.int64),
        vertex_colors=None if c is None else _colors_to_uint8(c),
        process=False,
    )
    if suffix == ".ply":
        data = trimesh.exchange.ply.export_ply(mesh, encoding="ascii" if ascii else "binary")
    elif suffix == ".stl":
        data = mesh.export(file_type="stl_ascii" if ascii else "stl")
    elif suffix == ".obj":
        data = trimesh.exchange.obj.export_obj(
            mesh, include_color=c is not None, include_normals=False, include_texture=False
        )
    else:
        data = trimesh.exchange.off.export_off(mesh, digits=17)
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(p) as tmp:
        tmp.write_bytes(payload)


def _ply_header_counts(path: Path) -> dict[str, int]:
    """Element counts declared in a PLY header, e.g. {"vertex": 8, "face": 12}."""
    counts: dict[str, int] = {}
    with open(path, "rb") as f:
        first = f.readline().strip()
        if first != b"ply":
            raise MeshFormatError(f"{path} is not a PLY file (first line {first[:20]!r})")
        for raw in f:
            line = raw.decode("ascii", errors="replace").strip()
            if line == "end_header":
                return counts
            parts = line.split()
            if len(parts) == 3 and parts[0] == "element":
                try:
                    counts[parts[1]] = int(parts[2])
                except ValueError as exc:
                    raise MeshFormatError(f"{path}: bad element line {line!r}") from exc
    raise MeshFormatError(f"{path}: PLY header has no 'end_header'")


def read_point_cloud(path: str | os.PathLike[str]) -> PointCloud:
    """Read a PLY point cloud (ascii or binary) with colours and normals if present.

    Faces, if any, are ignored. Colours stored as uchar are scaled to [0, 1].

    Raises:
        FileNotFoundError: no such file.
        MeshFormatError: the file is malformed or lacks a field (named in the message).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"point cloud file not found: {p}")
    _check_suffix(p, POINT_CLOUD_SUFFIXES, "point cloud")
    declared = _ply_header_counts(p).get("vertex")
    if declared is None:
        raise MeshFormatError(f"point cloud {p}: PLY header declares no 'vertex' element")
    try:
        with open(p, "rb") as f:
            loaded = trimesh.exchange.ply.load_ply(f)
        data = loaded["metadata"]["_ply_raw"]["vertex"]["data"]
    except Exception as exc:  # trimesh raises many types for bad files
        raise MeshFormatError(f"cannot parse point cloud {p}: {type(exc).__name__}: {exc}") from exc
    # binary PLY gives a structured array, ascii PLY a dict of (N, 1) columns
    columns = (
        {k: np.asarray(data[k]) for k in (data.dtype.names or ())}
        if hasattr(data, "dtype")
        else {k: np.asarray(v).reshape(-1) for k, v in data.items()}
    )
    for field in ("x", "y", "z"):
        if field not in columns:
            raise MeshFormatError(f"point cloud {p}: vertex field {field!r} is missing")
    points = np.stack([columns[k] for k in ("x", "y", "z")], axis=1).astype(np.float64)
    if len(points) != declared or len(np.asarray(loaded["vertices"])) != declared:
        raise MeshFormatError(
            f"point cloud {p}: header declares {declared} vertices but the body has fewer"
        )
    normals = None
    if all(k in columns for k in ("nx", "ny", "nz")):
        normals = np.stack([columns[k] for k in ("nx", "ny", "nz")], axis=1).astype(np.float64)
    colors = None
    if all(k in columns for k in ("red", "green", "blue")):
        colors = _colors_to_float(np.stack([columns[k] for k in ("red", "green", "blue")], axis=1))
    return PointCloud(points=points, colors=colors, normals=normals)


def write_point_cloud(
    path: str | os.PathLike[str],
    points: np.ndarray,
    colors: np.ndarray | None = None,
    normals: np.ndarray | None = None,
    *,
    ascii: bool = False,
) -> None:
    """Write a PLY point cloud atomically (binary little-endian by default).

    Positions and normals are stored as double, colours as uchar (so float colours
    come back quantised to 1/255).

    Args:
        points: (N, 3) positions.
        colors: (N, 3) float in [0, 1] or uint8, optional.
        normals: (N, 3), optional.
    """
    p = Path(path)
    _check_suffix(p, POINT_CLOUD_SUFFIXES, "point cloud")
    pts = _check_n3("points", points, None, p)
    assert pts is not None
    c = _check_n3("colors", colors, len(pts), p)
    n = _check_n3("normals", normals, len(pts), p)
    fields: list[tuple[str, str, np.ndarray]] = [
        (k, "double", pts[:, i].astype("<f8")) for i, k in enumerate("xyz")
    ]
    if n is not None:
        fields += [(k, "double", n[:, i].astype("<f8")) for i, k in enumerate(("nx", "ny", "nz"))]
    if c is not None:
        c8 = _colors_to_uint8(c)
        fields += [(k, "uchar", c8[:, i]) for i, k in enumerate(("red", "green", "blue"))]
    header = ["ply", f"format {'ascii' if ascii else 'binary_little_endian'} 1.0"]
    header.append(f"element vertex {len(pts)}")
    header += [f"property {ply_type} {name}" for name, ply_type, _ in fields]
    header.append("end_header")
    head = ("\n".join(header) + "\n").encode("ascii")
    if ascii:
        cols = [col.astype(object) for _, _, col in fields]
        lines = [
            " ".join(repr(float(v)) if isinstance(v, float) else str(v) for v in row)
            for row in zip(*[col.tolist() for col in cols])
        ]
        body = ("\n".join(lines) + "\n").encode("ascii") if lines else b""
    else:
        dtype = np.dtype([(name, "<f8" if t == "double" else "u1") for name, t, _ in fields])
        table = np.empty(len(pts), dtype=dtype)
        for name, _, col in fields:
            table[name] = col
        body = table.tobytes()
    with atomic_path(p) as tmp:
        tmp.write_bytes(head + body)
