"""``ws.py check``: fast consistency checks between the manifest and the files.

Checked for every member: the folder, pyproject.toml, README.md, CITATION.cff,
CHANGELOG.md and ``src/<import>/__init__.py`` exist; name, version and console script
agree with the pyproject; the tag prefix is ``<name>-v``; members pin shared-utils at its
version; CITATION.cff names the DOI and CHANGELOG.md has an entry for the version; a
member with a paper (a DOI) holds a valid ``results.json``, the results table its release
manifest is made from (paper number, our number, the command behind it).
Workspace-wide: the root pyproject's uv members equal the manifest's paths, and the
GitHub workflow's matrix equals the manifest's member x job list.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from wstool import workflow
from wstool.manifest import Manifest, Member
from wstool.release import ReleaseError, load_results

REQUIRED_FILES = ("pyproject.toml", "README.md", "CITATION.cff", "CHANGELOG.md")
"""Files every member folder must hold (non-empty)."""


def _load_toml(path: Path, problems: list[str]) -> dict[str, object] | None:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        problems.append(f"{path}: missing")
    except tomllib.TOMLDecodeError as exc:
        problems.append(f"{path}: not valid TOML: {exc}")
    return None


def _table(data: dict[str, object], key: str) -> dict[str, object]:
    value = data.get(key, {})
    return value if isinstance(value, dict) else {}


def check_member(root: Path, member: Member, shared: Member | None) -> list[str]:
    """Problems of one member (empty when consistent)."""
    problems: list[str] = []
    folder = root / member.path
    if not folder.is_dir():
        return [f"{folder}: member folder missing (workspace.toml member {member.name!r})"]
    for name in REQUIRED_FILES:
        path = folder / name
        if not path.is_file() or not path.read_text(encoding="utf-8").strip():
            problems.append(f"{path}: missing or empty")
    init = folder / "src" / member.import_name / "__init__.py"
    if not init.is_file():
        problems.append(f"{init}: missing (workspace.toml import = {member.import_name!r})")
    if member.tag_prefix != f"{member.name}-v":
        problems.append(
            f"workspace.toml member {member.name!r}: tag_prefix {member.tag_prefix!r} "
            f"should be {member.name + '-v'!r}"
        )
    pyproject = _load_toml(folder / "pyproject.toml", problems)
    if pyproject is not None:
        project = _table(pyproject, "project")
        where = folder / "pyproject.toml"
        if project.get("name") != member.distribution:
            problems.append(
                f"{where}: [project] name {project.get('name')!r} != workspace.toml "
                f"distribution {member.distribution!r}"
            )
        if project.get("version") != member.version:
            problems.append(
                f"{where}: [project] version {project.get('version')!r} != workspace.toml "
                f"version {member.version!r} (member {member.name!r})"
            )
        scripts = _table(project, "scripts")
        if member.cli and member.cli not in scripts:
            problems.append(f"{where}: [project.scripts] lacks {member.cli!r} (workspace.toml cli)")
        deps = project.get("dependencies", [])
        if shared is not None and member.name != shared.name and isinstance(deps, list):
            pin = f"{shared.distribution}=={shared.version}"
            if not any(isinstance(d, str) and d.replace(" ", "") == pin for d in deps):
                problems.append(f"{where}: dependencies should pin {pin!r}")
    citation = folder / "CITATION.cff"
    if member.doi and citation.is_file():
        if member.doi.lower() not in citation.read_text(encoding="utf-8").lower():
            problems.append(f"{citation}: does not contain the DOI {member.doi}")
    results = folder / "results.json"
    if member.doi and not results.is_file():
        problems.append(
            f"{results}: missing (the paper-vs-ours table of the release manifest; rows of "
            '{"metric", "paper", "ours", "command", "data"})'
        )
    elif results.is_file():
        try:
            if not load_results(results):
                problems.append(f"{results}: no rows")
        except ReleaseError as exc:
            problems.append(str(exc))
    changelog = folder / "CHANGELOG.md"
    if changelog.is_file():
        text = changelog.read_text(encoding="utf-8")
        if not re.search(rf"^#+\s*\[?{re.escape(member.version)}\]?", text, re.MULTILINE):
            problems.append(f"{changelog}: no heading for version {member.version}")
    return problems


def check_workspace(manifest: Manifest) -> list[str]:
    """All problems of the workspace (empty when consistent)."""
    root = manifest.root
    problems: list[str] = []
    shared = next((m for m in manifest.members if m.name == "shared-utils"), None)
    for member in manifest.members:
        problems += check_member(root, member, shared)
    pyproject = _load_toml(root / "pyproject.toml", problems)
    if pyproject is not None:
        uv_ws = _table(_table(_table(pyproject, "tool"), "uv"), "workspace")
        listed = uv_ws.get("members", [])
        paths = [m.path for m in manifest.members]
        if not isinstance(listed, list) or sorted(map(str, listed)) != sorted(paths):
            problems.append(
                f"{root / 'pyproject.toml'}: [tool.uv.workspace] members {listed!r} != "
                f"workspace.toml member paths {paths!r}"
            )
    wf = root / workflow.WORKFLOW_PATH
    if not wf.is_file():
        problems.append(f"{wf}: missing (generate it: python3 ci/ws.py workflow)")
    else:
        problems += workflow.compare(manifest, wf.read_text(encoding="utf-8"))
    # Paths relative to the root read better in CI logs.
    return [p.replace(f"{root}/", "") for p in problems]
