"""Selecting cells, the table, and end-to-end runs on a fake workspace (exit codes)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from wstool import cli, junit
from wstool.jobs import JobOutcome
from wstool.manifest import ManifestError, load_manifest
from wstool.matrix import MatrixResult, render_table, select

PASSING = """
import pytest

def test_sum():
    assert sum(range(5)) == 10

def test_sorted():
    assert sorted([3, 1, 2]) == [1, 2, 3]

@pytest.mark.skip(reason="needs a GPU")
def test_gpu():
    pass
"""

FAILING = """
def test_wrong():
    assert 2 + 2 == 5
"""


@pytest.fixture(autouse=True)
def _fast_pytest(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake members' pytest runs need no third-party plugins (faster start)."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


def _last_line(out: str) -> str:
    return out.strip().splitlines()[-1]


def test_select_filters(fake_workspace: Callable[..., Path]) -> None:
    root = fake_workspace({"a": {}, "b": {}}, jobs=["lint", "unit", "smoke"])
    manifest = load_manifest(root / "workspace.toml")
    full = select(manifest)
    assert [r.name for r in full.rows] == ["ci", "a", "b"]
    assert full.jobs == ("lint", "unit", "smoke")
    assert [(m.name, j) for m, j in full.cells][:4] == [
        ("ci", "lint"),
        ("ci", "unit"),
        ("a", "lint"),
        ("a", "unit"),
    ]
    only = select(manifest, ["b"], ["smoke", "lint"])
    assert [(m.name, j) for m, j in only.cells] == [("b", "lint"), ("b", "smoke")]
    # Optional jobs run only when asked for, and never for the tooling row.
    assert all(j != "bench" for _, j in full.cells)
    bench = select(manifest, [], ["bench"])
    assert [(m.name, j) for m, j in bench.cells] == [("a", "bench"), ("b", "bench")]
    with pytest.raises(ManifestError, match="no member named 'zz'"):
        select(manifest, ["zz"])
    with pytest.raises(ManifestError, match="unknown job 'fuzz'"):
        select(manifest, [], ["fuzz"])


def test_table(fake_workspace: Callable[..., Path]) -> None:
    root = fake_workspace({"a": {}, "b": {}}, jobs=["unit", "smoke"])
    selection = select(load_manifest(root / "workspace.toml"), ["a", "b"])
    result = MatrixResult(
        {
            ("a", "unit"): JobOutcome("PASS", 1.25, None),
            ("a", "smoke"): JobOutcome("EMPTY", 0.0, None),
            ("b", "unit"): JobOutcome("FAIL", 3.0, None),
        }
    )
    lines = render_table(selection, result).splitlines()
    assert lines[0].split() == ["member", "unit", "smoke", "total"]
    assert lines[2].split() == ["a", "PASS", "1.2s", "EMPTY", "0.0s", "1.2s"]
    assert lines[3].split() == ["b", "FAIL", "3.0s", "-", "3.0s"]
    assert result.failed == [("b", "unit")]


def test_failing_member_fails_the_run(
    fake_workspace: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = fake_workspace(
        {
            "good": {
                "tests/unit/test_good.py": PASSING,
                "tests/kernels/test_helpers.py": "VALUE = 1\n",
            },
            "bad": {"tests/unit/test_bad.py": FAILING},
        }
    )
    code = cli.main(["test", "--no-bootstrap", "--member", "good", "--member", "bad"], root=root)
    out = capsys.readouterr().out
    assert code == 1
    # 2 good tests + check + bootstrap pass; 1 failure; 1 skip.
    assert _last_line(out) == "4 passed, 1 failed, 1 skipped"
    table = out[out.index("member ") :]
    rows = {line.split()[0]: line.split() for line in table.splitlines()[2:4]}
    assert rows["good"][1:3] == ["PASS", rows["good"][2]] and rows["good"][3] == "EMPTY"
    assert rows["bad"][1] == "FAIL" and rows["bad"][3] == "EMPTY"  # no tests/kernels folder
    assert "failed: bad/unit" in out
    bad_xml = root / ".ci-work" / "junit" / "bad-unit.xml"
    assert junit.read_counts(bad_xml) == junit.Counts(0, 1, 0)


def test_passing_run_exits_zero(
    fake_workspace: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = fake_workspace({"good": {"tests/unit/test_good.py": PASSING}})
    code = cli.main(["test", "--no-bootstrap", "--member", "good", "--job", "unit"], root=root)
    assert code == 0
    assert _last_line(capsys.readouterr().out) == "4 passed, 0 failed, 1 skipped"


def test_timeout_kills_and_fails(
    fake_workspace: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    slow = "import time\n\ndef test_slow():\n    time.sleep(60)\n"
    root = fake_workspace(
        {"slow": {"tests/unit/test_slow.py": slow}}, member_extra={"slow": "timeout_s = 3\n"}
    )
    code = cli.main(["test", "--no-bootstrap", "--member", "slow", "--job", "unit"], root=root)
    out = capsys.readouterr().out
    assert code == 1
    assert "TIMEOUT" in out
    assert _last_line(out) == "2 passed, 1 failed, 0 skipped"
