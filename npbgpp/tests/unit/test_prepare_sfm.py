"""``npbgpp prepare`` on embedded renders: pycolmap recovers the true cameras."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from npbgpp.cli import main
from npbgpp.data.loaders import load_scene
from npbgpp.data.synthetic import sfm_views
from shared_utils.cameras.colmap import read_colmap
from shared_utils.geometry.align import similarity_align
from shared_utils.io.images import write_image


def _rotation_error_deg(a: np.ndarray, b: np.ndarray) -> float:
    cos = (np.trace(a.T @ b) - 1.0) / 2.0
    return float(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0))))


def test_prepare_recovers_the_true_cameras_of_embedded_renders(tmp_path: Path) -> None:
    images, cams = sfm_views(3, views=24, size=256)
    photos = tmp_path / "photos"
    photos.mkdir()
    for i, img in enumerate(images):
        write_image(photos / f"{i:03d}.png", img)
    K = cams[0].K
    code = main(
        [
            "prepare",
            "--photos", str(photos),
            "--out", str(tmp_path / "scene"),
            "--intrinsics", str(K[0, 0]), str(K[1, 1]), str(K[0, 2]), str(K[1, 2]),
        ]
    )  # fmt: skip
    assert code == 0
    scene = load_scene(tmp_path / "scene", "colmap")
    assert len(scene.cameras) == 24  # every view registered
    assert len(scene.points) > 1000  # sparse points come with the scene
    views = read_colmap(tmp_path / "scene" / "sparse" / "0", tmp_path / "scene" / "images")
    idx = [int(Path(n).stem) for n in views.names]
    assert sorted(idx) == list(range(24))
    assert all(
        np.allclose(a.cam_from_world, b.cam_from_world)
        for a, b in zip(views.cameras, scene.cameras)
    )
    true_centres = np.stack([cams[i].center for i in idx])
    est_centres = np.stack([c.center for c in scene.cameras])
    # SfM is defined up to a similarity: align the centres, then compare every pose.
    s, R, t = similarity_align(est_centres, true_centres)
    centre_err = np.linalg.norm(s * est_centres @ R.T + t - true_centres, axis=1)
    assert centre_err.max() < 0.02 * 3.2  # < 2 % of the orbit radius
    rot_err = [_rotation_error_deg(cams[i].R, c.R @ R.T) for i, c in zip(idx, scene.cameras)]
    assert max(rot_err) < 1.0
    # Sparse points land on the true surfaces (object or ground) after the same similarity.
    pts = s * np.asarray(scene.points, dtype=np.float64) @ R.T + t
    on_ground = np.abs(pts[:, 2] + 1.05) < 0.05
    in_object = np.linalg.norm(pts, axis=1) < 1.05
    assert (on_ground | in_object).mean() > 0.95
