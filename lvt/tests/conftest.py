"""Test set-up: run Triton kernels through the interpreter on the CPU; shared fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from shared_utils.kernels import enable_triton_interpreter

enable_triton_interpreter()


@pytest.fixture(scope="session")
def random_i3d_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An I3D weights file in the format ``shared_utils.metrics.fvd.load_i3d`` reads.

    A torch state_dict of shared_utils' own I3D class with random weights (the
    Kinetics-400 weights cannot be downloaded here). The batch-norm statistics are set
    from one calibration batch, so the random features are O(1) instead of vanishing
    through the 20 layers; the logits layer has 2 classes, so the 2 x 2 feature
    covariance of a few clips is not singular (load_i3d reads the class count from the
    file).
    """
    from shared_utils.metrics.fvd import I3D

    torch.manual_seed(0)
    net = I3D(num_classes=2)
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm3d):
            module.momentum = None  # running stats = the statistics of the batches seen
            module.reset_running_stats()
    net.train()
    with torch.no_grad():
        net(torch.rand(2, 3, 8, 32, 32) * 2 - 1)
    path = tmp_path_factory.mktemp("i3d") / "i3d_random.pt"
    torch.save(net.state_dict(), path)
    return path
