"""Bootstrap: from bare Python 3.11 to the locked workspace environment.

Steps, each printed with its duration:
1. find uv (on PATH, or importable as the ``uv`` pip package); otherwise
   ``python3 -m pip install --user uv`` (plain ``pip install uv`` inside a virtualenv or
   when ``--user`` is refused) and locate its binary through ``uv.find_uv_bin()``, which
   works even when ``~/.local/bin`` is not on PATH;
2. libusb for open3d: the ``libusb-package`` wheel in the lock ships it (shared_utils
   preloads it), so the system library is optional; as root with apt-get and no
   system libusb we try ``apt-get install -y libusb-1.0-0`` once and never fail on it;
3. ``uv sync --locked --all-packages``: creates or updates ``.venv`` from ``uv.lock``
   (a no-op taking well under a second when the environment already matches).
"""

from __future__ import annotations

import ctypes.util
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from wstool.proc import StepResult, run_step


class BootstrapError(Exception):
    """A bootstrap step failed; the message says which and why."""


@dataclass(frozen=True)
class Tools:
    """Where the workspace's tools live once bootstrapped."""

    uv: tuple[str, ...]
    """Command prefix that runs uv (a binary path, or ``python -m uv``)."""
    venv: Path
    """The workspace environment (``<root>/.venv``)."""

    @property
    def python(self) -> Path:
        """The environment's interpreter."""
        return self.venv / "bin" / "python"

    def bin(self, name: str) -> Path:
        """A console script of the environment (``ruff``, ``mypy``, a member's CLI)."""
        return self.venv / "bin" / name

    def base_python(self) -> Path:
        """The interpreter the environment was created from (for fresh venvs)."""
        return self.python.resolve()


def uv_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for uv calls: never download a Python build, no stray venv."""
    env = dict(os.environ)
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("VIRTUAL_ENV", None)
    env.setdefault("UV_NO_PROGRESS", "1")
    if extra:
        env.update(extra)
    return env


def _probe(argv: list[str]) -> str | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def find_uv() -> tuple[str, ...] | None:
    """uv's command prefix if it is installed, else None."""
    on_path = shutil.which("uv")
    if on_path and _probe([on_path, "--version"]):
        return (on_path,)
    found = _probe([sys.executable, "-c", "import uv; print(uv.find_uv_bin())"])
    if found and Path(found).is_file():
        return (found,)
    return None


def install_uv(root: Path) -> tuple[str, ...]:
    """Install uv with pip and return its command prefix."""
    in_venv = sys.prefix != sys.base_prefix
    attempts = [[] if in_venv else ["--user"], [], ["--break-system-packages"]]
    for extra in attempts:
        argv = [sys.executable, "-m", "pip", "install", "--quiet", *extra, "uv"]
        result = run_step("pip install uv", argv, cwd=root, timeout_s=600)
        if result.ok:
            found = find_uv()
            if found:
                return found
    raise BootstrapError(
        "could not install uv with pip (tried --user, plain, --break-system-packages); "
        "install it by hand: python3 -m pip install uv"
    )


def ensure_libusb(root: Path) -> str:
    """Try the system libusb (optional: the libusb-package wheel ships the library)."""
    if ctypes.util.find_library("usb-1.0"):
        return "system libusb-1.0 present"
    if os.environ.get("WS_NO_APT"):
        return "system libusb absent; apt skipped (WS_NO_APT); libusb-package wheel provides it"
    if shutil.which("apt-get") is None or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "system libusb absent; not root or no apt-get; libusb-package wheel provides it"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    argv = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "libusb-1.0-0"]
    result = run_step("apt-get install libusb", argv, cwd=root, env=env, timeout_s=180)
    if result.ok:
        return "installed libusb-1.0-0 with apt-get"
    return "apt-get could not install libusb-1.0-0 (ignored: the libusb-package wheel provides it)"


def sync_command(uv: tuple[str, ...]) -> list[str]:
    """The locked sync; pins the interpreter to this Python when it is a 3.11."""
    argv = [*uv, "sync", "--locked", "--all-packages"]
    if sys.version_info[:2] == (3, 11):
        argv += ["--python", sys.executable]
    return argv


def bootstrap(root: Path) -> tuple[Tools, list[StepResult]]:
    """Make sure uv and the locked environment exist; print what was done.

    Returns:
        The tools, and the steps that ran (for the junit report).

    Raises:
        BootstrapError: uv could not be installed or the locked sync failed.
    """
    start = time.monotonic()
    steps: list[StepResult] = []
    uv = find_uv()
    if uv is None:
        print("bootstrap: uv not found; installing it with pip", flush=True)
        uv = install_uv(root)
    version = _probe([*uv, "--version"]) or "?"
    print(f"bootstrap: using {version} at {' '.join(uv)}", flush=True)
    print(f"bootstrap: {ensure_libusb(root)}", flush=True)
    sync = run_step("uv sync --locked", sync_command(uv), cwd=root, env=uv_env(), timeout_s=1800)
    steps.append(sync)
    if not sync.ok:
        raise BootstrapError(
            f"`{sync.command}` failed (exit {sync.returncode}); if uv.lock is out of date "
            "run `uv lock` and commit it"
        )
    tools = Tools(uv=uv, venv=root / ".venv")
    if not tools.python.exists():
        raise BootstrapError(f"uv sync finished but {tools.python} does not exist")
    print(
        f"bootstrap: environment {tools.venv} ready in {time.monotonic() - start:.1f} s", flush=True
    )
    return tools, steps


def existing_tools(root: Path) -> Tools:
    """The tools without bootstrapping (``--no-bootstrap``): uv and ``.venv`` must exist."""
    uv = find_uv()
    venv = root / ".venv"
    if not (venv / "bin" / "python").exists():
        raise BootstrapError(f"{venv} does not exist; run `python3 ci/ws.py bootstrap` first")
    return Tools(uv=uv or ("uv",), venv=venv)
