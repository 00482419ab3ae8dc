"""JUnit reading (outcome counts), writing for step jobs, and the summary line."""

from __future__ import annotations

from pathlib import Path

import pytest
from wstool import junit
from wstool.proc import StepResult

PYTEST_STYLE = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="1" failures="1" skipped="2" tests="6">
<testcase classname="t" name="a"/>
<testcase classname="t" name="b"><failure message="boom"/></testcase>
<testcase classname="t" name="c"><error message="fixture"/></testcase>
<testcase classname="t" name="d"><skipped message="no gpu"/></testcase>
<testcase classname="t" name="e"><skipped type="pytest.xfail" message="xfail"/></testcase>
<testcase classname="t" name="f"><system-out>hello</system-out></testcase>
</testsuite></testsuites>
"""


def test_counts_by_outcome(tmp_path: Path) -> None:
    path = tmp_path / "a.xml"
    path.write_text(PYTEST_STYLE, encoding="utf-8")
    assert junit.read_counts(path) == junit.Counts(passed=2, failed=2, skipped=2)


def test_sum_over_files_ignores_missing(tmp_path: Path) -> None:
    a = tmp_path / "a.xml"
    a.write_text(PYTEST_STYLE, encoding="utf-8")
    b = tmp_path / "b.xml"
    b.write_text('<testsuite tests="1"><testcase name="x"/></testsuite>', encoding="utf-8")
    total = junit.sum_counts([a, b, tmp_path / "missing.xml"])
    assert total == junit.Counts(3, 2, 2)
    assert total.summary_line() == "3 passed, 2 failed, 2 skipped"


def test_write_steps_round_trip(tmp_path: Path) -> None:
    steps = [
        StepResult("ruff check", ("ruff", "check"), 0, 0.5, False, ""),
        StepResult("mypy", ("mypy", "src"), 1, 2.0, False, "src/x.py:1: error"),
        StepResult("pytest", ("pytest",), 124, 9.0, True, "TIMEOUT"),
    ]
    path = tmp_path / "j" / "lint.xml"
    junit.write_steps(path, "m-lint", steps)
    assert junit.read_counts(path) == junit.Counts(passed=1, failed=2, skipped=0)
    text = path.read_text(encoding="utf-8")
    assert "src/x.py:1: error" in text and "timed out" in text


def test_write_single(tmp_path: Path) -> None:
    ok, bad = tmp_path / "ok.xml", tmp_path / "bad.xml"
    junit.write_single(ok, "check", "consistency", error=None, seconds=0.1)
    junit.write_single(bad, "check", "consistency", error="a: wrong\nb: wrong", seconds=0.1)
    assert junit.read_counts(ok) == junit.Counts(1, 0, 0)
    assert junit.read_counts(bad) == junit.Counts(0, 1, 0)


def test_bad_xml_names_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.xml"
    path.write_text("<testsuite>", encoding="utf-8")
    with pytest.raises(ValueError, match=r"broken\.xml"):
        junit.read_counts(path)
