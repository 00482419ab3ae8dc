"""The demo command: a failing demo is shown and fails the run, the others still run."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from wstool import cli

GOOD_DEMO = """#!{python}
import sys
from pathlib import Path
from shared_utils.report import ReportSection

out = Path(sys.argv[sys.argv.index("--out") + 1])
section = ReportSection(out, "good demo", "good")
section.metrics({{"psnr": 30.5}})
section.save()
"""

BAD_DEMO = """#!{python}
import sys
print("training diverged", file=sys.stderr)
sys.exit(3)
"""


def _venv_with_scripts(root: Path, scripts: dict[str, str]) -> None:
    """Replace the fake workspace's ``.venv`` link by a venv sharing this one's packages."""
    venv = root / ".venv"
    venv.unlink()
    (venv / "bin").mkdir(parents=True)
    real = Path(sys.prefix)
    shutil.copy(real / "pyvenv.cfg", venv / "pyvenv.cfg")
    os.symlink(real / "lib", venv / "lib")
    os.symlink(Path(sys.executable), venv / "bin" / "python")
    for name, text in scripts.items():
        path = venv / "bin" / name
        path.write_text(text.format(python=venv / "bin" / "python"), encoding="utf-8")
        path.chmod(0o755)


def test_demo_page_with_pass_fail_and_pending(
    fake_workspace: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    root = fake_workspace(
        {"good": {}, "bad": {}, "later": {}},
        member_extra={
            "good": 'cli = "good"\ndemo = true\n',
            "bad": 'cli = "bad"\ndemo = true\n',
            "later": 'cli = "later"\n',
        },
    )
    _venv_with_scripts(root, {"good": GOOD_DEMO, "bad": BAD_DEMO})
    code = cli.main(["demo", "--no-bootstrap"], root=root)
    out = capsys.readouterr().out
    assert code == 1
    assert "demo failed for: bad" in out
    demo = root / "runs" / "demo"
    good = json.loads((demo / "good" / "report.json").read_text(encoding="utf-8"))
    assert good["items"][0]["metrics"] == {"psnr": 30.5}
    page = (demo / "index.html").read_text(encoding="utf-8")
    assert "good demo" in page and "30.5" in page
    assert "exit 3" in page and "training diverged" in page
    assert "later: no demo yet" in page
    sections = json.loads((demo / "sections.json").read_text(encoding="utf-8"))
    assert set(sections) == {"good", "bad", "later"}
    assert set(sections["bad"]) == {"error"} and set(sections["later"]) == {"pending"}
