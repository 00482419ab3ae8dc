"""The member x job matrix: which cells run, running them, and the final table.

A cell runs when the job is in the member's ``jobs`` list (and passes the ``--job``
filter), or when an optional job (bench, gpu) is asked for explicitly with ``--job``.
Cells run one after another: the CI machine has two cores and every test process
already uses both.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from wstool.jobs import EMPTY, FAIL, PASS, JobContext, JobOutcome, run_job
from wstool.manifest import KNOWN_JOBS, Manifest, ManifestError, Member

SHARED_MEMBER = "shared-utils"
"""The member every other member depends on (installed with it in the independence job)."""


@dataclass(frozen=True)
class Selection:
    """The cells to run, in order."""

    rows: tuple[Member, ...]
    """Selected rows in manifest order (the tooling row first when selected)."""
    jobs: tuple[str, ...]
    """Columns in :data:`KNOWN_JOBS` order."""
    cells: tuple[tuple[Member, str], ...]
    """(member, job) pairs that run."""


def select(manifest: Manifest, members: Sequence[str] = (), jobs: Sequence[str] = ()) -> Selection:
    """Resolve ``--member`` / ``--job`` filters into the cells to run.

    Raises:
        ManifestError: an unknown member or job was asked for.
    """
    for job in jobs:
        if job not in KNOWN_JOBS:
            raise ManifestError(f"unknown job {job!r}; known: {list(KNOWN_JOBS)}")
    rows = [manifest.member(name) for name in members] if members else manifest.rows()
    order = {m.name: i for i, m in enumerate(manifest.rows())}
    rows = sorted(dict.fromkeys(rows), key=lambda m: order[m.name])
    cells: list[tuple[Member, str]] = []
    for job in KNOWN_JOBS:
        if jobs and job not in jobs:
            continue
        for row in rows:
            explicit_optional = job in jobs and job in manifest.optional_jobs and not row.tooling
            if job in row.jobs or explicit_optional:
                cells.append((row, job))
    # Run row by row (a member's jobs together), columns in KNOWN_JOBS order.
    cells.sort(key=lambda c: (order[c[0].name], KNOWN_JOBS.index(c[1])))
    columns = tuple(j for j in KNOWN_JOBS if any(c[1] == j for c in cells))
    return Selection(tuple(rows), columns, tuple(cells))


@dataclass
class MatrixResult:
    """Outcomes by (member, job)."""

    outcomes: dict[tuple[str, str], JobOutcome] = field(default_factory=dict)
    """One entry per cell that ran."""

    @property
    def failed(self) -> list[tuple[str, str]]:
        """Cells that failed."""
        return [key for key, out in self.outcomes.items() if out.status == FAIL]

    def junit_files(self) -> list[Path]:
        """Junit files written by this run."""
        return [out.junit for out in self.outcomes.values() if out.junit is not None]


def _group(title: str) -> tuple[str, str]:
    if os.environ.get("GITHUB_ACTIONS") == "true":
        return f"::group::{title}", "::endgroup::"
    bar = "=" * 24
    return f"{bar} {title} {bar}", ""


def run_matrix(
    manifest: Manifest, selection: Selection, make_ctx: JobContextFactory
) -> MatrixResult:
    """Run every selected cell, streaming each job's output in its own block."""
    result = MatrixResult()
    shared = next((m for m in manifest.members if m.name == SHARED_MEMBER), None)
    for member, job in selection.cells:
        opening, closing = _group(f"{member.name} / {job}")
        print(opening, flush=True)
        ctx = make_ctx(member)
        start = time.monotonic()
        try:
            outcome = run_job(ctx, member, job, shared)
        except Exception as exc:  # a bug in one job must not hide the others' results
            outcome = JobOutcome(FAIL, time.monotonic() - start, None, f"runner error: {exc!r}")
            print(f"runner error in {member.name}/{job}: {exc!r}", flush=True)
        if closing:
            print(closing, flush=True)
        line = f"--> {member.name} / {job}: {outcome.status} in {outcome.seconds:.1f} s"
        print(line + (f" ({outcome.detail})" if outcome.detail else ""), flush=True)
        result.outcomes[(member.name, job)] = outcome
    return result


class JobContextFactory:
    """Builds the :class:`JobContext` of a row (its time limit differs per member)."""

    def __init__(self, manifest: Manifest, base: JobContext) -> None:
        self.manifest = manifest
        self.base = base

    def __call__(self, member: Member) -> JobContext:
        return JobContext(
            root=self.base.root,
            tools=self.base.tools,
            env=self.base.env,
            timeout_s=self.manifest.timeout_for(member),
        )


def render_table(selection: Selection, result: MatrixResult) -> str:
    """The member x job table: ``PASS 12.3s``, ``FAIL``, ``EMPTY`` or ``-`` (not run)."""
    headers = ["member", *selection.jobs, "total"]
    rows: list[list[str]] = []
    for member in selection.rows:
        cells, total = [member.name], 0.0
        for job in selection.jobs:
            out = result.outcomes.get((member.name, job))
            if out is None:
                cells.append("-")
            else:
                cells.append(f"{out.status} {out.seconds:.1f}s")
                total += out.seconds
        cells.append(f"{total:.1f}s")
        rows.append(cells)
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


__all__ = [
    "EMPTY",
    "FAIL",
    "PASS",
    "JobContextFactory",
    "MatrixResult",
    "Selection",
    "render_table",
    "run_matrix",
    "select",
]
