"""Reading ``workspace.toml``: the members, their CI jobs and the runner's settings.

The manifest is the single source of what CI runs. Besides the members it lists, the
runner adds one hard-wired tooling row, ``ci`` (this package's own lint and tests), which
runs first so that a broken runner is visible before the members' results are trusted.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

KNOWN_JOBS = ("lint", "independence", "unit", "kernels", "smoke", "bench", "gpu")
"""Every job the runner knows, in the order the matrix runs them."""

DEFAULT_TIMEOUT_S = 900.0
"""Per-job wall-clock limit when ``[jobs] timeout_s`` is absent."""

TOOLING_ROW = "ci"
"""Name of the runner's own row (ruff/mypy on ``ci/`` and ``pytest ci/tests``)."""


class ManifestError(Exception):
    """``workspace.toml`` is missing or malformed; the message names the file and field."""


@dataclass(frozen=True)
class Member:
    """One row of the matrix."""

    name: str
    """Member name, also the folder-level identifier used by ``--member`` and tags."""
    path: str
    """Folder relative to the workspace root."""
    import_name: str
    """The Python package the member ships (``src/<import_name>``)."""
    distribution: str
    """The distribution name in the member's pyproject (``uv build --package``)."""
    version: str
    """Version; must equal the member pyproject's ``[project] version``."""
    tag_prefix: str
    """Release tag prefix, ``<name>-v``."""
    jobs: tuple[str, ...]
    """The CI jobs of this member, a subset of :data:`KNOWN_JOBS`."""
    cli: str | None = None
    """Console-script name, if the member has one."""
    paper: str | None = None
    """Paper title and venue."""
    doi: str | None = None
    """The paper's DOI."""
    demo: bool = False
    """Whether ``ws.py demo`` runs ``<cli> demo`` for this member."""
    timeout_s: float | None = None
    """Per-job time limit overriding ``[jobs] timeout_s``."""
    tooling: bool = False
    """True only for the runner's own ``ci`` row (no package, no release)."""

    @property
    def tag(self) -> str:
        """The release tag of the current version."""
        return f"{self.tag_prefix}{self.version}"

    def tests_dir(self, job: str) -> str:
        """Test folder of a pytest job, relative to the member folder."""
        if self.tooling:
            return "tests"
        return f"tests/{job}"

    def mypy_targets(self) -> list[str]:
        """Paths (relative to the workspace root) that mypy checks."""
        if self.tooling:
            return [f"{self.path}/wstool", f"{self.path}/ws.py"]
        return [f"{self.path}/src"]


@dataclass(frozen=True)
class Manifest:
    """The parsed ``workspace.toml``."""

    file: Path
    """Path of the manifest file."""
    name: str
    """Workspace name."""
    python: str
    """Python version the workspace targets (``3.11``)."""
    members: tuple[Member, ...]
    """The members in manifest order (without the tooling row)."""
    default_jobs: tuple[str, ...]
    """Jobs of the default matrix."""
    optional_jobs: tuple[str, ...]
    """Jobs that only run when asked for with ``--job``."""
    timeout_s: float
    """Default per-job time limit in seconds."""

    @property
    def root(self) -> Path:
        """The workspace root folder."""
        return self.file.parent

    def rows(self, *, with_tooling: bool = True) -> list[Member]:
        """Matrix rows: the tooling row first (optionally), then the members."""
        return ([tooling_row()] if with_tooling else []) + list(self.members)

    def member(self, name: str) -> Member:
        """The member (or tooling row) called ``name``."""
        for row in self.rows():
            if row.name == name:
                return row
        known = ", ".join(r.name for r in self.rows())
        raise ManifestError(f"{self.file}: no member named {name!r} (known: {known})")

    def timeout_for(self, member: Member) -> float:
        """The time limit of one job of ``member``."""
        return member.timeout_s if member.timeout_s is not None else self.timeout_s


