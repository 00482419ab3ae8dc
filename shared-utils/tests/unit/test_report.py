"""Report sections (JSON round trip, media files) and the static index page."""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import unquote

import imageio.v3 as iio
import numpy as np
import pytest
from PIL import Image

from shared_utils.report import ReportFormatError, ReportSection, load_section, write_index


def _frames(t: int = 6, h: int = 33, w: int = 47) -> np.ndarray:
    """Smooth moving gradients (lossy H.264 keeps them within a few levels)."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack(
        [np.stack([x / w, y / h, np.full((h, w), k / t)], -1) for k in range(t)]
    ).astype(np.float32)


def _full_section(out_dir: Path, tmp_path: Path) -> ReportSection:
    external = tmp_path / "elsewhere.png"
    Image.fromarray(np.full((5, 7, 3), 200, np.uint8)).save(external)
    section = ReportSection(out_dir, "NPBG++ <demo>", "npbgpp")
    section.text("First paragraph with <b>tags</b> & ampersands.\n\nSecond paragraph.")
    section.image(np.linspace(0, 1, 4 * 6 * 3).reshape(4, 6, 3), "a float image")
    section.image(external, "copied image")
    section.video(_frames(), "frames video", fps=5)
    section.table(
        ["view", "psnr", "ok"], [("a", 25.5, True), ("b", np.float32(24.25), None)], "table"
    )
    section.metrics({"psnr": 26.06, "ssim": np.float64(0.936), "steps": 100}, "flat metrics")
    section.metrics({"view 0": {"psnr": 25.0, "ssim": 0.9}, "view 1": {"psnr": 27.0}}, "nested")
    return section


def test_every_item_kind_saves_and_reloads_equal(tmp_path: Path) -> None:
    out = tmp_path / "npbgpp"
    section = _full_section(out, tmp_path)
    # A video given as a path inside out_dir is referenced in place.
    section.video(out / "video_000.mp4", "same file")
    path = section.save()
    assert path == out / "report.json"
    loaded = load_section(out)
    assert (loaded.title, loaded.member, loaded.status, loaded.error) == (
        "NPBG++ <demo>",
        "npbgpp",
        "ok",
        None,
    )
    assert loaded.items == section.items
    assert [i["kind"] for i in loaded.items] == [
        "text",
        "image",
        "image",
        "video",
        "table",
        "metrics",
        "metrics",
        "video",
    ]
    assert loaded.items[4]["rows"] == [["a", 25.5, True], ["b", 24.25, None]]
    for item in loaded.items:
        if "path" in item:
            assert not Path(item["path"]).is_absolute() and (out / item["path"]).is_file()
    # The PNG holds the array rounded to uint8.
    png = np.asarray(Image.open(out / loaded.items[1]["path"]))
    expected = np.round(np.linspace(0, 1, 72).reshape(4, 6, 3) * 255).astype(np.uint8)
    np.testing.assert_array_equal(png, expected)
    assert loaded.items[2]["path"] == "elsewhere.png"
    # The mp4: all frames, padded to even size, close to the input.
    frames = np.stack(list(iio.imiter(out / "video_000.mp4")))
    assert frames.shape == (6, 34, 48, 3)
    diff = np.abs(frames[:, :33, :47].astype(np.float64) - _frames() * 255.0)
    assert diff.mean() < 4.0


def test_load_section_reports_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ReportFormatError, match=r"report\.json: file not found"):
        load_section(tmp_path)
    (tmp_path / "report.json").write_text("{not json")
    with pytest.raises(ReportFormatError, match="not readable JSON"):
        load_section(tmp_path)
    (tmp_path / "report.json").write_text(json.dumps({"title": "t", "member": "m", "status": "ok"}))
    with pytest.raises(ReportFormatError, match="field 'items' missing"):
        load_section(tmp_path)
    bad_item = {
        "title": "t",
        "member": "m",
        "status": "ok",
        "items": [{"kind": "image", "caption": ""}],
    }
    (tmp_path / "report.json").write_text(json.dumps(bad_item))
    with pytest.raises(ReportFormatError, match=r"items\[0\]\.path missing"):
        load_section(tmp_path)


def test_bad_items_raise(tmp_path: Path) -> None:
    section = ReportSection(tmp_path, "t", "m")
    with pytest.raises(ValueError, match="row 0 has 1 cells, headers have 2"):
        section.table(["a", "b"], [[1]])
    with pytest.raises(TypeError, match="cells must be"):
        section.metrics({"x": [1, 2]})
    with pytest.raises(FileNotFoundError, match="no such file"):
        section.image(tmp_path / "missing.png")
    with pytest.raises(ValueError, match="image must be"):
        section.image(np.zeros((4, 4, 2)))


def test_index_lists_members_escapes_text_and_shows_failures(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    good = _full_section(root / "npbgpp", tmp_path)
    good.text("<script>alert(1)</script>")
    good.save()
    failed = ReportSection(root / "def", "DEF features", "def")
    failed.text("partial output")
    failed.fail("CUDA <missing>")
    failed.save()
    index = write_index(
        root,
        {
            "npbgpp": root / "npbgpp",
            "def": root / "def",
            "lvt": "training diverged <nan>",
            "multineus": root / "never_ran",
        },
        title="Workspace demo",
    )
    assert index == root / "index.html"
    page = index.read_text()
    for title in ("Workspace demo", "NPBG++ &lt;demo&gt;", "DEF features", "lvt", "multineus"):
        assert title in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;b&gt;tags&lt;/b&gt; &amp; ampersands." in page
    assert "failed: training diverged &lt;nan&gt;" in page
    assert "failed: CUDA &lt;missing&gt;" in page
    assert "not run: no report.json" in page
    # Self-contained: inline CSS, nothing fetched from elsewhere.
    assert "<style>" in page and "http://" not in page and "https://" not in page
    assert "<link" not in page
    sources = re.findall(r'<(?:img|video)[^>]* src="([^"]+)"', page)
    assert len(sources) == 3
    for src in sources:
        assert not src.startswith("/")
        assert (root / unquote(src)).is_file()
    assert "<video controls" in page
    # Contents list links to each member's section.
    for member in ("npbgpp", "def", "lvt", "multineus"):
        assert f'href="#member-{member}"' in page and f'id="member-{member}"' in page
    # Tables: nested metrics become one row per key; values are formatted.
    assert "<td>view 1</td><td>27</td><td>-</td>" in page


def test_index_from_a_list_of_folders(tmp_path: Path) -> None:
    section = ReportSection(tmp_path / "run" / "lvt", "LVT", "lvt")
    section.metrics({"bits/dim": 3.25})
    section.save()
    page = write_index(tmp_path / "run", [tmp_path / "run" / "lvt"]).read_text()
    assert 'id="member-lvt"' in page and "<td>bits/dim</td><td>3.25</td>" in page
