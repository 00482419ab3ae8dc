"""The EMA codebook under DDP: two gloo processes on CPU, each updating from half a batch,
end with the codebook that one process gets from the whole batch, and dead-code restarts
put the same vectors (rank 0's) into the codebook on both ranks."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from lvt.model.quantizer import EMAQuantizer

LATENT, N_C, K, ROWS = 8, 2, 16, 24


def _quantizer(threshold: float) -> EMAQuantizer:
    torch.manual_seed(0)  # the same initial codebooks in every process
    return EMAQuantizer(LATENT, N_C, K, dead_code_threshold=threshold, implementation="torch")


def _batch() -> torch.Tensor:
    """(ROWS, LATENT) encoder outputs, the same in every process."""
    return torch.randn(ROWS, LATENT, generator=torch.Generator().manual_seed(1))


def _update(q: EMAQuantizer, z: torch.Tensor) -> None:
    """One EMA step of every codebook from rows z, each row assigned to its nearest code."""
    for c in range(N_C):
        part = z[:, c * q.code_dim : (c + 1) * q.code_dim]
        _, idx = q.quantize_rows(part, c)
        q.ema_update(c, part, idx)


def _state(q: EMAQuantizer) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in q.state_dict().items()}


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        half = _batch().chunk(world)[rank]
        # no restarts: only the all-reduced EMA statistics
        plain = _quantizer(threshold=0.0)
        _update(plain, half)
        # default threshold: after one step every unused code (count 0.99 < 1) is dead;
        # the ranks' random picks differ on purpose (different seeds, different halves)
        torch.manual_seed(100 + rank)
        restart = _quantizer(threshold=1.0)
        _update(restart, half)
        torch.save({"plain": _state(plain), "restart": _state(restart)}, f"{out}/rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not dist.is_gloo_available(), reason="needs torch.distributed with gloo")
def test_ema_update_over_two_ranks_equals_one_process_on_the_whole_batch(
    tmp_path: Path,
) -> None:
    mp.spawn(_worker, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in range(2)]
    z = _batch()

    # 1. the EMA statistics and codebooks of the split batch equal the whole batch's
    single = _quantizer(threshold=0.0)
    _update(single, z)
    for state in ranks:
        for key, value in _state(single).items():
            torch.testing.assert_close(state["plain"][key], value, rtol=1e-6, atol=1e-6)
    # (the step moved the codebooks: the comparison is not of two untouched copies)
    assert not torch.allclose(single.codebooks, _quantizer(threshold=0.0).codebooks)

    # 2. restarts: both ranks hold exactly the same buffers, the same codes were restarted
    #    as in one process, and each restarted code is a row of rank 0's half
    a, b = ranks[0]["restart"], ranks[1]["restart"]
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0)
    dead = single.ema_count < 1.0  # the codes below the threshold after the EMA step
    single = _quantizer(threshold=1.0)
    torch.manual_seed(7)
    _update(single, z)
    assert 0 < int(dead.sum()) < dead.numel()
    torch.testing.assert_close(a["ema_count"], single.ema_count, rtol=1e-6, atol=1e-6)
    live = ~dead
    torch.testing.assert_close(a["codebooks"][live], single.codebooks[live], rtol=1e-6, atol=1e-6)
    rank0_rows = z.chunk(2)[0]
    for c in range(N_C):
        rows = rank0_rows[:, c * single.code_dim : (c + 1) * single.code_dim]
        for k in torch.nonzero(dead[c])[:, 0].tolist():
            vector = a["codebooks"][c, k]
            assert torch.isclose(rows, vector).all(dim=1).any(), (c, k)
            torch.testing.assert_close(a["ema_sum"][c, k], vector * 1.0)
