"""Helpers for the members' test suites."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
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


def undocumented_options(parser: argparse.ArgumentParser) -> list[str]:
    """Every option or sub-command of ``parser`` (recursively) that has no help text.

    Returns entries such as ``"train --seed"`` or ``"(command) render"``; a CLI test
    asserts the list is empty so that ``--help`` documents every flag. ``-h/--help`` and
    options hidden with ``argparse.SUPPRESS`` are skipped.
    """
    missing: list[str] = []

    def walk(p: argparse.ArgumentParser, prefix: str) -> None:
        for action in p._actions:  # argparse exposes no public list of actions
            if isinstance(action, argparse._HelpAction) or action.help == argparse.SUPPRESS:
                continue
            if isinstance(action, argparse._SubParsersAction):
                documented = {choice.dest for choice in action._choices_actions if choice.help}
                for name, sub in action.choices.items():
                    if name not in documented and not sub.description:
                        missing.append(f"{prefix}(command) {name}".strip())
                    walk(sub, f"{prefix}{name} ")
                continue
            if not action.help:
                label = "/".join(action.option_strings) or str(action.dest)
                missing.append(f"{prefix}{label}")

    walk(parser, "")
    return missing


_DIST_ENV = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")


def run_torchrun(
    args: Sequence[str],
    *,
    nproc: int = 2,
    env: Mapping[str, str] | None = None,
    timeout: float = 240.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``torchrun --standalone --nproc_per_node nproc ARGS`` on CPU (gloo), captured.

    For the members' multi-process smoke tests: ``args`` is what follows torchrun's own
    options (``["-m", "pkg.cli", "train", ...]`` or a script path). Each process gets one
    thread and no GPU; distributed variables inherited from a launcher are dropped so the
    run starts its own rendezvous; ``env`` adds or overrides variables.
    """
    child = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    for name in _DIST_ENV:
        child.pop(name, None)
    child.update(env or {})
    command = [
        sys.executable, "-m", "torch.distributed.run",
        "--standalone", "--nproc_per_node", str(nproc), *args,
    ]  # fmt: skip
    return subprocess.run(command, env=child, capture_output=True, text=True, timeout=timeout)
