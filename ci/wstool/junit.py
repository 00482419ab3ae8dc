"""JUnit XML: writing it for non-pytest jobs and summing test cases over many files.

Every job leaves a junit file under ``.ci-work/junit/`` (pytest writes its own; lint,
independence, check and bootstrap get one test case per step written here), so the
final ``N passed, N failed, N skipped`` line counts every failure the run saw.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from wstool.proc import StepResult


@dataclass(frozen=True)
class Counts:
    """Test-case totals."""

    passed: int = 0
    """Cases without failure, error or skip."""
    failed: int = 0
    """Cases with a failure or an error."""
    skipped: int = 0
    """Skipped cases (pytest records xfail as skipped too)."""

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            self.passed + other.passed, self.failed + other.failed, self.skipped + other.skipped
        )

    def summary_line(self) -> str:
        """The exact final line CI tooling reads."""
        return f"{self.passed} passed, {self.failed} failed, {self.skipped} skipped"


def read_counts(path: Path) -> Counts:
    """Count the test cases of one junit file by their outcome.

    Counting ``<testcase>`` elements (not the suites' attributes) is robust to nested
    ``<testsuites>`` and to writers that omit the totals.

    Raises:
        ValueError: the file is not XML (the message names it).
    """
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not a valid junit XML file: {exc}") from exc
    passed = failed = skipped = 0
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        if tags & {"failure", "error"}:
            failed += 1
        elif "skipped" in tags:
            skipped += 1
        else:
            passed += 1
    return Counts(passed, failed, skipped)


def sum_counts(paths: Iterable[Path]) -> Counts:
    """Sum :func:`read_counts` over the files that exist."""
    total = Counts()
    for path in paths:
        if path.is_file():
            total = total + read_counts(path)
    return total


def write_steps(path: Path, suite: str, steps: Sequence[StepResult]) -> None:
    """Write one test case per step; a failed step carries its output tail."""
    failures = sum(1 for s in steps if not s.ok)
    root = ET.Element("testsuites")
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(steps)),
        failures=str(failures),
        errors="0",
        skipped="0",
        time=f"{sum(s.seconds for s in steps):.3f}",
    )
    for step in steps:
        case = ET.SubElement(
            node, "testcase", classname=suite, name=step.name, time=f"{step.seconds:.3f}"
        )
        if not step.ok:
            reason = "timed out" if step.timed_out else f"exit status {step.returncode}"
            failure = ET.SubElement(case, "failure", message=f"{step.command}: {reason}")
            failure.text = step.output[-20000:]
    _write(path, root)


def write_single(path: Path, suite: str, case: str, *, error: str | None, seconds: float) -> None:
    """Write a file with a single test case, failed when ``error`` is given."""
    root = ET.Element("testsuites")
    node = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests="1",
        failures="1" if error else "0",
        errors="0",
        skipped="0",
        time=f"{seconds:.3f}",
    )
    item = ET.SubElement(node, "testcase", classname=suite, name=case, time=f"{seconds:.3f}")
    if error:
        failure = ET.SubElement(item, "failure", message=error.splitlines()[0][:500])
        failure.text = error
    _write(path, root)


def _write(path: Path, root: ET.Element) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