def tooling_row() -> Member:
    """The runner's own row: lint of ``ci/`` and ``pytest ci/tests`` (job ``unit``)."""
    return Member(
        name=TOOLING_ROW,
        path="ci",
        import_name="wstool",
        distribution="",
        version="",
        tag_prefix="",
        jobs=("lint", "unit"),
        tooling=True,
    )


def _string(table: dict[str, object], key: str, where: str, *, required: bool = True) -> str | None:
    value = table.get(key)
    if value is None:
        if required:
            raise ManifestError(f"{where}: field {key!r} is missing")
        return None
    if not isinstance(value, str) or not value:
        raise ManifestError(f"{where}: field {key!r} must be a non-empty string, got {value!r}")
    return value


def _jobs(value: object, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(j, str) for j in value):
        raise ManifestError(f"{where}: field {key!r} must be a list of job names")
    unknown = [j for j in value if j not in KNOWN_JOBS]
    if unknown:
        raise ManifestError(
            f"{where}: field {key!r} has unknown job(s) {unknown}; known: {list(KNOWN_JOBS)}"
        )
    return tuple(value)


def _timeout(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ManifestError(f"{where}: field 'timeout_s' must be a positive number, got {value!r}")
    return float(value)


def _member(raw: object, index: int, file: Path) -> Member:
    where = f"{file}: [[member]] #{index + 1}"
    if not isinstance(raw, dict):
        raise ManifestError(f"{where}: must be a table")
    name = _string(raw, "name", where)
    where = f"{file}: [[member]] {name!r}"
    demo = raw.get("demo", False)
    if not isinstance(demo, bool):
        raise ManifestError(f"{where}: field 'demo' must be true or false, got {demo!r}")
    member = Member(
        name=str(name),
        path=str(_string(raw, "path", where)),
        import_name=str(_string(raw, "import", where)),
        distribution=str(_string(raw, "distribution", where)),
        version=str(_string(raw, "version", where)),
        tag_prefix=str(_string(raw, "tag_prefix", where)),
        jobs=_jobs(raw.get("jobs"), where, "jobs"),
        cli=_string(raw, "cli", where, required=False),
        paper=_string(raw, "paper", where, required=False),
        doi=_string(raw, "doi", where, required=False),
        demo=demo,
        timeout_s=_timeout(raw.get("timeout_s"), where),
    )
    if member.name == TOOLING_ROW:
        raise ManifestError(f"{where}: the name {TOOLING_ROW!r} is reserved for the runner's row")
    return member


def load_manifest(file: Path) -> Manifest:
    """Parse and validate ``workspace.toml``.

    Raises:
        ManifestError: the file is missing, is not TOML, or a field is missing or mistyped
            (the message names the file and the field).
    """
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(f"{file}: not found") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{file}: not valid TOML: {exc}") from exc
    ws = data.get("workspace", {})
    jobs = data.get("jobs", {})
    if not isinstance(ws, dict) or not isinstance(jobs, dict):
        raise ManifestError(f"{file}: [workspace] and [jobs] must be tables")
    raw_members = data.get("member")
    if not isinstance(raw_members, list) or not raw_members:
        raise ManifestError(f"{file}: no [[member]] entries")
    members = tuple(_member(raw, i, file) for i, raw in enumerate(raw_members))
    names = [m.name for m in members]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ManifestError(f"{file}: duplicate member name(s) {duplicates}")
    timeout = _timeout(jobs.get("timeout_s"), f"{file}: [jobs]")
    return Manifest(
        file=file,
        name=str(_string(ws, "name", f"{file}: [workspace]")),
        python=str(ws.get("python", "3.11")),
        members=members,
        default_jobs=_jobs(jobs.get("default", list(KNOWN_JOBS[:5])), f"{file}: [jobs]", "default"),
        optional_jobs=_jobs(jobs.get("optional", []), f"{file}: [jobs]", "optional"),
        timeout_s=timeout if timeout is not None else DEFAULT_TIMEOUT_S,
    )
