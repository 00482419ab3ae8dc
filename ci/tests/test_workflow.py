"""The repository's workflow, .ci/run and README agree with the manifest and each other."""

from __future__ import annotations

import os
from pathlib import Path

import yaml
from wstool import workflow
from wstool.manifest import load_manifest

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_workflow_matrix_equals_manifest() -> None:
    manifest = load_manifest(REPO_ROOT / "workspace.toml")
    text = (REPO_ROOT / workflow.WORKFLOW_PATH).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    include = doc["jobs"]["matrix"]["strategy"]["matrix"]["include"]
    from_yaml = [(e["member"], e["job"]) for e in include]
    expected = [(row.name, job) for row in manifest.rows() for job in row.jobs]
    assert from_yaml == expected
    assert workflow.parse_pairs(text) == expected
    assert text == workflow.render_workflow(manifest), "regenerate: python3 ci/ws.py workflow"
    assert doc["jobs"]["all-green"]["needs"] == ["matrix"]
    run = [s["run"] for s in doc["jobs"]["matrix"]["steps"] if "run" in s]
    assert run == ["python3 ci/ws.py test --member ${{ matrix.member }} --job ${{ matrix.job }}"]


def test_ci_run_calls_exactly_the_readme_command() -> None:
    script = REPO_ROOT / ".ci" / "run"
    assert os.access(script, os.X_OK)
    lines = [
        ln
        for ln in script.read_text(encoding="utf-8").splitlines()
        if ln and not ln.startswith("#")
    ]
    assert lines[0] == "set -euo pipefail"
    assert lines[-1] == "exec python3 ci/ws.py test"
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    assert "python3 ci/ws.py test" in readme and "python3 ci/ws.py demo" in readme
