"""SMPL geodesic files in the official layout -> a memory-mapped body surface for GPS.

The files are written here in DensePose's formats from the synthetic body: its dense
geodesic table stands in for the SMPL mesh's, and the chart vertices list every mesh
vertex once (shuffled) plus duplicated seam vertices, as ``SMPL_subdiv.mat`` does.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.io import savemat

from mobile_densepose.cli import main
from mobile_densepose.data.body import BodySurface, synthetic_body_surface
from mobile_densepose.data.smpl_geodesics import (
    MeshGeodesics,
    convert_smpl_geodesics,
    pair_index,
)
from mobile_densepose.eval.gps import GeodesicScorer


def official_condensed(table: np.ndarray) -> np.ndarray:
    """(M, 1) float64 distances, row of each pair from the official evaluator's index
    arithmetic (vertex order reversed, scipy's condensed index, reversed again), by loop."""
    n = table.shape[0]
    out = np.zeros((n * (n - 1) // 2, 1), np.float64)
    for i in range(n):
        for j in range(i):  # i > j after the evaluator's swap
            ri, rj = n - i - 1, n - j - 1
            k1 = n * (n - 1) // 2 - (n - ri) * (n - ri - 1) // 2 + rj - ri - 1
            out[n * (n - 1) // 2 - k1 - 1, 0] = table[i, j]
    return out


@pytest.fixture(scope="module")
def official_files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    body = synthetic_body_surface(grid=3)
    table = np.asarray(body.geodesic, np.float32)
    n = table.shape[0]
    rng = np.random.default_rng(0)
    seams = rng.choice(n, 25, replace=False)
    vertex = np.concatenate([rng.permutation(n), seams])  # mesh vertex of each chart vertex
    parts = body.parts[vertex]
    uv = body.uv[vertex].copy()
    uv[n:] = np.clip(uv[n:] + rng.uniform(-0.02, 0.02, (25, 2)), 0, 1)  # a seam's other copy
    root = tmp_path_factory.mktemp("smpl")
    savemat(
        root / "SMPL_subdiv.mat",
        {"U_subdiv": uv[None, :, 0], "V_subdiv": uv[None, :, 1], "Part_ID_subdiv": parts[None]},
    )
    savemat(root / "SMPL_SUBDIV_TRANSFORM.mat", {"index": (vertex + 1)[:, None].astype(np.int32)})
    with open(root / "Pdist_matrix.pkl", "wb") as f:
        pickle.dump({"Pdist_matrix": official_condensed(table.astype(np.float64))}, f, protocol=2)
    with open(root / "geodists_full.pkl", "wb") as f:
        pickle.dump(table, f)
    return {"root": root, "table": table, "vertex": vertex, "parts": parts, "uv": uv}


def convert(files: dict, out: Path, pdist: str = "Pdist_matrix.pkl") -> Path:
    root = files["root"]
    return convert_smpl_geodesics(
        root / "SMPL_subdiv.mat", root / "SMPL_SUBDIV_TRANSFORM.mat", root / pdist, out
    )


def test_pair_index_matches_the_official_arithmetic() -> None:
    table = np.arange(36, dtype=np.float64).reshape(6, 6)
    table = table + table.T
    cond = official_condensed(table)[:, 0]
    a, b = np.meshgrid(np.arange(6), np.arange(6), indexing="ij")
    off = a != b
    np.testing.assert_array_equal(cond[pair_index(a[off], b[off])], table[a[off], b[off]])


def test_converted_surface_equals_the_dense_table(official_files: dict, tmp_path: Path) -> None:
    path = convert(official_files, tmp_path / "out")
    surface = BodySurface.load(str(path))
    assert isinstance(surface.geodesic, MeshGeodesics)
    assert isinstance(surface.geodesic.condensed, np.memmap)  # not read into memory
    np.testing.assert_array_equal(surface.parts, official_files["parts"])
    np.testing.assert_allclose(surface.uv, official_files["uv"])
    v = official_files["vertex"]
    np.testing.assert_array_equal(surface.geodesic.dense(), official_files["table"][v][:, v])


def test_both_pickle_layouts_give_the_same_table(official_files: dict, tmp_path: Path) -> None:
    a = convert(official_files, tmp_path / "a")
    b = convert(official_files, tmp_path / "b", "geodists_full.pkl")
    assert (a.parent / "smpl_geodesics.npy").read_bytes() == (
        b.parent / "smpl_geodesics.npy"
    ).read_bytes()


def test_gps_through_the_mesh_table_equals_the_dense_scorer(
    official_files: dict, tmp_path: Path
) -> None:
    surface = BodySurface.load(str(convert(official_files, tmp_path / "out")))
    assert isinstance(surface.geodesic, MeshGeodesics)
    dense = BodySurface(surface.parts, surface.uv, surface.geodesic.dense())
    rng = np.random.default_rng(1)
    p = 500
    gt_parts = torch.from_numpy(rng.integers(1, 25, p))
    pred_parts = torch.where(
        torch.from_numpy(rng.random(p) < 0.7), gt_parts, torch.from_numpy(rng.integers(0, 25, p))
    )
    gt_uv, pred_uv = (torch.from_numpy(rng.random((p, 2))) for _ in range(2))
    for per_part in (False, True):
        ours = GeodesicScorer(surface, implementation="torch", per_part_kappa=per_part)
        ref = GeodesicScorer(dense, implementation="torch", per_part_kappa=per_part)
        got = ours.scores(gt_parts, gt_uv, pred_parts, pred_uv)
        torch.testing.assert_close(got, ref.scores(gt_parts, gt_uv, pred_parts, pred_uv))
        assert float(got.max()) > 0.5 and float(got[pred_parts == 0].abs().max()) == 0.0
        same = ours.scores(gt_parts, gt_uv, gt_parts, gt_uv)
        torch.testing.assert_close(same, torch.ones(p, dtype=same.dtype))


def test_cli_converts(official_files: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    root = official_files["root"]
    main(
        [
            "convert-geodesics",
            "--smpl-subdiv", str(root / "SMPL_subdiv.mat"),
            "--subdiv-transform", str(root / "SMPL_SUBDIV_TRANSFORM.mat"),
            "--pdist", str(root / "Pdist_matrix.pkl"),
            "--out", str(tmp_path / "cli"),
        ]
    )  # fmt: skip
    assert "smpl_surface.npz" in capsys.readouterr().out
    assert BodySurface.load(str(tmp_path / "cli" / "smpl_surface.npz")).parts.shape[0] == len(
        official_files["vertex"]
    )


def test_malformed_files_name_the_file_and_field(official_files: dict, tmp_path: Path) -> None:
    root = official_files["root"]
    uv = official_files["uv"]
    bad = tmp_path / "SMPL_subdiv.mat"
    savemat(bad, {"U_subdiv": uv[None, :, 0], "Part_ID_subdiv": official_files["parts"][None]})
    with pytest.raises(KeyError, match=r"SMPL_subdiv\.mat.*'V_subdiv'"):
        convert_smpl_geodesics(
            bad, root / "SMPL_SUBDIV_TRANSFORM.mat", root / "Pdist_matrix.pkl", tmp_path / "o"
        )
    short = tmp_path / "SMPL_SUBDIV_TRANSFORM.mat"
    savemat(short, {"index": np.arange(1, 11)[:, None]})
    with pytest.raises(ValueError, match=r"SMPL_SUBDIV_TRANSFORM\.mat.*'index'"):
        convert_smpl_geodesics(
            root / "SMPL_subdiv.mat", short, root / "Pdist_matrix.pkl", tmp_path / "o"
        )
    odd = tmp_path / "odd.pkl"
    with open(odd, "wb") as f:
        pickle.dump({"Pdist_matrix": np.ones((7, 1))}, f)
    with pytest.raises(ValueError, match=r"odd\.pkl.*7 distances"):
        convert_smpl_geodesics(
            root / "SMPL_subdiv.mat", root / "SMPL_SUBDIV_TRANSFORM.mat", odd, tmp_path / "o"
        )
    small = tmp_path / "small.pkl"
    with open(small, "wb") as f:
        pickle.dump({"Pdist_matrix": np.ones((10, 1))}, f)  # 5 vertices only
    with pytest.raises(ValueError, match=r"'index' reaches vertex"):
        convert_smpl_geodesics(
            root / "SMPL_subdiv.mat", root / "SMPL_SUBDIV_TRANSFORM.mat", small, tmp_path / "o"
        )
    bad_value = tmp_path / "nan.pkl"
    table = official_condensed(official_files["table"].astype(np.float64))
    table[len(table) // 2, 0] = np.nan
    with open(bad_value, "wb") as f:
        pickle.dump({"Pdist_matrix": table}, f)
    with pytest.raises(ValueError, match=r"nan\.pkl: distances must be finite"):
        convert_smpl_geodesics(
            root / "SMPL_subdiv.mat", root / "SMPL_SUBDIV_TRANSFORM.mat", bad_value, tmp_path / "o"
        )
    assert not list((tmp_path / "o").glob("*.tmp.npy"))  # no partial table left behind
