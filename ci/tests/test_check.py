"""The check command: a consistent workspace passes, each kind of drift is reported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from wstool import cli
from wstool.check import check_workspace
from wstool.manifest import load_manifest


def _problems(root: Path) -> list[str]:
    return check_workspace(load_manifest(root / "workspace.toml"))


def test_consistent(fake_workspace: Callable[..., Path]) -> None:
    assert _problems(fake_workspace({"a": {}, "b": {}})) == []


def test_version_mismatch(
    fake_workspace: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = fake_workspace({"a": {}})
    pyproject = root / "a" / "pyproject.toml"
    pyproject.write_text('[project]\nname = "a"\nversion = "0.2.0"\n', encoding="utf-8")
    (problem,) = _problems(root)
    assert problem.startswith("a/pyproject.toml: ")
    assert "version '0.2.0' != workspace.toml version '0.1.0'" in problem
    assert cli.main(["check"], root=root) == 1
    assert "1 problem(s)" in capsys.readouterr().out


def test_missing_files_doi_and_changelog(fake_workspace: Callable[..., Path]) -> None:
    root = fake_workspace({"a": {}})
    (root / "a" / "README.md").write_text("", encoding="utf-8")
    (root / "a" / "CITATION.cff").write_text("doi: 10.9999/other\n", encoding="utf-8")
    (root / "a" / "CHANGELOG.md").write_text("# Changelog\n\n## 0.0.9\n", encoding="utf-8")
    problems = _problems(root)
    assert any("README.md: missing or empty" in p for p in problems)
    assert any("does not contain the DOI 10.1234/a" in p for p in problems)
    assert any("no heading for version 0.1.0" in p for p in problems)


def test_root_members_and_workflow_drift(fake_workspace: Callable[..., Path]) -> None:
    root = fake_workspace({"a": {}, "b": {}})
    (root / "pyproject.toml").write_text('[tool.uv.workspace]\nmembers = ["a"]\n', encoding="utf-8")
    wf = root / ".github" / "workflows" / "ci.yml"
    wf.write_text(
        wf.read_text(encoding="utf-8").replace(
            "{member: b, job: kernels}", "{member: b, job: smoke}"
        )
    )
    problems = _problems(root)
    assert any("[tool.uv.workspace] members ['a']" in p for p in problems)
    assert any("lacks [('b', 'kernels')]" in p for p in problems)
    assert any("not in workspace.toml: [('b', 'smoke')]" in p for p in problems)


def test_results_table_missing_or_malformed(fake_workspace: Callable[..., Path]) -> None:
    root = fake_workspace({"a": {}, "b": {}})
    (root / "a" / "results.json").unlink()
    (root / "b" / "results.json").write_text('[{"metric": "PSNR", "ours": 1}]', encoding="utf-8")
    problems = _problems(root)
    assert len(problems) == 2
    assert problems[0].startswith("a/results.json: missing")
    assert problems[1] == "b/results.json: results[0].command must be a non-empty string"
