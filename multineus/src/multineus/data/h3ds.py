"""Read one scene of the H3DS dataset (the evaluation set of the paper's Table 7).

Layout of ``<root>/<scene_id>/`` (as distributed by the H3DS authors):

- ``full_head.obj``: the ground-truth scan in millimetres;
- ``image/img_XXXX.jpg`` and ``mask/mask_XXXX.png``: the views, numbered from 0;
- ``cameras.npz``: ``world_mat_i`` (3x4 or 4x4 projection ``K [R | t]`` of view i, in mm)
  and ``scale_mat_0`` (4x4 similarity from the unit-sphere frame to mm);
- ``landmarks.txt``: one ``name vertex_index`` per line (``nose_tip``, eyes, lips...);
- ``regions/<region>.txt``: one vertex index per line (``face``, ``face_sphere``, ``nose``).

The dataset itself is not redistributable: request it from its authors and pass the
folder; nothing here downloads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from multineus.data.scenes import SceneViews
from shared_utils.cameras.idr import camera_from_projection
from shared_utils.cameras.viewset import CameraFormatError
from shared_utils.io.images import read_image, read_mask
from shared_utils.io.meshes import TriangleMesh, read_mesh


@dataclass
class H3DSScene:
    """One H3DS scene: views, ground-truth scan, landmarks and the mm <-> unit-sphere map."""

    views: SceneViews
    """Images, masks and cameras (in the unit-sphere frame when read normalised)."""
    mesh_mm: TriangleMesh
    """Ground-truth scan in millimetres."""
    landmarks: dict[str, int]
    """Landmark name -> vertex index of ``mesh_mm``."""
    scale_mat: np.ndarray
    """(4, 4) unit-sphere frame -> millimetres."""
    view_ids: list[int]
    """Which views of the scene were read."""

    def landmark_mm(self, name: str) -> np.ndarray:
        """(3,) position of a landmark on the scan, in mm."""
        if name not in self.landmarks:
            raise KeyError(f"landmark {name!r} not in this scene ({sorted(self.landmarks)})")
        return np.asarray(self.mesh_mm.vertices[self.landmarks[name]], dtype=np.float64)


def _read_index_lines(path: Path, field: str, n_vertices: int, named: bool) -> list:
    if not path.is_file():
        raise CameraFormatError(path, field, "file does not exist")
    out: list = []
    for line_no, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != (2 if named else 1) or not parts[-1].lstrip("-").isdigit():
            expected = "'name vertex_index'" if named else "'vertex_index'"
            raise CameraFormatError(path, f"line {line_no}", f"expected {expected}, got {line!r}")
        index = int(parts[-1])
        if not 0 <= index < n_vertices:
            raise CameraFormatError(
                path, f"line {line_no}", f"vertex index {index} outside the scan's {n_vertices}"
            )
        out.append((parts[0], index) if named else index)
    return out


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise CameraFormatError(path, "file", "cameras file does not exist")
    try:
        with np.load(path) as npz:
            return {k: np.asarray(npz[k]) for k in npz.files}
    except Exception as exc:
        raise CameraFormatError(path, "file", f"not a readable npz: {exc}") from exc


def _scale_mat(data: dict[str, np.ndarray], path: Path) -> np.ndarray:
    if "scale_mat_0" not in data:
        raise CameraFormatError(path, "scale_mat_0", "missing (unit sphere -> mm similarity)")
    scale_mat = data["scale_mat_0"].astype(np.float64)
    if scale_mat.shape != (4, 4):
        raise CameraFormatError(path, "scale_mat_0", f"shape {scale_mat.shape}, want (4, 4)")
    return scale_mat


def _read_scan(folder: Path) -> tuple[TriangleMesh, dict[str, int]]:
    """The scan (mm) of a scene folder and its landmarks (name -> vertex index)."""
    mesh_path = folder / "full_head.obj"
    if not mesh_path.is_file():
        raise CameraFormatError(mesh_path, "mesh", "ground-truth scan does not exist")
    mesh = read_mesh(mesh_path)
    landmarks = dict(
        _read_index_lines(folder / "landmarks.txt", "landmarks", len(mesh.vertices), named=True)
    )
    return mesh, landmarks


def read_h3ds_ground_truth(
    root: str | Path, scene_id: str
) -> tuple[TriangleMesh, dict[str, int], np.ndarray]:
    """The scan (mm), its landmarks (name -> vertex index) and scale_mat_0 (unit -> mm)."""
    folder = Path(root) / scene_id
    mesh, landmarks = _read_scan(folder)
    npz_path = folder / "cameras.npz"
    return mesh, landmarks, _scale_mat(_read_npz(npz_path), npz_path)


def read_h3ds_region(root: str | Path, scene_id: str, region: str, n_vertices: int) -> np.ndarray:
    """(R,) vertex indices of ``regions/<region>.txt`` of a scene."""
    path = Path(root) / scene_id / "regions" / f"{region}.txt"
    return np.asarray(_read_index_lines(path, "region", n_vertices, named=False), dtype=np.int64)


def read_h3ds_scene(
    root: str | Path,
    scene_id: str,
    *,
    views: list[int] | None = None,
    normalized: bool = True,
) -> H3DSScene:
    """Read an H3DS scene.

    Args:
        root: the dataset folder (holding one folder per scene).
        scene_id: the scene's folder name.
        views: view indices to read (e.g. the dataset's 1/3/4/8-view configurations);
            None reads all.
        normalized: cameras in the unit-sphere frame (``world_mat @ scale_mat_0``, as
            NeuS trains) instead of millimetres.

    Raises:
        CameraFormatError: naming the file and field that is missing or malformed.
    """
    folder = Path(root) / scene_id
    if not folder.is_dir():
        raise CameraFormatError(folder, "scene", "scene folder does not exist")
    npz_path = folder / "cameras.npz"
    data = _read_npz(npz_path)
    scale_mat = _scale_mat(data, npz_path)
    n_views = sum(1 for k in data if k.startswith("world_mat_") and k[10:].isdigit())
    if n_views == 0:
        raise CameraFormatError(npz_path, "world_mat_0", "no world_mat_i projections")
    ids = list(range(n_views)) if views is None else list(views)
    images, masks, cams = [], [], []
    for i in ids:
        key = f"world_mat_{i}"
        if key not in data:
            raise CameraFormatError(npz_path, key, f"missing (the file has {n_views} views)")
        P = data[key].astype(np.float64)
        if P.shape not in ((3, 4), (4, 4)):
            raise CameraFormatError(npz_path, key, f"shape {P.shape}, want (3, 4) or (4, 4)")
        image_path = folder / "image" / f"img_{i:04d}.jpg"
        mask_path = folder / "mask" / f"mask_{i:04d}.png"
        for path, field in ((image_path, "image"), (mask_path, "mask")):
            if not path.is_file():
                raise CameraFormatError(path, field, f"view {i} has no {field} file")
        image = read_image(image_path)[..., :3]
        mask = read_mask(mask_path)
        if mask.shape != image.shape[:2]:
            raise CameraFormatError(
                mask_path, "mask", f"size {mask.shape} differs from the image's {image.shape[:2]}"
            )
        P4 = np.eye(4)
        P4[:3, :4] = P[:3, :4]
        if normalized:
            P4 = P4 @ scale_mat
        images.append(image)
        masks.append(mask > 0.5)
        cams.append(camera_from_projection(P4, image.shape[1], image.shape[0]))
    mesh, landmarks = _read_scan(folder)  # cameras.npz was read above
    return H3DSScene(
        views=SceneViews.from_arrays(np.stack(images), np.stack(masks), cams),
        mesh_mm=mesh,
        landmarks=landmarks,
        scale_mat=scale_mat,
        view_ids=ids,
    )
