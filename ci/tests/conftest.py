"""Shared fixtures of the runner's tests: a fake workspace in a temporary folder."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

CI_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(CI_DIR))

from wstool import workflow  # noqa: E402
from wstool.manifest import load_manifest  # noqa: E402

REPO_ROOT = CI_DIR.parent


def _member_toml(name: str, jobs: list[str], extra: str) -> str:
    pkg = name.replace("-", "_")
    return (
        textwrap.dedent(
            f"""
        [[member]]
        name = "{name}"
        path = "{name}"
        import = "{pkg}"
        distribution = "{name}"
        version = "0.1.0"
        tag_prefix = "{name}-v"
        doi = "10.1234/{name}"
        jobs = {jobs!r}
        """
        ).replace("'", '"')
        + extra
    )


def write_workspace(
    root: Path,
    members: dict[str, dict[str, str]],
    *,
    jobs: list[str] | None = None,
    member_extra: dict[str, str] | None = None,
) -> Path:
    """A minimal consistent workspace: ``members`` maps name -> {relative path: content}.

    Every member gets pyproject/README/CITATION/CHANGELOG/src package; the root gets
    workspace.toml, a uv-workspace pyproject and the generated workflow. ``.venv`` links
    to the environment running these tests, so ``--no-bootstrap`` finds pytest there.
    """
    job_list = jobs or ["unit", "kernels"]
    extra = member_extra or {}
    manifest = '[workspace]\nname = "fake"\npython = "3.11"\n\n[jobs]\ndefault = ["unit"]\noptional = ["bench", "gpu"]\n'
    manifest += "".join(_member_toml(n, job_list, extra.get(n, "")) for n in members)
    (root / "workspace.toml").write_text(manifest, encoding="utf-8")
    names = ", ".join(f'"{n}"' for n in members)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "root"\nversion = "0.0.0"\n\n[tool.uv.workspace]\nmembers = [{names}]\n',
        encoding="utf-8",
    )
    for name, files in members.items():
        folder = root / name
        pkg = name.replace("-", "_")
        (folder / "src" / pkg).mkdir(parents=True)
        (folder / "src" / pkg / "__init__.py").write_text('"""Fake."""\n', encoding="utf-8")
        (folder / "pyproject.toml").write_text(
            f'[project]\nname = "{name}"\nversion = "0.1.0"\n', encoding="utf-8"
        )
        (folder / "README.md").write_text(f"# {name}\n", encoding="utf-8")
        (folder / "CITATION.cff").write_text(f"doi: 10.1234/{name}\n", encoding="utf-8")
        (folder / "CHANGELOG.md").write_text("# Changelog\n\n## [0.1.0]\n", encoding="utf-8")
        (folder / "results.json").write_text(
            '[{"metric": "PSNR", "paper": 30.0, "ours": 29.5, "command": "x demo", "data": "d"}]\n',
            encoding="utf-8",
        )
        for rel, content in files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content), encoding="utf-8")
    wf = root / workflow.WORKFLOW_PATH
    wf.parent.mkdir(parents=True)
    wf.write_text(
        workflow.render_workflow(load_manifest(root / "workspace.toml")), encoding="utf-8"
    )
    os.symlink(sys.prefix, root / ".venv")
    return root


@pytest.fixture
def fake_workspace(tmp_path: Path) -> Callable[..., Path]:
    """Factory: ``fake_workspace({"good": {"tests/unit/test_a.py": "..."}})``."""

    def make(members: dict[str, dict[str, str]], **kwargs: object) -> Path:
        root = tmp_path / "ws"
        root.mkdir()
        return write_workspace(root, members, **kwargs)  # type: ignore[arg-type]

    return make
