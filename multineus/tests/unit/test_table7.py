"""The paper's Table 7 layout from per-fit result files, on hand-made numbers."""

from __future__ import annotations

import json

import pytest

from multineus.cli import main
from multineus.table7 import (
    PAPER_ROWS,
    ResultFormatError,
    build_table,
    read_result,
    result_record,
    table_from_files,
    table_markdown,
)


def _write(folder, name, **record) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps(record))


def _results(folder) -> None:
    # method A: two scenes from the frontal view, one from the left, none from the right
    _write(folder, "a1.json", **result_record("A", "F", 1.0, 10.0, "s1"))
    _write(folder, "a2.json", **result_record("A", "F", 3.0, 14.0, "s2"))
    _write(folder, "a3.json", **result_record("A", "L", 4.0, 20.0, "s1"))
    # method B: one result per view
    _write(folder, "b1.json", **result_record("B", "F", 1.5, 11.0))
    _write(folder, "b2.json", **result_record("B", "L", 2.5, 12.0))
    _write(folder, "b3.json", **result_record("B", "R", 3.5, 16.0))


def test_cells_average_scenes_and_the_mean_averages_views(tmp_path) -> None:
    _results(tmp_path)
    t = table_from_files([tmp_path])
    assert list(t) == ["A", "B"]
    # A: F = (1 + 3) / 2 = 2, L = 4, R missing, mean over the present views = 3
    assert t["A"]["face_mm"] == {"F": 2.0, "L": 4.0, "R": None, "mean": 3.0}
    assert t["A"]["head_mm"] == {"F": 12.0, "L": 20.0, "R": None, "mean": 16.0}
    assert t["B"]["face_mm"] == pytest.approx({"F": 1.5, "L": 2.5, "R": 3.5, "mean": 2.5})
    assert t["B"]["head_mm"] == pytest.approx({"F": 11.0, "L": 12.0, "R": 16.0, "mean": 13.0})
    md = table_markdown(t).splitlines()
    assert md[0] == (
        "| method | face F | face L | face R | face mean | head F | head L | head R | head mean |"
    )
    assert md[2] == "| A | 2.00 | 4.00 | - | 3.00 | 12.00 | 20.00 | - | 16.00 |"
    assert md[3] == "| B | 1.50 | 2.50 | 3.50 | 2.50 | 11.00 | 12.00 | 16.00 | 13.00 |"


def test_paper_rows_reproduce_the_paper_means() -> None:
    t = build_table([], paper_rows=True)
    ours = t["Multi-NeuS 1-view (paper)"]
    for m in ("face_mm", "head_mm"):
        views = [ours[m][v] for v in "FLR"]
        assert sum(views) / 3 == pytest.approx(ours[m]["mean"], abs=0.01)  # type: ignore[arg-type]
    assert t["H3D-Net 3-view (paper)"]["face_mm"] == {"F": None, "L": None, "R": None, "mean": 1.34}
    line = table_markdown(t).splitlines()[2]
    assert line == "| H3D-Net 3-view (paper) | - | - | - | 1.34 | - | - | - | 10.53 |"
    assert list(t) == list(PAPER_ROWS)


def test_bad_result_files_name_the_file_and_field(tmp_path) -> None:
    _write(tmp_path, "noview.json", method="A", face_mm=1.0, head_mm=2.0)
    with pytest.raises(ResultFormatError, match=r"noview\.json: missing field 'view'"):
        read_result(tmp_path / "noview.json")
    _write(tmp_path, "badview.json", method="A", view="B", face_mm=1.0, head_mm=2.0)
    with pytest.raises(ResultFormatError, match=r"badview\.json: field 'view'"):
        read_result(tmp_path / "badview.json")
    _write(tmp_path, "nan.json", method="A", view="F", face_mm="x", head_mm=2.0)
    with pytest.raises(ResultFormatError, match=r"nan\.json: field 'face_mm'"):
        read_result(tmp_path / "nan.json")
    with pytest.raises(ResultFormatError, match="no result files"):
        (tmp_path / "sub").mkdir()
        table_from_files([tmp_path / "sub"])


def test_table_command_prints_and_writes_both_formats(tmp_path, capsys) -> None:
    _results(tmp_path / "r")
    main(["table", str(tmp_path / "r"), "--out", str(tmp_path / "t7"), "--paper-rows"])
    text = capsys.readouterr().out
    assert "| A | 2.00 | 4.00 | - | 3.00 |" in text
    assert (tmp_path / "t7.md").read_text().splitlines()[2].startswith("| H3D-Net 3-view")
    saved = json.loads((tmp_path / "t7.json").read_text())
    assert saved["A"]["face_mm"]["R"] is None and saved["B"]["head_mm"]["mean"] == 13.0
    assert len(saved) == 5
    with pytest.raises(SystemExit, match=r"table: .*missing field 'view'"):
        _write(tmp_path / "bad", "x.json", method="A", face_mm=1.0, head_mm=2.0)
        main(["table", str(tmp_path / "bad")])


def test_eval_writes_a_tagged_result(tmp_path, capsys) -> None:
    import numpy as np

    from multineus.mesh import marching_cubes_mesh

    for name, radius in (("pred", 0.5), ("gt", 0.52)):
        marching_cubes_mesh(
            lambda p, r=radius: np.linalg.norm(p, axis=1) - r, resolution=20, bound=0.8
        ).save(tmp_path / f"{name}.ply")
    args = [str(tmp_path / "pred.ply"), str(tmp_path / "gt.ply"), "--face-anchor", "0", "-0.5", "0"]
    with pytest.raises(SystemExit, match="--out needs --view"):
        main(["eval", *args, "--out", str(tmp_path / "x.json")])
    out = tmp_path / "res" / "pred_L.json"
    main(["eval", *args, "--mm-per-unit", "250", "--view", "L", "--method", "M", "--out", str(out)])
    printed = json.loads(capsys.readouterr().out.splitlines()[-2])
    r = read_result(out)
    assert (r.method, r.view, r.scene) == ("M", "L", "pred")
    assert r.face_mm == pytest.approx(printed["face_mm"]) and r.head_mm == printed["head_mm"]
    assert table_from_files([out])["M"]["face_mm"]["L"] == pytest.approx(r.face_mm)
