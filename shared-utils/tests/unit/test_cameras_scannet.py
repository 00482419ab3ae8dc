"""ScanNet-style folder reader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from shared_utils.cameras.conventions import invert_rigid
from shared_utils.cameras.rigs import look_at
from shared_utils.cameras.scannet import read_scannet
from shared_utils.cameras.viewset import CameraFormatError

K4 = np.array(
    [
        [1170.2, 0.0, 647.7, 0.0],
        [0.0, 1170.2, 483.8, 0.0],
        [0.0, 0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0, 1.0],
    ]
)


def _write_scene(root: Path, ply: bool = True) -> dict[str, np.ndarray]:
    for d in ("intrinsic", "pose", "color"):
        (root / d).mkdir(parents=True)
    np.savetxt(root / "intrinsic" / "intrinsic_color.txt", K4, fmt="%f")
    poses = {}
    for i in (0, 1, 2, 10):  # integer ordering, not string ordering
        c2w = invert_rigid(look_at((3.0 + i, 1.0, 1.5), (0.0, 0.0, 0.0)))
        if i == 2:  # a lost-tracking frame, as ScanNet writes it
            (root / "pose" / "2.txt").write_text("\n".join(["-inf -inf -inf -inf"] * 4) + "\n")
        else:
            np.savetxt(root / "pose" / f"{i}.txt", c2w, fmt="%.12f")
            poses[str(i)] = c2w
        Image.new("RGB", (32, 24)).save(root / "color" / f"{i}.jpg")
    if ply:
        lines = [
            "ply",
            "format ascii 1.0",
            "element vertex 3",
            "property float x",
            "property float y",
            "property float z",
            "property uchar red",
            "property uchar green",
            "property uchar blue",
            "end_header",
            "0 0 0 255 0 0",
            "1 0 0 0 255 0",
            "0 1 2 0 0 255",
        ]
        (root / "full.ply").write_text("\n".join(lines) + "\n")
    return poses


def test_read_scannet(tmp_path: Path) -> None:
    poses = _write_scene(tmp_path)
    vs = read_scannet(tmp_path)
    assert vs.names == ["0", "1", "10"]  # frame 2 (inf pose) skipped
    assert vs.image_paths == [tmp_path / "color" / f"{i}.jpg" for i in vs.names]
    for cam, name in zip(vs.cameras, vs.names):
        np.testing.assert_allclose(cam.K, K4[:3, :3], atol=1e-9)
        np.testing.assert_allclose(cam.world_from_cam, poses[name], atol=1e-9)
        assert (cam.width, cam.height) == (32, 24)
    assert vs.points is not None and vs.point_colors is not None
    np.testing.assert_allclose(vs.points, np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 2]]))
    np.testing.assert_allclose(vs.point_colors, np.eye(3))


def test_read_scannet_without_ply(tmp_path: Path) -> None:
    _write_scene(tmp_path, ply=False)
    vs = read_scannet(tmp_path)
    assert vs.points is None and vs.point_colors is None


def test_read_scannet_malformed(tmp_path: Path) -> None:
    with pytest.raises(CameraFormatError, match=r"intrinsic_color.txt.*does not exist"):
        read_scannet(tmp_path)
    _write_scene(tmp_path)
    kfile = tmp_path / "intrinsic" / "intrinsic_color.txt"
    np.savetxt(kfile, K4[:3, :3])
    with pytest.raises(CameraFormatError, match=r"intrinsic_color'.*4x4.*\(3, 3\)"):
        read_scannet(tmp_path)
    np.savetxt(kfile, K4)
    (tmp_path / "pose" / "1.txt").write_text("1 0 0 0\n0 1 0 0\nabc 0 1 0\n0 0 0 1\n")
    with pytest.raises(CameraFormatError, match=r"1.txt: field 'pose'.*not a numeric"):
        read_scannet(tmp_path)
    np.savetxt(tmp_path / "pose" / "1.txt", np.eye(4))
    (tmp_path / "color" / "10.jpg").unlink()
    with pytest.raises(CameraFormatError, match=r"10.jpg.*missing"):
        read_scannet(tmp_path)
    Image.new("RGB", (32, 24)).save(tmp_path / "color" / "10.jpg")
    (tmp_path / "full.ply").write_text("ply\nformat ascii 1.0\nelement vertex 0\nend_header\n")
    with pytest.raises(CameraFormatError, match=r"full.ply.*empty"):
        read_scannet(tmp_path)
    for f in (tmp_path / "pose").iterdir():
        f.write_text("\n".join(["nan nan nan nan"] * 4))
    with pytest.raises(CameraFormatError, match=r"no frame with a finite pose"):
        read_scannet(tmp_path)
