"""The shared trainer: seeds, torchrun/DDP, checkpoints, run folders, exact resume.

Import what you need from the submodules, or the main names from here::

    from shared_utils.train import Trainer, TrainerConfig, NonFiniteLossError

Submodules: ``trainer`` (Trainer, TrainerConfig, NonFiniteLossError), ``checkpoint``
(save_checkpoint, load_checkpoint, CheckpointError), ``seed`` (seed_everything),
``distributed`` (init_distributed, DistInfo), ``run_dir`` (RunDir), ``data``
(GlobalBatchSampler, move_to_device), ``environment`` (collect_environment),
``log_window`` (LogWindow).
"""

from shared_utils.train.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from shared_utils.train.distributed import DistInfo, init_distributed
from shared_utils.train.run_dir import RunDir
from shared_utils.train.seed import seed_everything
from shared_utils.train.trainer import NonFiniteLossError, Trainer, TrainerConfig

__all__ = [
    "CheckpointError",
    "DistInfo",
    "NonFiniteLossError",
    "RunDir",
    "Trainer",
    "TrainerConfig",
    "init_distributed",
    "load_checkpoint",
    "save_checkpoint",
    "seed_everything",
]
