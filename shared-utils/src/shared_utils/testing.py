"""Helpers for the members' test suites."""

from __future__ import annotations

import os
from pathlib import Path


def workspace_root(start: Path | None = None) -> Path | None:
    """The folder holding ``workspace.toml`` above ``start`` (default: this file), if any."""
    here = (start or Path(__file__)).resolve()
    for parent in [here, *here.parents]:
        if (parent / "workspace.toml").is_file():
            return parent
    return None


def shared_fixtures_dir() -> Path | None:
    """The real-data fixtures folder, or ``None`` when it is absent (a plain clone).

    Looks at ``$SHARED_FIXTURES`` first, then ``shared/fixtures`` beside the workspace
    root (the layout of the development machines and CI). Tests that need it skip with
    a clear reason when this returns ``None``.
    """
    env = os.environ.get("SHARED_FIXTURES")
    if env:
        path = Path(env)
        return path if path.is_dir() else None
    for start in (Path.cwd(), Path(__file__)):
        root = workspace_root(start)
        if root is not None:
            candidate = root.parent / "shared" / "fixtures"
            if candidate.is_dir():
                return candidate
    return None
