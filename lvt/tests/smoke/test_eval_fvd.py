"""`lvt eval --i3d-weights FILE` samples, decodes and writes the FVD column; a missing file
stops the command with a message naming it before any sampling."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from lvt.checkpoints import save_model
from lvt.cli import main
from lvt.config import TINY_TRANSFORMER, TINY_VQVAE
from lvt.model.transformer import LatentVideoTransformer
from lvt.model.vqvae import VQVAE


def test_eval_writes_the_fvd_column(tmp_path: Path, random_i3d_file: Path) -> None:
    torch.manual_seed(0)
    vq = save_model(tmp_path / "vq" / "model.pt", VQVAE(TINY_VQVAE))
    tr = save_model(tmp_path / "tr" / "model.pt", LatentVideoTransformer(TINY_TRANSFORMER))
    weights = random_i3d_file
    data = ["--data", "digits", "--split", "test", "--size", "32", "--frames", "8"]
    common = ["eval", "--transformer", str(tr), "--vqvae", str(vq), *data]
    out = tmp_path / "eval.json"
    main([*common, "--max-videos", "3", "--i3d-weights", str(weights), "--fvd-resolution", "32",
          "--out", str(out)])  # fmt: skip
    results = json.loads(out.read_text())
    assert isinstance(results["fvd"], float) and math.isfinite(results["fvd"])
    assert results["fvd"] > 0  # an untrained model's samples differ from the real clips
    assert set(results["vqvae"]) == {"psnr", "ssim"}

    with pytest.raises(SystemExit, match=r"--i3d-weights: I3D weights not found at .*nope\.pt"):
        main([*common, "--i3d-weights", str(tmp_path / "nope.pt")])
    with pytest.raises(SystemExit, match="needs --transformer and --vqvae"):
        main(["eval", "--vqvae", str(vq), *data, "--i3d-weights", str(weights)])
