"""MeshLab projects (.mlp/.aln) and VCG range maps -> raw DEF-Scan views (ViewIO).

The real files are pymeshlab's test data (a two-mesh project in both formats and a
structured-light range map with VCG's PLY camera element); they are read as files, the
GPL package is not imported. Synthetic range maps are rendered here from known VCG
cameras (VCG's ``Shot::Project`` written out: ``c = R (p - t)``, ``c_z = -c_z``,
``pixel = focal * c_xy / c_z / scale + center``) and written in VCG's PLY layout.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from def_features.cli import main
from def_features.data.def_scan_raw import (
    CadItem,
    annotate_views,
    project_to_pixels,
    read_raw_views,
    write_raw_views,
)
from def_features.data.meshlab import (
    CAMERA_FIELDS,
    MeshLabFormatError,
    meshlab_raw_views,
    read_aln,
    read_mlp,
    read_project,
    read_range_map,
)


def _samples() -> Path:
    spec = importlib.util.find_spec("pymeshlab")
    if spec is None or not spec.submodule_search_locations:
        return Path("/nonexistent")
    return Path(next(iter(spec.submodule_search_locations))) / "tests" / "sample_meshes"


SAMPLES = _samples()
needs_samples = pytest.mark.skipif(
    not (SAMPLES / "sample_project.mlp").is_file()
    or not (SAMPLES / "rangemaps" / "face000.ply").is_file(),
    reason="pymeshlab's sample meshes (sample_project.mlp/.aln, rangemaps/face000.ply) "
    "are not installed",
)


# --- helpers: VCG cameras, rendering, PLY and project writers -------------------------------


def _rigid(axis: list[float], angle: float, t: list[float], scale: float = 1.0) -> np.ndarray:
    k = np.asarray(axis, float) / np.linalg.norm(axis)
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    out = np.eye(4)
    out[:3, :3] = scale * (np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K)
    out[:3, 3] = t
    return out


def _look_at_axes(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """VCG's documented shot frame: right-handed, the camera looking down its -z axis."""
    z = (eye - target) / np.linalg.norm(eye - target)
    x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    return np.stack([x, np.cross(z, x), z])


def _camera(axes, eye, f=10.0, sx=0.01, sy=0.0125, w=96, h=72, k1=0.0, center=None):
    """A VCG PLY camera row, its values rounded to float32 as VCG stores them."""
    cx, cy = (w / 2, h / 2) if center is None else center
    vals = [*eye, *np.asarray(axes).ravel(), f, sx, sy, cx, cy, w, h, k1, 0.0, 0.0, 0.0]
    return {k: (int(v) if k.startswith("viewport") else float(np.float32(v))) for k, v in
            zip(CAMERA_FIELDS, vals, strict=True)}  # fmt: skip


def _cam_arrays(cam: dict) -> tuple[np.ndarray, np.ndarray]:
    axes = np.array([[cam[f"{a}_axis{c}"] for c in "xyz"] for a in "xyz"])
    return axes, np.array([cam["view_px"], cam["view_py"], cam["view_pz"]])


def _grid_faces(nx: int, ny: int) -> np.ndarray:
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    return np.concatenate(
        [np.stack([a, b, d], -1).reshape(-1, 3), np.stack([a, d, c], -1).reshape(-1, 3)]
    )


def _rays(cam: dict, px: np.ndarray, py: np.ndarray, sign: float) -> np.ndarray:
    """Mesh-frame directions whose points project (VCG) onto pixels (px, py); ``sign``
    -1 puts them at negative VCG depth (the convention of face000.ply)."""
    axes, _ = _cam_arrays(cam)
    qx = (px - cam["centerx"]) * cam["scalex"] / cam["focal"]
    qy = (py - cam["centery"]) * cam["scaley"] / cam["focal"]
    c_vcg = sign * np.stack([qx, qy, np.ones_like(qx)], -1)
    shot = c_vcg * np.array([1.0, 1.0, -1.0])
    return shot @ np.linalg.inv(axes).T


