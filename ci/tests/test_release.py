"""Release helpers: version agreement, results.json validation, report metrics, checksums."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from wstool.manifest import load_manifest
from wstool.release import (
    ReleaseError,
    check_version,
    load_results,
    render_markdown,
    results_from_report,
    sha256_file,
)


def test_version_mismatch_is_refused(fake_workspace: Callable[..., Path]) -> None:
    root = fake_workspace({"a": {}})
    manifest = load_manifest(root / "workspace.toml")
    check_version(root, manifest.members[0])
    (root / "a" / "pyproject.toml").write_text('[project]\nname = "a"\nversion = "0.1.1"\n')
    with pytest.raises(
        ReleaseError, match=r"workspace.toml says '0.1.0', a/pyproject.toml says '0.1.1'"
    ):
        check_version(root, manifest.members[0])


def test_results_json(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    rows = [{"metric": "PSNR", "paper": 23.4, "ours": 22.9, "command": "x eval", "data": "lego"}]
    path.write_text(json.dumps({"results": rows}))
    assert load_results(path) == rows
    path.write_text(json.dumps([{"metric": "PSNR", "ours": 1.0}]))
    with pytest.raises(ReleaseError, match=r"results.json: results\[0\].command must be"):
        load_results(path)
    path.write_text(json.dumps([{"metric": "PSNR", "ours": [1], "command": "c"}]))
    with pytest.raises(ReleaseError, match=r"results\[0\].ours must be a number"):
        load_results(path)


def test_results_from_report_metrics(fake_workspace: Callable[..., Path], tmp_path: Path) -> None:
    root = fake_workspace({"a": {}}, member_extra={"a": 'cli = "a"\n'})
    member = load_manifest(root / "workspace.toml").members[0]
    report = tmp_path / "report.json"
    blocks = [
        {"kind": "text", "text": "hi"},
        {"kind": "metrics", "metrics": {"psnr": 21.5, "ssim": 0.8}},
    ]
    report.write_text(json.dumps({"title": "t", "blocks": blocks}))
    rows = results_from_report(report, member)
    assert [(r["metric"], r["ours"]) for r in rows] == [("psnr", 21.5), ("ssim", 0.8)]
    assert rows[0]["command"] == "a demo --out runs/demo/a"


def test_sha256_and_markdown(tmp_path: Path) -> None:
    blob = tmp_path / "ckpt.pt"
    blob.write_bytes(b"weights" * 1000)
    assert sha256_file(blob) == hashlib.sha256(b"weights" * 1000).hexdigest()
    data = {
        "member": "a",
        "version": "0.1.0",
        "tag": "a-v0.1.0",
        "paper": None,
        "doi": "10.1/x",
        "git": {"commit": "abc", "dirty": True},
        "uv_lock_sha256": "f" * 64,
        "results_source": None,
        "results": [
            {"metric": "PSNR", "paper": 23.4, "ours": None, "command": "x eval", "data": "lego"}
        ],
        "checkpoints": [{"file": "ckpt.pt", "bytes": 7000, "sha256": "0" * 64}],
        "artifacts": [],
    }
    md = render_markdown(data)
    assert "| PSNR | 23.4 | - | lego | `x eval` |" in md
    assert "(work tree dirty)" in md and "`ckpt.pt` (7000 bytes)" in md
