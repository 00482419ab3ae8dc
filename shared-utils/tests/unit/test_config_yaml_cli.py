"""Typed configs: YAML round trips, strict loading errors, presets on the command line."""

from __future__ import annotations

import dataclasses
import enum
from pathlib import Path
from typing import Literal

import pytest

from shared_utils.config import (
    ConfigError,
    cli_from_presets,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from shared_utils.train.trainer import TrainerConfig


class Backbone(enum.Enum):
    SMALL = "small"
    LARGE = "large"


@dataclasses.dataclass
class ModelConfig:
    depth: int = 2
    """Number of layers."""
    grid: tuple[int, int] = (4, 4)
    """Feature grid size (rows, columns)."""
    widths: tuple[int, ...] = (8, 16)
    """Channel width of each stage."""
    backbone: Backbone = Backbone.SMALL
    """Backbone size."""


@dataclasses.dataclass
class MethodConfig:
    """A member's config: every supported field type once."""

    data_root: Path = Path("data/scenes")
    """Where the scenes live."""
    mode: Literal["rgb", "depth"] = "rgb"
    """Which signal to fit."""
    weight_decay: float | None = None
    """Optional weight decay."""
    lr: float = 1e-3
    """Adam learning rate, visible in --help."""
    tags: list[str] = dataclasses.field(default_factory=list)
    """Free-form labels."""
    loss_weights: dict[str, float] = dataclasses.field(default_factory=lambda: {"rgb": 1.0})
    """Weight of each loss term."""
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    """Network settings."""
    trainer: TrainerConfig = dataclasses.field(default_factory=TrainerConfig)
    """Trainer settings."""


TINY = MethodConfig(
    data_root=Path("/tmp/tiny"),
    mode="depth",
    weight_decay=0.01,
    tags=["a", "b"],
    loss_weights={"rgb": 1.0, "depth": 0.1},
    model=ModelConfig(depth=1, grid=(2, 3), widths=(4,), backbone=Backbone.LARGE),
    trainer=TrainerConfig(steps=20, batch_size=2, grad_clip=1.0, device="cpu"),
)
PRESETS = {"tiny": ("a few seconds on CPU", TINY), "paper": ("the paper's setup", MethodConfig())}


def test_yaml_round_trip_restores_every_type(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    save_config(TINY, path)
    loaded = load_config(MethodConfig, path)
    assert loaded == TINY
    assert isinstance(loaded.data_root, Path) and isinstance(loaded.model.grid, tuple)
    assert loaded.model.backbone is Backbone.LARGE
    text = path.read_text()
    assert text.startswith("data_root: /tmp/tiny\nmode: depth\n")  # declaration order
    plain = config_to_dict(TINY)
    assert plain["model"] == {"depth": 1, "grid": [2, 3], "widths": [4], "backbone": "large"}
    assert config_from_dict(MethodConfig, plain) == TINY
    # Missing fields take their defaults; ints are accepted for floats.
    partial = config_from_dict(MethodConfig, {"lr": 1, "trainer": {"steps": 3}})
    assert partial.lr == 1.0 and isinstance(partial.lr, float)
    assert partial.trainer == TrainerConfig(steps=3)


@pytest.mark.parametrize(
    ("yaml_text", "message"),
    [
        ("trainer:\n  steps: ten\n", r"trainer\.steps: expected int, got str 'ten'"),
        (
            "trainer:\n  stepz: 10\n",
            r"trainer\.stepz: unknown field \(valid fields of TrainerConfig",
        ),
        ("mode: normals\n", r"mode: expected one of \['rgb', 'depth'\], got str 'normals'"),
        ("model:\n  grid: [1, 2, 3]\n", r"model\.grid: expected 2 items, got 3"),
        ("model:\n  widths: [4, x]\n", r"model\.widths\[1\]: expected int, got str 'x'"),
        ("trainer:\n  deterministic: 1\n", r"trainer\.deterministic: expected bool, got int 1"),
        ("weight_decay: high\n", r"weight_decay: expected float, got str 'high'"),
        ("loss_weights:\n  rgb: [1]\n", r"loss_weights\.rgb: expected float, got list"),
        ("model:\n  backbone: huge\n", r"model\.backbone: expected one of \['small', 'large'\]"),
        ("model: 3\n", r"model: expected a mapping for ModelConfig, got int 3"),
        ("lr: [\n", r"not valid YAML"),
    ],
)
def test_bad_yaml_names_the_file_and_the_field(
    tmp_path: Path, yaml_text: str, message: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=message) as info:
        load_config(MethodConfig, path)
    assert str(info.value).startswith(f"{path}: ")


def test_required_field_without_default_is_reported() -> None:
    @dataclasses.dataclass
    class Needs:
        size: int
        """No default."""

    with pytest.raises(ConfigError, match=r"^run\.yaml: size: required field is missing$"):
        config_from_dict(Needs, {}, source="run.yaml")


def test_cli_selects_a_preset_and_applies_overrides() -> None:
    cfg = cli_from_presets(
        PRESETS,
        args=["tiny", "--trainer.steps", "10", "--model.grid", "5", "6", "--mode", "rgb"],
    )
    assert cfg == dataclasses.replace(
        TINY,
        mode="rgb",
        model=dataclasses.replace(TINY.model, grid=(5, 6)),
        trainer=dataclasses.replace(TINY.trainer, steps=10),
    )
    assert cli_from_presets(PRESETS, args=["paper"]) == MethodConfig()
    assert TINY.trainer.steps == 20  # the preset itself is untouched


def test_cli_help_shows_field_docstrings_and_rejects_bad_values(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        cli_from_presets(PRESETS, args=["tiny", "--help"], prog="method")
    assert info.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "Adam learning rate, visible in --help." in help_text
    assert "--trainer.steps" in help_text and "Optimizer steps to train for" in help_text
    with pytest.raises(SystemExit) as info:
        cli_from_presets(PRESETS, args=["tiny", "--trainer.steps", "ten"])
    assert info.value.code != 0