def _render_surface(cam: dict, sign: float = 1.0, margin: int = 3):
    """Points on a smooth surface, one per integer VCG pixel; returns points, faces, VCG
    pixel x, y and the VCG depth."""
    w, h = cam["viewportx"], cam["viewporty"]
    px, py = np.meshgrid(np.arange(margin, w - margin, 1.0), np.arange(margin, h - margin, 1.0))
    ny, nx = px.shape
    depth = 400.0 + 0.4 * (px - w / 2) - 0.3 * (py - h / 2) + 0.002 * (px - w / 2) ** 2
    _, eye = _cam_arrays(cam)
    pts = eye + _rays(cam, px.ravel(), py.ravel(), sign) * depth.reshape(-1, 1)
    return pts, _grid_faces(nx, ny), px.ravel(), py.ravel(), depth.ravel()


def _write_ply(
    path: Path,
    points: np.ndarray,
    faces: np.ndarray,
    cam: dict | None = None,
    fmt: str = "binary_little_endian",
    drop: str | None = None,
) -> Path:
    """VCG's PLY layout: camera element (float, viewport int), vertex x y z (double here,
    so that points round-trip exactly), face list uchar int with VCG's extra flags."""
    cam_fields = [k for k in CAMERA_FIELDS if k != drop]
    head = ["ply", f"format {fmt} 1.0", "comment VCGLIB generated"]
    if cam is not None:
        head.append("element camera 1")
        head += [f"property {'int' if k.startswith('view') and 'port' in k else 'float'} {k}"
                 for k in cam_fields]  # fmt: skip
    head += [f"element vertex {len(points)}", "property double x", "property double y"]
    head += ["property double z", f"element face {len(faces)}"]
    head += ["property list uchar int vertex_indices", "property int flags", "end_header"]
    order = ">" if fmt == "binary_big_endian" else "<"
    with open(path, "wb") as fh:
        fh.write(("\n".join(head) + "\n").encode())
        if fmt == "ascii":
            if cam is not None:
                fh.write((" ".join(repr(cam[k]) for k in cam_fields) + "\n").encode())
            for p in points:
                fh.write((" ".join(repr(float(v)) for v in p) + "\n").encode())
            for t in faces:
                fh.write(f"3 {t[0]} {t[1]} {t[2]} 0\n".encode())
            return path
        if cam is not None:
            dt = np.dtype([(k, order + ("i4" if "viewport" in k else "f4")) for k in cam_fields])
            row = np.zeros(1, dt)
            for k in cam_fields:
                row[k] = cam[k]
            fh.write(row.tobytes())
        fh.write(np.asarray(points, order + "f8").tobytes())
        fdt = np.dtype([("n", "u1"), ("i", order + "i4", (3,)), ("fl", order + "i4")])
        frow = np.zeros(len(faces), fdt)
        frow["n"], frow["i"] = 3, faces
        fh.write(frow.tobytes())
    return path


def _write_mlp(path: Path, meshes: list[tuple[str, np.ndarray]]) -> Path:
    rows = []
    for name, m in meshes:
        mat = "\n".join(" ".join(repr(float(v)) for v in r) + " " for r in m)
        rows.append(
            f' <MLMesh visible="1" label="{Path(name).name}" filename="{name}">\n'
            f"  <MLMatrix44>\n{mat}\n</MLMatrix44>\n </MLMesh>"
        )
    body = "\n".join(rows)
    path.write_text(
        f"<!DOCTYPE MeshLabDocument>\n<MeshLabProject>\n <MeshGroup>\n{body}\n"
        " </MeshGroup>\n <RasterGroup/>\n</MeshLabProject>\n"
    )
    return path


def _write_aln(path: Path, meshes: list[tuple[str, np.ndarray]]) -> Path:
    lines = [str(len(meshes))]
    for name, m in meshes:
        lines += [name, "#"] + [" ".join(repr(float(v)) for v in r) for r in m]
    path.write_text("\n".join([*lines, "0"]) + "\n")
    return path


# --- projects -------------------------------------------------------------------------------


@needs_samples
def test_real_sample_project_in_both_formats() -> None:
    for meshes in (
        read_mlp(SAMPLES / "sample_project.mlp"),
        read_aln(SAMPLES / "sample_project.aln"),
    ):
        assert [m.path.name for m in meshes] == ["airplane.obj", "bone.ply"]
        assert [m.label for m in meshes] == ["airplane.obj", "bone.ply"]
        for m in meshes:
            assert m.path == (SAMPLES / m.path.name).resolve() and m.path.is_file()
            np.testing.assert_array_equal(m.matrix, np.eye(4))
    assert [m.path for m in read_project(SAMPLES / "sample_project.aln")] == [
        m.path for m in read_project(SAMPLES / "sample_project.mlp")
    ]


