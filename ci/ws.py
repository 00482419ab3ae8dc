#!/usr/bin/env python3
"""Workspace tooling entry point (Python 3.11 standard library only).

    python3 ci/ws.py bootstrap     install uv if missing, then `uv sync --locked --all-packages`
    python3 ci/ws.py check         consistency of workspace.toml, pyprojects, CITATION, workflow
    python3 ci/ws.py test          check + bootstrap + the member x job matrix (what CI runs)
    python3 ci/ws.py demo          every member's demo, then runs/demo/index.html
    python3 ci/ws.py release M     releases/M-vX.Y.Z/manifest.json
    python3 ci/ws.py workflow      regenerate .github/workflows/ci.yml from workspace.toml

It runs before any environment exists, so it imports nothing outside the standard library.
"""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info < (3, 11):  # noqa: UP036 (a clear message on an old python3)
    raise SystemExit("ci/ws.py needs Python 3.11 or newer (tomllib)")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from wstool.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
