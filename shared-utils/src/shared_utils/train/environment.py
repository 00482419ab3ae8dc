"""What produced a run: versions, git commit, lock hash, host and device.

:func:`collect_environment` returns a JSON-ready dict that :class:`RunDir` stores as
``environment.json``. The workspace root is found by walking up from the working
directory (then from this file) to the folder holding ``workspace.toml``; its
``uv.lock`` is hashed so a result can be tied to the exact locked environment.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import platform
import socket
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

KEY_PACKAGES: tuple[str, ...] = (
    "numpy",
    "torch",
    "torchvision",
    "triton",
    "scipy",
    "tyro",
    "pyyaml",
    "tensorboard",
    "open3d",
    "shared-utils",
)
"""Distributions whose versions are always recorded (absent ones are stored as None)."""


def find_workspace_root(start: Path | None = None) -> Path | None:
    """The nearest folder at or above ``start`` (default: cwd, then this file) with workspace.toml."""
    starts = [start] if start is not None else [Path.cwd(), Path(__file__).resolve().parent]
    for origin in starts:
        for folder in (origin.resolve(), *origin.resolve().parents):
            if (folder / "workspace.toml").is_file():
                return folder
    return None


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed version of each distribution name, None when not installed."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(folder: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def git_state(folder: Path) -> dict[str, Any]:
    """``{"commit": sha | None, "dirty": bool | None}`` for the repository holding ``folder``."""
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def collect_environment(
    device: torch.device | str | None = None, extra_packages: Iterable[str] = ()
) -> dict[str, Any]:
    """Versions, git commit, ``uv.lock`` sha256, host and device of this process.

    Args:
        device: the training device, recorded with its CUDA name when it is a GPU.
        extra_packages: more distribution names to record (e.g. the member's own).
    """
    root = find_workspace_root()
    lock = root / "uv.lock" if root is not None else None
    lock_sha = hashlib.sha256(lock.read_bytes()).hexdigest() if lock and lock.is_file() else None
    device_info: dict[str, Any] = {"device": str(device) if device is not None else None}
    if device is not None and torch.device(device).type == "cuda":
        props = torch.cuda.get_device_properties(torch.device(device))
        device_info.update(name=props.name, total_memory_bytes=int(props.total_memory))
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "hostname": socket.gethostname(),
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cuda_available": torch.cuda.is_available(),
        "packages": package_versions((*KEY_PACKAGES, *extra_packages)),
        "workspace_root": str(root) if root is not None else None,
        "uv_lock_sha256": lock_sha,
        "git": git_state(root if root is not None else Path.cwd()),
        "device": device_info,
        "argv": list(sys.argv),
    }