def test_written_projects_round_trip_exactly(tmp_path: Path) -> None:
    mats = [
        _rigid([0.3, -1.0, 0.2], 0.7, [12.5, -3.25, 101.0]),
        _rigid([1.0, 0.4, 0.0], -2.1, [-0.1, 0.2, 0.3], scale=1.7),  # MeshLab allows scale
    ]
    names = ["scans/a.ply", "../other/b.ply"]
    (tmp_path / "proj").mkdir()
    for writer, suffix in ((_write_mlp, ".mlp"), (_write_aln, ".aln")):
        path = writer(tmp_path / "proj" / f"p{suffix}", list(zip(names, mats, strict=True)))
        meshes = read_project(path)
        assert [m.path for m in meshes] == [
            (tmp_path / "proj" / "scans" / "a.ply").resolve(),
            (tmp_path / "other" / "b.ply").resolve(),
        ]
        for m, mat in zip(meshes, mats, strict=True):
            np.testing.assert_array_equal(m.matrix, mat)


_GOOD_MAT = "1 0 0 0 0 1 0 0 0 0 1 0 0 0 0 1"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.mlp", "<MeshLabProject><MeshGroup><MLMesh", "malformed XML"),
        ("bad.mlp", "<MeshLabProject><MeshGroup/></MeshLabProject>", "no MLMesh"),
        (
            "bad.mlp",
            f'<MeshLabProject><MLMesh label="x"><MLMatrix44>{_GOOD_MAT}</MLMatrix44>'
            "</MLMesh></MeshLabProject>",
            "MLMesh 0 has no 'filename'",
        ),
        (
            "bad.mlp",
            '<MeshLabProject><MLMesh filename="a.ply"/></MeshLabProject>',
            "MLMesh 0 (a.ply) has no MLMatrix44",
        ),
        (
            "bad.mlp",
            '<MeshLabProject><MLMesh filename="a.ply"><MLMatrix44>1 0 0 0 0 1 0 0 0 0 1 0'
            "</MLMatrix44></MLMesh></MeshLabProject>",
            "MLMatrix44 of MLMesh 0 (a.ply) has 12 numbers, not 16",
        ),
        (
            "bad.mlp",
            '<MeshLabProject><MLMesh filename="a.ply"><MLMatrix44>1 0 0 0 0 1 0 0 0 0 1 0'
            " 0 0 x 1</MLMatrix44></MLMesh></MeshLabProject>",
            "MLMatrix44 of MLMesh 0 (a.ply) is not 16 numbers",
        ),
        (
            "bad.mlp",
            '<MeshLabProject><MLMesh filename="a.ply"><MLMatrix44>1 0 0 0 0 1 0 0 0 0 1 0'
            " 0 0.5 0 1</MLMatrix44></MLMesh></MeshLabProject>",
            "MLMatrix44 of MLMesh 0 (a.ply) is not affine",
        ),
        (
            "bad.mlp",
            '<MeshLabProject><MLMesh filename="a.ply"><MLMatrix44>1 0 0 0 0 0 0 0 0 0 1 0'
            " 0 0 0 1</MLMatrix44></MLMesh></MeshLabProject>",
            "is singular",
        ),
        ("bad.aln", "two\na.ply\n#\n", "line 1 must be the mesh count"),
        ("bad.aln", f"1\na.ply\nno comment\n{_GOOD_MAT}\n0\n", "line 3: expected a '#' line"),
        ("bad.aln", "1\na.ply\n#\n1 0 0 0\n0 1 0 0\n", "expected row 2 of the matrix of a.ply"),
        (
            "bad.aln",
            "1\na.ply\n#\n1 0 0 0\n0 1 0 0\n0 0 1 0 7\n0 0 0 1\n0\n",
            "lines 4-7 (matrix of a.ply) has 17 numbers",
        ),
        ("bad.txt", "", "not a MeshLab project"),
    ],
)
def test_malformed_projects_name_the_file_and_field(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(MeshLabFormatError) as err:
        read_project(path)
    assert str(path) in str(err.value) and message in str(err.value)


# --- range maps -----------------------------------------------------------------------------


@needs_samples
def test_real_range_map_camera_puts_its_vertices_on_the_pixel_lattice() -> None:
    rmap = read_range_map(SAMPLES / "rangemaps" / "face000.ply")
    cam = rmap.camera
    assert cam is not None and rmap.extrinsics is not None and rmap.intrinsics is not None
    assert rmap.points.shape == (85849, 3) and rmap.faces.shape == (166259, 3)
    # A Minolta-like camera: 14.38 mm lens, 7.4 um pixels, 640x480, centred, no distortion.
    assert cam.focal_mm == pytest.approx(14.380219, abs=1e-5)
    np.testing.assert_allclose(cam.pixel_size_mm, [0.0074, 0.0074], rtol=1e-6)
    np.testing.assert_array_equal(cam.center_px, [320.0, 240.0])
    assert cam.viewport_px == (640, 480)
    np.testing.assert_array_equal(cam.k, 0.0)
    np.testing.assert_allclose(cam.viewpoint, [0.0, 0.0, 21.625208], atol=1e-5)
    np.testing.assert_array_equal(cam.axes, np.diag([1.0, 1.0, -1.0]))  # left-handed
    # Its points lie at negative VCG depth: the decoded camera flips the sign (a proper
    # rotation, half a turn about y) and puts every point in front of it.
    assert (cam.vcg_camera_coordinates(rmap.points)[:, 2] < 0).all()
    np.testing.assert_allclose(rmap.extrinsics[:3, :3], np.diag([-1.0, 1.0, -1.0]), atol=1e-12)
    rows, cols, depth, keep = project_to_pixels(rmap.points, rmap.extrinsics, rmap.intrinsics)
    assert keep.all() and depth.min() > 700 and depth.max() < 950  # mm from the camera
    # Our pixels are VCG's Shot::Project with the row axis turned downwards.
    vcg = cam.project(rmap.points)
    cam_pts = (rmap.points - rmap.extrinsics[:3, 3]) @ rmap.extrinsics[:3, :3]
    img = cam_pts @ rmap.intrinsics[0].T
    ours = (img[:, :2] / img[:, 2:]) @ rmap.intrinsics[1][:2, :2].T + rmap.intrinsics[1][:2, 2]
    np.testing.assert_allclose(ours[:, 0], vcg[:, 0], atol=1e-9)
    np.testing.assert_allclose(ours[:, 1], 480 - vcg[:, 1], atol=1e-9)
    assert (vcg > 0).all() and (vcg[:, 0] < 640).all() and (vcg[:, 1] < 480).all()
    # One vertex per pixel: a third of the triangle edges are horizontal, a third vertical,
    # and neighbouring vertices are 0.98 pixel apart (the scan's own lattice).
    e = np.concatenate([rmap.faces[:, [0, 1]], rmap.faces[:, [1, 2]], rmap.faces[:, [2, 0]]])
    step = ours[e[:, 1]] - ours[e[:, 0]]
    horizontal, vertical = np.abs(step[:, 1]) < 0.2, np.abs(step[:, 0]) < 0.2
    assert horizontal.mean() == pytest.approx(1 / 3, abs=0.01)
    assert vertical.mean() == pytest.approx(1 / 3, abs=0.01)
    for dim, sel in ((0, horizontal), (1, vertical)):
        lo, hi = np.percentile(np.abs(step[sel, dim]), [1, 99])
        assert 0.97 < lo and hi < 1.0
    # Rounded to pixels, 97% of the vertices get a pixel of their own (steps below 1).
    assert len(np.unique(rows * 640 + cols)) > 0.95 * len(rmap.points)


@pytest.mark.parametrize("fmt", ["binary_little_endian", "binary_big_endian", "ascii"])
@pytest.mark.parametrize("convention", ["documented", "face000"])
def test_synthetic_range_map_decodes_to_its_camera(tmp_path: Path, fmt: str, convention: str):
    eye = np.array([30.0, -20.0, 400.0])
    axes = _look_at_axes(eye, np.zeros(3))
    sign = 1.0
    if convention == "face000":  # left-handed shot frame, points at negative VCG depth
        axes, sign = axes * np.array([[1.0], [1.0], [-1.0]]), -1.0
    cam = _camera(axes, eye)
    pts, faces, px, py, depth = _render_surface(cam, sign)
    path = _write_ply(tmp_path / "rm.ply", pts, faces, cam, fmt)
    rmap = read_range_map(path)
    np.testing.assert_array_equal(rmap.points, pts)
    np.testing.assert_array_equal(rmap.faces, faces)
    c = rmap.camera
    assert c is not None and rmap.extrinsics is not None and rmap.intrinsics is not None
    axes32, eye32 = _cam_arrays(cam)
    np.testing.assert_array_equal(c.axes, axes32)
    np.testing.assert_array_equal(c.viewpoint, eye32)
    assert (c.focal_mm, c.viewport_px) == (cam["focal"], (96, 72))
    np.testing.assert_array_equal(c.pixel_size_mm, [cam["scalex"], cam["scaley"]])
    np.testing.assert_array_equal(c.center_px, [48.0, 36.0])
    F, S = rmap.intrinsics
    np.testing.assert_array_equal(F, np.diag([cam["focal"], cam["focal"], 1.0]))
    np.testing.assert_allclose(
        S, [[1 / cam["scalex"], 0, 48.0], [0, 1 / cam["scaley"], 36.0], [0, 0, 1]], rtol=1e-15
    )
    # camera_to_world: centre at the viewpoint, a proper rotation.
    np.testing.assert_array_equal(rmap.extrinsics[:3, 3], eye32)
    assert np.linalg.det(rmap.extrinsics[:3, :3]) == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(c.project(pts), np.stack([px, py], 1), atol=1e-8)
    rows, cols, d, keep = project_to_pixels(pts, rmap.extrinsics, rmap.intrinsics)
    assert keep.all()
    np.testing.assert_array_equal(cols, px.astype(int))
    np.testing.assert_array_equal(rows, 72 - py.astype(int))
    np.testing.assert_allclose(d, depth, rtol=1e-9)


def test_range_map_errors_name_the_file_and_field(tmp_path: Path) -> None:
    eye = np.array([5.0, 3.0, 300.0])
    cam = _camera(_look_at_axes(eye, np.zeros(3)), eye)
    pts, faces, *_ = _render_surface(cam)
    cases = {
        "drop_k4": (_write_ply(tmp_path / "a.ply", pts, faces, cam, drop="k4"), "lacks k4"),
        "zero_focal": (
            _write_ply(tmp_path / "b.ply", pts, faces, {**cam, "focal": 0.0}),
            "camera field 'focal' must be > 0",
        ),
        "bad_face": (
            _write_ply(tmp_path / "c.ply", pts, faces + len(pts), cam),
            "'vertex_indices' index outside",
        ),
    }
    quad = tmp_path / "d.ply"
    quad.write_text(
        "ply\nformat ascii 1.0\nelement vertex 4\nproperty float x\nproperty float y\n"
        "property float z\nelement face 1\nproperty list uchar int vertex_indices\n"
        "end_header\n0 0 0\n1 0 0\n1 1 0\n0 1 0\n4 0 1 2 3\n"
    )
    cases["quad"] = (quad, "only triangles")
    short = tmp_path / "e.ply"
    short.write_bytes(cases["zero_focal"][0].read_bytes()[:-7])
    cases["short"] = (short, "element 'face' is truncated")
    nomagic = tmp_path / "f.ply"
    nomagic.write_text("solid x\n")
    cases["nomagic"] = (nomagic, "not a PLY file")
    for path, message in cases.values():
        with pytest.raises(MeshLabFormatError) as err:
            read_range_map(path)
        assert str(path) in str(err.value) and message in str(err.value)


# --- project -> ViewIO ----------------------------------------------------------------------


def _scan_project(tmp_path: Path, fmt_writer=_write_mlp) -> tuple[Path, list, list]:
    (tmp_path / "scans").mkdir(exist_ok=True)
    maps, mats = [], []
    for k, (sign, where) in enumerate(((1.0, [30.0, -20.0, 400.0]), (-1.0, [-50.0, 40.0, 350.0]))):
        eye = np.array(where)
        axes = _look_at_axes(eye, np.zeros(3))
        if sign < 0:
            axes = axes * np.array([[1.0], [1.0], [-1.0]])
        cam = _camera(axes, eye)
        pts, faces, *_ = _render_surface(cam, sign)
        maps.append(_write_ply(tmp_path / "scans" / f"s{k}.ply", pts, faces, cam))
        mats.append(_rigid([0.2, 1.0, -0.4], 0.3 + k, [5.0 * k, -7.5, 1.25]))
    cad = _rigid([1.0, 1.0, 0.0], -0.4, [1.0, 2.0, 3.0], scale=2.0)
    entries = [("scans/s0.ply", mats[0]), ("part.obj", cad), ("scans/s1.ply", mats[1])]
    suffix = ".mlp" if fmt_writer is _write_mlp else ".aln"
    return fmt_writer(tmp_path / f"proj{suffix}", entries), maps, [*mats, cad]


def test_project_to_viewio_round_trip(tmp_path: Path) -> None:
    project, maps, (m0, m1, cad) = _scan_project(tmp_path)
    views = meshlab_raw_views(project, item_id="item_7", obj_scale=2.0, cad="part.obj")
    assert len(views) == 2
    out = tmp_path / "views.hdf5"
    write_raw_views(out, views)
    back = read_raw_views(out)
    for b, v, ply, mat in zip(back, views, maps, (m0, m1), strict=True):
        rmap = read_range_map(ply)
        np.testing.assert_array_equal(b.points, rmap.points)
        np.testing.assert_array_equal(b.faces, rmap.faces)
        np.testing.assert_array_equal(b.points_alignment, mat)
        np.testing.assert_array_equal(b.extrinsics, rmap.extrinsics)
        np.testing.assert_array_equal(b.intrinsics, rmap.intrinsics)
        # the CAD mesh lands where the project put it: obj_alignment @ (2 v) == cad @ v
        np.testing.assert_allclose(b.obj_alignment @ np.diag([2.0, 2, 2, 1]), cad, atol=1e-12)
        assert (b.obj_scale, b.item_id, b.image_size) == (2.0, "item_7", (72, 96))
        assert b.points.shape == v.points.shape
    # Without --cad the mesh list must be range maps only.
    with pytest.raises(MeshLabFormatError, match=r"'part.obj' .* is not a PLY range map"):
        meshlab_raw_views(project, item_id="item_7")
    # The .aln form and the command line give the same file.
    aln, *_ = _scan_project(tmp_path, _write_aln)
    cli_out = tmp_path / "cli.hdf5"
    args = ["import-meshlab", str(aln), "--item-id", "item_7", "--out", str(cli_out)]
    main([*args, "--obj-scale", "2", "--cad", "part.obj"])
    for a, b in zip(read_raw_views(cli_out), back, strict=True):
        for field in ("points", "faces", "points_alignment", "extrinsics", "intrinsics"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        np.testing.assert_array_equal(a.obj_alignment, b.obj_alignment)


def test_project_conversion_refuses_what_viewio_cannot_hold(tmp_path: Path) -> None:
    eye = np.array([5.0, 3.0, 300.0])
    axes = _look_at_axes(eye, np.zeros(3))
    pts, faces, *_ = _render_surface(_camera(axes, eye))
    cases = {
        "off_centre": (_camera(axes, eye, center=(40.0, 36.0)), "'centerx/centery'"),
        "distorted": (_camera(axes, eye, k1=0.01), "'k1' != 0"),
        "no_camera": (None, "no VCG 'camera' element"),
    }
    for name, (cam, message) in cases.items():
        ply = _write_ply(tmp_path / f"{name}.ply", pts, faces, cam)
        project = _write_aln(tmp_path / f"{name}.aln", [(ply.name, np.eye(4))])
        with pytest.raises(MeshLabFormatError) as err:
            meshlab_raw_views(project, item_id="x")
        assert str(ply) in str(err.value) and message in str(err.value)
    with pytest.raises(SystemExit, match=r"import-meshlab: .*no_camera\.ply"):
        main(["import-meshlab", str(tmp_path / "no_camera.aln"), "--item-id", "x",
              "--out", str(tmp_path / "o.hdf5")])  # fmt: skip
    with pytest.raises(SystemExit):
        main(["import-meshlab", "--help"])


def _ray_box(origin: np.ndarray, dirs: np.ndarray, half: float) -> tuple[np.ndarray, np.ndarray]:
    """First hit (t, hit) of rays with the box [-half, half]^3 (slab method)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = (-half - origin) / dirs
        t2 = (half - origin) / dirs
    tmin = np.nanmax(np.minimum(t1, t2), axis=1)
    tmax = np.nanmin(np.maximum(t1, t2), axis=1)
    hit = (tmax >= tmin) & (tmin > 0)
    return tmin, hit


def test_meshlab_scan_of_a_cube_annotates_with_the_true_edge_distances(tmp_path: Path) -> None:
    """End to end: a cube (OBJ units, side 20, obj_scale 2) aligned in a project by a
    rigid CAD matrix, scanned by one VCG range map stored in its own frame."""
    half = 20.0  # mm, after obj_scale
    cube_to_proj = _rigid([0.3, 0.2, 1.0], 0.5, [10.0, -5.0, 2.0])  # the cube in mm
    cad = cube_to_proj @ np.diag([2.0, 2.0, 2.0, 1.0])  # the OBJ (side 20) in the project
    scan_to_proj = _rigid([1.0, -0.5, 0.2], 0.8, [-30.0, 12.0, 7.0])
    # The camera in the scan's own frame looks at the cube's centre from a corner.
    centre_scan = np.linalg.inv(scan_to_proj) @ cube_to_proj @ [0.0, 0.0, 0.0, 1.0]
    to_cube = np.linalg.inv(cube_to_proj) @ scan_to_proj  # scan frame -> cube frame (mm)
    eye_cube = np.array([150.0, 120.0, 110.0])
    eye = (np.linalg.inv(to_cube) @ [*eye_cube, 1.0])[:3]
    cam = _camera(_look_at_axes(eye, centre_scan[:3]), eye, f=10.0, sx=0.01, sy=0.01, w=128, h=128)
    px, py = np.meshgrid(np.arange(1.0, 128.0), np.arange(1.0, 128.0))
    dirs_scan = _rays(cam, px.ravel(), py.ravel(), 1.0)
    _, eye32 = _cam_arrays(cam)
    origin_cube = to_cube[:3, :3] @ eye32 + to_cube[:3, 3]
    dirs_cube = dirs_scan @ to_cube[:3, :3].T
    t, hit = _ray_box(origin_cube, dirs_cube, half)
    assert hit.sum() > 3000
    pts_cube = origin_cube + t[hit, None] * dirs_cube[hit]
    pts_scan = eye32 + t[hit, None] * dirs_scan[hit]
    _write_ply(tmp_path / "scan.ply", pts_scan, np.zeros((0, 3), int), cam)
    project = _write_mlp(tmp_path / "p.mlp", [("scan.ply", scan_to_proj), ("cube.obj", cad)])
    views = meshlab_raw_views(project, item_id="cube", obj_scale=2.0, cad="cube.obj")
    # The CAD item in OBJ units: a cube of side 20 and its 12 edges.
    corners = np.array([[x, y, z] for x in (-10, 10) for y in (-10, 10) for z in (-10, 10)], float)
    quads = [[0, 1, 3, 2], [4, 6, 7, 5], [0, 4, 5, 1], [2, 3, 7, 6], [0, 2, 6, 4], [1, 5, 7, 3]]
    tris = np.array([t for q in quads for t in ([q[0], q[1], q[2]], [q[0], q[2], q[3]])])
    edges = [corners[[a, b]] for a in range(8) for b in range(a + 1, 8)
             if np.count_nonzero(corners[a] != corners[b]) == 1]  # fmt: skip
    assert len(edges) == 12
    item = CadItem(corners, tris, edges, num_surfaces=6)
    (ann,) = annotate_views(views, item, truncation=1.0, max_point_mesh_distance=0.5)
    assert ann.aligned_points == hit.sum()
    # True distances in the cube frame: to the nearest edge (side 40 mm), truncated at 1.
    a = np.stack([2 * e[0] for e in edges])
    b = np.stack([2 * e[1] for e in edges])
    ab = b - a
    s = np.clip(np.einsum("pki,ki->pk", pts_cube[:, None] - a, ab) / (ab * ab).sum(1), 0, 1)
    true = np.linalg.norm(pts_cube[:, None] - (a + s[..., None] * ab), axis=2).min(1)
    true = np.minimum(true, 1.0)
    rows = 128 - py.ravel()[hit].astype(int)
    cols = px.ravel()[hit].astype(int)
    keep = (rows > 0) & (cols > 0)
    got = ann.distances[rows[keep], cols[keep]]
    assert (ann.depth[rows[keep], cols[keep]] > 0).all()
    np.testing.assert_allclose(got, true[keep], atol=1e-4)
    assert ann.has_sharp and (true < 1.0).sum() > 100
