"""Running one command: stream its output live, keep a tail, enforce a deadline.

Each command runs in its own process group so that a timeout kills the whole tree
(pytest workers, torchrun children), not just the direct child.
"""

from __future__ import annotations

import collections
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StepResult:
    """The outcome of one command."""

    name: str
    """Short label (``ruff check``, ``uv build``...), used in reports and junit."""
    argv: tuple[str, ...]
    """The command that ran."""
    returncode: int
    """Exit status; 124 after a timeout, 127 when the program was not found."""
    seconds: float
    """Wall-clock duration."""
    timed_out: bool
    """True when the deadline killed it."""
    output: str
    """The last lines of its combined stdout/stderr."""

    @property
    def ok(self) -> bool:
        """True on exit status 0."""
        return self.returncode == 0

    @property
    def command(self) -> str:
        """The command as a shell line."""
        return shlex.join(self.argv)


def _kill_group(proc: subprocess.Popen[str]) -> None:
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def run_step(
    name: str,
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout_s: float = 900.0,
    tail_lines: int = 400,
    echo: bool = True,
) -> StepResult:
    """Run ``argv`` in ``cwd``, echoing its output line by line as it comes.

    Args:
        name: label of the step.
        argv: the command.
        cwd: working directory.
        env: full environment (default: inherit).
        timeout_s: wall-clock limit; the process group is killed when it passes.
        tail_lines: how many trailing output lines :attr:`StepResult.output` keeps.
        echo: print the output (otherwise only collect it).
    """
    print(f"$ {shlex.join(argv)}    [cwd: {cwd}]", flush=True)
    start = time.monotonic()
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            bufsize=1,
            start_new_session=True,
        )
    except OSError as exc:
        print(f"cannot run {argv[0]}: {exc}", flush=True)
        return StepResult(name, tuple(argv), 127, time.monotonic() - start, False, str(exc))
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            tail.append(line)
            if echo:
                sys.stdout.write(line)
                sys.stdout.flush()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=max(timeout_s, 0.1))
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc)
    reader.join(timeout=10)
    seconds = time.monotonic() - start
    code = 124 if timed_out else proc.returncode
    if timed_out:
        msg = f"TIMEOUT: {name} killed after {timeout_s:.0f} s\n"
        tail.append(msg)
        print(msg, end="", flush=True)
    return StepResult(name, tuple(argv), code, seconds, timed_out, "".join(tail))
