"""The command line: --help lists every command; count and make-synthetic run."""

import json
from pathlib import Path

import pytest

from mobile_densepose.cli import build_parser, main
from shared_utils.testing import undocumented_options

COMMANDS = [
    "count",
    "make-synthetic",
    "train",
    "qat",
    "eval",
    "convert-geodesics",
    "infer",
    "export",
    "bench",
    "demo",
]


def test_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for cmd in COMMANDS:
        assert cmd in text
    sub = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert sorted(sub) == sorted(COMMANDS)


def test_every_option_has_help() -> None:
    assert undocumented_options(build_parser()) == []


def test_count_and_make_synthetic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["count", "--presets", "mobile_b", "--json", str(tmp_path / "c.json")])
    assert "| mobile_b | 3.350 | 3.35 |" in capsys.readouterr().out
    assert json.loads((tmp_path / "c.json").read_text())[0]["params"] == 3_349_621
    main(
        [
            "make-synthetic",
            "--out",
            str(tmp_path / "syn"),
            "--num-images",
            "2",
            "--height",
            "48",
            "--width",
            "64",
        ]
    )
    data = json.loads((tmp_path / "syn" / "annotations.json").read_text())
    assert len(data["images"]) == 2 and data["annotations"]
