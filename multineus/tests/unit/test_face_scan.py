"""The real face scan: locating it, its frame, nose tip, rendering and the mm metric."""

from __future__ import annotations

import numpy as np
import pytest

from multineus.data import face_scan as fs
from multineus.data.face_scan import (
    FaceScan,
    FaceScanError,
    find_face_scan,
    head_frame_rotation,
    load_face_scan,
    nose_tip,
    render_face_scan,
)
from multineus.data.heads import HeadParams, frontal_cameras, head_nose_tip
from multineus.mesh import Mesh
from multineus.scan_check import scan_to_mesh_mm
from shared_utils.io.meshes import read_mesh, write_mesh


def _real_scan_path():
    try:
        return find_face_scan()
    except FaceScanError as exc:
        pytest.skip(f"optional real face scan not installed: {exc}")


def _bumped_plane(n: int = 60, bump=(12.0, -20.0), height: float = 15.0):
    """A 120 mm square grid facing +z with a Gaussian 'nose' at ``bump`` (mm) and a
    one-vertex spike of the same height elsewhere (scanner noise)."""
    xs = np.linspace(-60.0, 60.0, n)
    X, Y = np.meshgrid(xs, xs)
    Z = height * np.exp(-((X - bump[0]) ** 2 + (Y - bump[1]) ** 2) / (2 * 10.0**2))
    Z[5, 50] += height * 1.5  # a single spike must not win
    v = np.stack([X.ravel(), Y.ravel(), Z.ravel() - 800.0], axis=1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = np.concatenate(
        [np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)]
    )
    return v, faces


def test_nose_tip_is_the_smoothed_protrusion_not_a_spike() -> None:
    v, _ = _bumped_plane()
    tip = nose_tip(v, np.array([0.0, 0.0, 1.0]))
    np.testing.assert_allclose(tip[:2], [12.0, -20.0], atol=2.1)  # one grid step
    assert tip[2] > -800.0 + 14.0


def test_head_frame_rotation_is_proper_and_maps_the_axes() -> None:
    v, _ = _bumped_plane(bump=(0.0, 0.0), height=2.0)
    R = head_frame_rotation(v, np.array([0.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0]))
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R @ [0.0, 0.0, 1.0], [0.0, -1.0, 0.0], atol=1e-3)  # face -> -y
    np.testing.assert_allclose(R @ [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], atol=1e-3)  # up -> z
    with pytest.raises(FaceScanError, match="parallel"):
        head_frame_rotation(v, np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, 1.0]))


def test_load_puts_a_synthetic_scan_in_the_head_frame(tmp_path) -> None:
    v, f = _bumped_plane()
    path = tmp_path / "scan.ply"
    write_mesh(path, v, f)
    scan = load_face_scan(path, mm_per_unit=250.0)
    target = head_nose_tip(HeadParams())
    np.testing.assert_allclose(scan.nose, target)
    # the bump's peak lands on the mean head's nose tip, distances are kept (in mm)
    tip = np.argmin(np.linalg.norm(scan.mesh.vertices - target, axis=1))
    assert np.linalg.norm(scan.mesh.vertices[tip] - target) * 250.0 < 1e-6
    i, j = 0, len(v) - 1
    d_mm = np.linalg.norm(scan.mesh.vertices[i] - scan.mesh.vertices[j]) * 250.0
    assert d_mm == pytest.approx(np.linalg.norm(v[i] - v[j]), rel=1e-9)
    # the face looks towards -y: the nose is the front-most point
    assert scan.mesh.vertices[tip, 1] <= np.percentile(scan.mesh.vertices[:, 1], 1)


def test_load_rejects_non_face_files(tmp_path) -> None:
    v, f = _bumped_plane()
    metres = tmp_path / "metres.ply"
    write_mesh(metres, v / 1000.0, f)
    with pytest.raises(FaceScanError, match=r"metres\.ply: extent"):
        load_face_scan(metres)
    few = tmp_path / "few.ply"
    write_mesh(few, v[:3], np.array([[0, 1, 2]]))
    with pytest.raises(FaceScanError, match=r"few\.ply: a face scan needs triangles"):
        load_face_scan(few)
    with pytest.raises(FileNotFoundError, match=r"missing\.ply"):
        load_face_scan(tmp_path / "missing.ply")


def test_missing_pymeshlab_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(fs.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(FaceScanError, match=r"pymeshlab is not installed.*multineus\[face-scan\]"):
        find_face_scan()


def test_real_scan_is_a_face_in_mm_in_the_head_frame() -> None:
    path = _real_scan_path()
    raw = read_mesh(path)
    scan = load_face_scan(path)
    assert isinstance(scan, FaceScan) and scan.source == path
    assert len(scan.mesh.vertices) == len(raw.vertices) > 50000
    extent_mm = np.ptp(scan.mesh.vertices, axis=0) * scan.mm_per_unit
    # a face seen from the front: ~13 cm wide, ~19 cm tall (chin to headband), ~11 cm deep
    assert 100 < extent_mm[0] < 170 and 150 < extent_mm[2] < 230 and 80 < extent_mm[1] < 150
    near = np.linalg.norm(scan.mesh.vertices - scan.nose, axis=1) * scan.mm_per_unit < 40
    assert scan.nose[1] <= np.percentile(scan.mesh.vertices[near, 1], 2)


def test_real_scan_renders_in_the_frontal_view() -> None:
    scan = load_face_scan(_real_scan_path())
    cams = frontal_cameras(1, image_size=48, fov_deg=30.0, distance=3.0, seed=0)
    images, masks = render_face_scan(scan, cams)
    assert images.shape == (1, 48, 48, 3) and masks.shape == (1, 48, 48)
    assert 0.03 < masks.mean() < 0.4
    assert np.all(images[~masks] == 0) and images[masks].mean() > 0.2
    # the nose tip projects onto the face (the scan has holes: look at a 5x5 window)
    uv, _ = cams[0].project(scan.nose[None])
    u, v = np.round(uv[0]).astype(int)
    assert masks[0, v - 2 : v + 3, u - 2 : u + 3].mean() > 0.5


def test_scan_to_mesh_is_zero_for_the_scan_itself_after_a_rigid_motion() -> None:
    scan = load_face_scan(_real_scan_path())
    a = np.radians(3.0)
    R = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1.0]])
    moved = Mesh(scan.mesh.vertices @ R.T + [0.02, 0.0, -0.01], scan.mesh.faces)  # 5.6 mm
    mm, fitness = scan_to_mesh_mm(scan, moved, n_points=4000)
    assert mm < 0.2 and fitness > 0.99


def test_scan_to_mesh_grows_linearly_with_a_non_rigid_change() -> None:
    scan = load_face_scan(_real_scan_path())
    errors = []
    for step_mm in (1.0, 2.0, 4.0):  # one half of the face moved forward
        v = scan.mesh.vertices.copy()
        v[v[:, 0] > scan.nose[0], 1] -= step_mm / scan.mm_per_unit
        errors.append(scan_to_mesh_mm(scan, Mesh(v, scan.mesh.faces), n_points=4000)[0])
    # no rigid motion undoes it (ICP absorbs part: sloped cheeks, a slight turn), and
    # for small changes what remains scales with the change
    assert errors[0] > 0.1
    assert 1.6 < errors[1] / errors[0] < 2.4 and 1.6 < errors[2] / errors[1] < 2.4
