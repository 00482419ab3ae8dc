"""Geodesic tables of the SMPL body for DensePose-COCO evaluation, from the official files.

DensePose's evaluator scores a point by the geodesic distance on the subdivided SMPL mesh
(27554 vertices) between the ground-truth and the predicted surface point. Three files,
distributed by the DensePose authors (not redistributable here), carry that table:

- ``SMPL_subdiv.mat``: fields ``U_subdiv``, ``V_subdiv``, ``Part_ID_subdiv``, one entry per
  chart vertex (seam vertices appear once per chart they belong to). A point (I, U, V)
  goes to the vertex of chart I nearest in (U, V).
- ``SMPL_SUBDIV_TRANSFORM.mat``: field ``index``, the 1-based mesh vertex of each chart
  vertex.
- ``Pdist_matrix.pkl``: a pickled dict whose ``Pdist_matrix`` holds the (M, 1) distances
  between mesh vertices a > b (0-based) at row ``a (a - 1) / 2 + b`` (the lower triangle
  row by row), M = n (n - 1) / 2. Newer detectron2 releases ship the same distances as a
  full (n, n) array (``geodists_smpl_27554.pkl``); both are read.

:func:`convert_smpl_geodesics` turns them into a :class:`~mobile_densepose.data.body.BodySurface`
whose distances stay in a float32 ``.npy`` of the lower triangle (1.5 GB for SMPL), opened
memory-mapped at evaluation time instead of a 3 GB dense matrix.
"""

from __future__ import annotations

import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

CHUNK = 1 << 24
"""Entries copied per step when converting the distance table (64 MB of float32)."""


