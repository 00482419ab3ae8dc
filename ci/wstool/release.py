"""``ws.py release <member>``: the release manifest of one member.

Writes ``releases/<member>-v<version>/manifest.json`` and ``manifest.md`` with: member,
version (workspace.toml and the member's pyproject must agree), tag, git commit and
whether the tree is dirty, sha256 of uv.lock, the paper DOI, the results table with the
command behind every number, and sha256 checksums of the given checkpoints and of the
sdist/wheel built by ``uv build --package`` (kept in ``.ci-work/release/``).

The results come from ``<member>/results.json`` when present::

    [{"metric": "PSNR (dB)", "paper": 23.4, "ours": 22.9,
      "command": "npbgpp eval --preset paper ...", "data": "NeRF-Synthetic lego, test"}]

(or ``{"results": [...]}``), else from the metrics of the demo's
``runs/demo/<member>/report.json``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
import subprocess
import tomllib
from collections.abc import Sequence
from pathlib import Path

from wstool.bootstrap import Tools, uv_env
from wstool.manifest import Manifest, Member
from wstool.proc import run_step

RESULT_FIELDS = ("metric", "paper", "ours", "command", "data")
"""Keys of one results row."""


class ReleaseError(Exception):
    """The release cannot be made; the message says which file and field."""


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def pyproject_version(root: Path, member: Member) -> str:
    """The ``[project] version`` of the member's pyproject."""
    path = root / member.path / "pyproject.toml"
    with path.open("rb") as fh:
        version = tomllib.load(fh).get("project", {}).get("version")
    if not isinstance(version, str):
        raise ReleaseError(f"{path}: [project] version is missing")
    return version


def check_version(root: Path, member: Member) -> None:
    """Fail unless workspace.toml and the member's pyproject agree on the version."""
    version = pyproject_version(root, member)
    if version != member.version:
        raise ReleaseError(
            f"version mismatch for {member.name!r}: workspace.toml says {member.version!r}, "
            f"{member.path}/pyproject.toml says {version!r}; make them equal before releasing"
        )


def load_results(path: Path) -> list[dict[str, object]]:
    """Read and validate a member's ``results.json`` (see the module docstring)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"{path}: not valid JSON: {exc}") from exc
    rows = data.get("results") if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ReleaseError(f"{path}: expected a list of rows or {{'results': [...]}}")
    out: list[dict[str, object]] = []
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise ReleaseError(f"{path}: results[{i}] must be an object")
        for key in ("metric", "command"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise ReleaseError(f"{path}: results[{i}].{key} must be a non-empty string")
        for key in ("paper", "ours"):
            if not isinstance(row.get(key), int | float | str | None):
                raise ReleaseError(f"{path}: results[{i}].{key} must be a number, text or null")
        out.append({key: row.get(key) for key in RESULT_FIELDS})
    return out


def _metric_items(node: object) -> list[tuple[str, object]]:
    """(name, value) pairs of every metrics block of a report.json, in document order."""
    found: list[tuple[str, object]] = []
    if isinstance(node, dict):
        kind = node.get("kind", node.get("type"))
        values = node.get("metrics", node.get("values"))
        if kind == "metrics" and isinstance(values, dict):
            found += [(str(k), v) for k, v in values.items()]
        elif isinstance(node.get("metrics"), dict) and kind is None:
            found += [(str(k), v) for k, v in node["metrics"].items()]
        for key, value in node.items():
            if key not in ("metrics", "values"):
                found += _metric_items(value)
    elif isinstance(node, list):
        for item in node:
            found += _metric_items(item)
    return found


def results_from_report(path: Path, member: Member) -> list[dict[str, object]]:
    """Results rows from the metrics of a demo report (no paper numbers)."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"{path}: not valid JSON: {exc}") from exc
    command = f"{member.cli} demo --out runs/demo/{member.name}"
    return [
        {
            "metric": name,
            "paper": None,
            "ours": value,
            "command": command,
            "data": "demo (embedded data)",
        }
        for name, value in _metric_items(report)
        if isinstance(value, int | float | str)
    ]


def git_state(root: Path) -> dict[str, object]:
    """Commit and dirtiness of the work tree (None when git or the repository is absent)."""

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=root, capture_output=True, text=True, check=False
            )
        except OSError:
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain") if commit else None
    return {"commit": commit, "dirty": None if status is None else bool(status)}


