"""workspace.toml parsing: the real manifest, and clear errors on malformed ones."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from wstool.manifest import DEFAULT_TIMEOUT_S, ManifestError, load_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_real_manifest_matches_root_pyproject() -> None:
    manifest = load_manifest(REPO_ROOT / "workspace.toml")
    with (REPO_ROOT / "pyproject.toml").open("rb") as fh:
        uv_members = tomllib.load(fh)["tool"]["uv"]["workspace"]["members"]
    assert [m.path for m in manifest.members] == uv_members
    rows = manifest.rows()
    assert rows[0].name == "ci" and rows[0].tooling and rows[0].jobs == ("lint", "unit")
    assert [r.name for r in rows[1:]] == [m.name for m in manifest.members]
    for member in manifest.members:
        assert member.tag == f"{member.name}-v{member.version}"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "workspace.toml"
    path.write_text(text, encoding="utf-8")
    return path


MEMBER = """
[workspace]
name = "w"
[jobs]
default = ["unit"]
{jobs_extra}
[[member]]
name = "a"
path = "a"
import = "a"
distribution = "a"
version = "1.2.3"
tag_prefix = "a-v"
jobs = {jobs}
{member_extra}
"""


def test_fields_and_defaults(tmp_path: Path) -> None:
    text = MEMBER.format(jobs='["unit", "smoke"]', jobs_extra="", member_extra="demo = true")
    manifest = load_manifest(_write(tmp_path, text))
    (member,) = manifest.members
    assert member.jobs == ("unit", "smoke")
    assert member.demo is True and member.cli is None
    assert member.tag == "a-v1.2.3"
    assert manifest.timeout_for(member) == DEFAULT_TIMEOUT_S


def test_timeouts(tmp_path: Path) -> None:
    text = MEMBER.format(jobs='["unit"]', jobs_extra="timeout_s = 60", member_extra="timeout_s = 5")
    manifest = load_manifest(_write(tmp_path, text))
    assert manifest.timeout_s == 60.0
    assert manifest.timeout_for(manifest.members[0]) == 5.0


@pytest.mark.parametrize(
    ("jobs", "member_extra", "needle"),
    [
        ('["unit", "fuzz"]', "", "unknown job(s) ['fuzz']"),
        ('"unit"', "", "'jobs' must be a list"),
        ('["unit"]', "demo = 1", "'demo' must be true or false"),
        ('["unit"]', "timeout_s = -3", "'timeout_s' must be a positive number"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, jobs: str, member_extra: str, needle: str) -> None:
    path = _write(tmp_path, MEMBER.format(jobs=jobs, jobs_extra="", member_extra=member_extra))
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(path) in str(info.value)
    assert needle in str(info.value)


def test_missing_field_is_named(tmp_path: Path) -> None:
    text = MEMBER.format(jobs='["unit"]', jobs_extra="", member_extra="").replace(
        'version = "1.2.3"\n', ""
    )
    with pytest.raises(ManifestError, match=r"\[\[member\]\] 'a': field 'version' is missing"):
        load_manifest(_write(tmp_path, text))


def test_reserved_and_duplicate_names(tmp_path: Path) -> None:
    text = MEMBER.format(jobs='["unit"]', jobs_extra="", member_extra="")
    with pytest.raises(ManifestError, match="reserved"):
        load_manifest(_write(tmp_path, text.replace('name = "a"', 'name = "ci"')))
    block = text[text.index("[[member]]") :]
    with pytest.raises(ManifestError, match=r"duplicate member name\(s\) \['a'\]"):
        load_manifest(_write(tmp_path, text + block))


def test_not_toml(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not valid TOML"):
        load_manifest(_write(tmp_path, "[workspace\n"))
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "nope.toml")
