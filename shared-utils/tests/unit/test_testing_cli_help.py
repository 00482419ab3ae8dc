"""``undocumented_options`` finds every flag and command without help text."""

from __future__ import annotations

import argparse

from shared_utils.testing import undocumented_options


def _parser(document_all: bool) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tool")
    parser.add_argument("--verbose", action="store_true", help="say more")
    sub = parser.add_subparsers(dest="command", required=True)
    train = sub.add_parser("train", help="train a model")
    train.add_argument("data", help="data folder")
    train.add_argument("--seed", type=int, help="random seed" if document_all else None)
    train.add_argument("--hidden", help=argparse.SUPPRESS)
    render = sub.add_parser("render", help="render" if document_all else None)
    render.add_argument("--size", type=int, default=64, help="image side")
    return parser


def test_a_fully_documented_parser_has_no_gaps() -> None:
    assert undocumented_options(_parser(document_all=True)) == []


def test_missing_help_is_named_with_its_command() -> None:
    assert undocumented_options(_parser(document_all=False)) == [
        "train --seed",
        "(command) render",
    ]


def test_a_description_counts_as_documentation_of_a_command() -> None:
    parser = argparse.ArgumentParser(prog="tool")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("eval", description="score a run")
    assert undocumented_options(parser) == []
