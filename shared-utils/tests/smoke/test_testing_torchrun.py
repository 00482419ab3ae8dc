"""``run_torchrun`` starts a fresh 2-process CPU rendezvous whatever the caller's env."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from shared_utils.testing import run_torchrun

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    keys = ("RANK", "WORLD_SIZE", "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "EXTRA")
    out = os.path.join(sys.argv[1], "rank" + os.environ["RANK"] + ".json")
    with open(out, "w") as fh:
        json.dump({k: os.environ.get(k) for k in keys}, fh)
    """
)


def test_ranks_see_their_own_world_and_one_cpu_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a caller already inside a launcher: its distributed variables must not leak
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("WORLD_SIZE", "8")
    monkeypatch.setenv("MASTER_PORT", "1")
    script = tmp_path / "report_env.py"
    script.write_text(SCRIPT)
    done = run_torchrun([str(script), str(tmp_path)], env={"EXTRA": "yes"}, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    seen = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    for rank, env in enumerate(seen):
        assert env == {
            "RANK": str(rank),
            "WORLD_SIZE": "2",
            "OMP_NUM_THREADS": "1",
            "CUDA_VISIBLE_DEVICES": "",
            "EXTRA": "yes",
        }