def build_artifacts(manifest: Manifest, tools: Tools, member: Member, out_dir: Path) -> list[Path]:
    """``uv build --package`` the member into ``out_dir``; return the sdist and wheel."""
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True)
    argv = [*tools.uv, "build", "--package", member.distribution, "--out-dir", str(out_dir)]
    result = run_step("uv build", argv, cwd=manifest.root, env=uv_env(), timeout_s=900)
    if not result.ok:
        raise ReleaseError(f"`{result.command}` failed (exit {result.returncode})")
    return sorted(p for p in out_dir.iterdir() if p.suffix in (".whl", ".gz"))


def _file_entry(path: Path, root: Path) -> dict[str, object]:
    shown = path.relative_to(root) if path.is_relative_to(root) else path
    return {"file": str(shown), "bytes": path.stat().st_size, "sha256": sha256_file(path)}


def render_markdown(data: dict[str, object]) -> str:
    """The human-readable manifest."""
    git = data["git"]
    assert isinstance(git, dict)
    lines = [
        f"# {data['member']} {data['version']} (tag `{data['tag']}`)",
        "",
        f"- paper: {data.get('paper') or '-'}; DOI: {data.get('doi') or '-'}",
        f"- commit: `{git.get('commit')}`" + (" (work tree dirty)" if git.get("dirty") else ""),
        f"- uv.lock sha256: `{data['uv_lock_sha256']}`",
        f"- results from: {data.get('results_source') or 'none yet'}",
        "",
        "## Results",
        "",
        "| metric | paper | ours | data | command |",
        "|---|---|---|---|---|",
    ]
    results = data.get("results", [])
    assert isinstance(results, list)
    for row in results:
        cells = [row.get(k) for k in ("metric", "paper", "ours", "data")]
        shown = ["-" if c is None else str(c) for c in cells]
        lines.append(f"| {' | '.join(shown)} | `{row.get('command')}` |")
    for title, key in (("Checkpoints", "checkpoints"), ("Artifacts", "artifacts")):
        lines += ["", f"## {title}", ""]
        entries = data.get(key, [])
        assert isinstance(entries, list)
        lines += [f"- `{e['file']}` ({e['bytes']} bytes) sha256 `{e['sha256']}`" for e in entries]
        if not entries:
            lines.append("- none")
    return "\n".join(lines) + "\n"


def make_release(
    manifest: Manifest,
    tools: Tools,
    name: str,
    checkpoints: Sequence[Path] = (),
    results: Path | None = None,
) -> Path:
    """Write the release manifest of member ``name``; return its folder."""
    root = manifest.root
    member = manifest.member(name)
    if member.tooling:
        raise ReleaseError(f"{name!r} is the runner's own row, not a releasable member")
    check_version(root, member)
    for path in checkpoints:
        if not path.is_file():
            raise ReleaseError(f"checkpoint {path} does not exist")
    default_results = root / member.path / "results.json"
    report = root / "runs" / "demo" / member.name / "report.json"
    rows: list[dict[str, object]] = []
    source: str | None = None
    if results is not None or default_results.is_file():
        chosen = results or default_results
        rows, source = load_results(chosen), str(chosen)
    elif report.is_file():
        rows = results_from_report(report, member)
        source = str(report.relative_to(root)) if rows else None
    artifacts = build_artifacts(manifest, tools, member, root / ".ci-work" / "release" / member.tag)
    git = git_state(root)
    if git["dirty"]:
        print("warning: the work tree has uncommitted changes; the manifest records dirty = true")
    data: dict[str, object] = {
        "member": member.name,
        "distribution": member.distribution,
        "version": member.version,
        "tag": member.tag,
        "paper": member.paper,
        "doi": member.doi,
        "git": git,
        "uv_lock_sha256": sha256_file(root / "uv.lock"),
        "created_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "results_source": source,
        "results": rows,
        "checkpoints": [_file_entry(p.resolve(), root) for p in checkpoints],
        "artifacts": [_file_entry(p, root) for p in artifacts],
    }
    out = root / "releases" / f"{member.name}-v{member.version}"
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    (out / "manifest.md").write_text(render_markdown(data), encoding="utf-8")
    print(f"release manifest: {out / 'manifest.json'} (tag {member.tag})")
    return out