def pair_index(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row of the pair (a, b) of distinct mesh vertices in the lower-triangle layout."""
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    return hi * (hi - 1) // 2 + lo


def triangle_size(m: int, name: str) -> int:
    """n with n (n - 1) / 2 == m, or a ValueError naming ``name``."""
    n = (1 + math.isqrt(1 + 8 * m)) // 2
    if n * (n - 1) // 2 != m:
        raise ValueError(f"{name}: {m} distances is not n (n - 1) / 2 for any vertex count n")
    return n


@dataclass
class MeshGeodesics:
    """Geodesics between surface vertices through a mesh: surface vertex -> mesh vertex ->
    lower-triangle distance table."""

    vertex_map: np.ndarray
    """(N,) int64 mesh vertex (0-based) of each surface vertex."""
    condensed: np.ndarray
    """(n (n - 1) / 2,) float32 distance of mesh vertices a > b at a (a - 1) / 2 + b
    (may be a read-only memory map)."""

    @property
    def num_mesh_vertices(self) -> int:
        """n, the mesh's vertex count."""
        return triangle_size(int(self.condensed.shape[0]), "MeshGeodesics.condensed")

    def distances(self, i: torch.Tensor, j: torch.Tensor) -> torch.Tensor:
        """(P,) geodesic distance between surface vertices i and j (P,), on i's device."""
        a = self.vertex_map[i.cpu().numpy()]
        b = self.vertex_map[j.cpu().numpy()]
        same = a == b
        k = pair_index(a, b)
        d = np.zeros(a.shape, np.float32)
        d[~same] = self.condensed[k[~same]]
        return torch.from_numpy(d).to(i.device)

    def dense(self) -> np.ndarray:
        """(N, N) float32 table over the surface vertices (small meshes and tests only)."""
        n = self.vertex_map.shape[0]
        ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        d = self.distances(torch.from_numpy(ii.ravel()), torch.from_numpy(jj.ravel()))
        return d.numpy().reshape(n, n)


def _mat_field(data: dict, path: str | Path, field: str) -> np.ndarray:
    if field not in data:
        keys = sorted(k for k in data if not k.startswith("__"))
        raise KeyError(f"{path}: missing field {field!r} (fields: {keys})")
    return np.asarray(data[field]).squeeze()


def read_smpl_subdiv(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """``SMPL_subdiv.mat`` -> parts (N,) int64 in 1..24, uv (N, 2) float64."""
    from scipy.io import loadmat

    data = loadmat(str(path))
    u = _mat_field(data, path, "U_subdiv").astype(np.float64)
    v = _mat_field(data, path, "V_subdiv").astype(np.float64)
    parts = _mat_field(data, path, "Part_ID_subdiv").astype(np.int64)
    if not (u.ndim == v.ndim == parts.ndim == 1) or not (u.shape == v.shape == parts.shape):
        raise ValueError(
            f"{path}: U_subdiv {u.shape}, V_subdiv {v.shape} and Part_ID_subdiv {parts.shape} "
            "must be vectors of one length"
        )
    if parts.min() < 1 or parts.max() > 24:
        raise ValueError(
            f"{path}: Part_ID_subdiv must lie in 1..24, got {parts.min()}..{parts.max()}"
        )
    return parts, np.stack([u, v], axis=1)


def read_subdiv_transform(path: str | Path, num_vertices: int) -> np.ndarray:
    """``SMPL_SUBDIV_TRANSFORM.mat`` -> (num_vertices,) 0-based mesh vertex of each chart vertex."""
    from scipy.io import loadmat

    index = _mat_field(loadmat(str(path)), path, "index").astype(np.int64)
    if index.shape != (num_vertices,):
        raise ValueError(
            f"{path}: field 'index' has shape {index.shape}, expected ({num_vertices},) "
            "(one entry per SMPL_subdiv vertex)"
        )
    if index.min() < 1:
        raise ValueError(f"{path}: field 'index' is 1-based, found {index.min()}")
    return index - 1


def load_distance_pickle(path: str | Path) -> np.ndarray:
    """The distance array of ``Pdist_matrix.pkl`` ((M, 1) or (M,)) or of a full (n, n) pickle."""
    with open(path, "rb") as f:
        obj = pickle.load(f, encoding="latin1")
    if isinstance(obj, dict):
        if "Pdist_matrix" not in obj:
            raise KeyError(f"{path}: missing field 'Pdist_matrix' (keys: {sorted(obj)})")
        obj = obj["Pdist_matrix"]
    arr = obj.numpy() if isinstance(obj, torch.Tensor) else np.asarray(obj)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if not (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[0] == arr.shape[1])):
        raise ValueError(f"{path}: expected (M, 1), (M,) or (n, n) distances, got {arr.shape}")
    return arr


def _checked(values: np.ndarray, name: str) -> np.ndarray:
    """``values`` as float32, or a ValueError when one is not finite or negative."""
    out = values.astype(np.float32)
    if not np.isfinite(out).all() or float(out.min(initial=0.0)) < 0:
        raise ValueError(f"{name}: distances must be finite and non-negative")
    return out


def write_condensed(distances: np.ndarray, out: str | Path, name: str = "distances") -> int:
    """Write a lower-triangle float32 ``.npy`` from condensed (M,) or full (n, n) distances.

    Written to a temporary file and renamed, so an interrupted run leaves no partial table.
    Returns n, the vertex count.
    """
    out = Path(out)
    if distances.ndim == 1:
        m = int(distances.shape[0])
        n = triangle_size(m, name)
    else:
        n = int(distances.shape[0])
        m = n * (n - 1) // 2
    tmp = out.with_name(out.name + ".tmp.npy")
    table = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=(m,))
    try:  # each value is checked once, as it is copied
        if distances.ndim == 1:
            for start in range(0, m, CHUNK):
                chunk = _checked(distances[start : start + CHUNK], name)
                table[start : start + len(chunk)] = chunk
        else:
            for a in range(1, n):  # row a holds (a, 0..a-1)
                start = a * (a - 1) // 2
                table[start : start + a] = _checked(distances[a, :a], name)
        table.flush()
    except BaseException:
        del table
        tmp.unlink()
        raise
    del table
    os.replace(tmp, out)
    return n


def convert_smpl_geodesics(
    smpl_subdiv: str | Path,
    subdiv_transform: str | Path,
    distances: str | Path,
    out_dir: str | Path,
) -> Path:
    """Official SMPL files -> ``out_dir/smpl_surface.npz`` + ``out_dir/smpl_geodesics.npy``.

    Returns the npz path (give it to ``mobile-densepose eval --surface``).
    """
    from mobile_densepose.data.body import BodySurface

    parts, uv = read_smpl_subdiv(smpl_subdiv)
    vertex_map = read_subdiv_transform(subdiv_transform, parts.shape[0])
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    table = out_dir / "smpl_geodesics.npy"
    n = write_condensed(load_distance_pickle(distances), table, str(distances))
    if vertex_map.max() >= n:
        raise ValueError(
            f"{subdiv_transform}: field 'index' reaches vertex {vertex_map.max() + 1} but "
            f"{distances} holds distances of {n} vertices"
        )
    surface = BodySurface(parts, uv, MeshGeodesics(vertex_map, np.load(table, mmap_mode="r")))
    path = out_dir / "smpl_surface.npz"
    surface.save(str(path))
    return path
