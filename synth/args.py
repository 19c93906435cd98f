"""Argument types and the parser class shared by every `python -m synth` command.

Bad input is one line on stderr and exit status 2, never a traceback: the
parser raises `UsageError`, which `synth.cli.main` reports.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any, NoReturn

from emit.writer import probe_writable


class UsageError(Exception):
    """A bad argument: reported in one line."""


class HelpFormatter(argparse.HelpFormatter):
    """Help wrapped between words only (never inside a word or at its hyphen); the line breaks
    of a description or epilog are kept (each line is wrapped on its own)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return _wrap(" ".join(text.split()), width)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(_fill(indent + line, width) for line in text.splitlines())


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def _fill(line: str, width: int) -> str:
    """`line` wrapped; continuation lines of an indented line (a list entry) indented 4 more."""
    lead = len(line) - len(line.lstrip())
    more = " " * (lead + 4) if lead else ""
    return textwrap.fill(line, width, subsequent_indent=more, break_long_words=False, break_on_hyphens=False)


class Parser(argparse.ArgumentParser):
    """An argument parser that raises `UsageError` instead of printing usage and exiting."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _integer_from(text: str, low: int, what: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    return _integer_from(text, 1, "a positive integer")


def non_negative_int(text: str) -> int:
    return _integer_from(text, 0, "a non-negative integer")


def positive_number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"seed must be in [0, 2**31), got {text!r}")
    return value


def add_dataset_dir(parser: argparse.ArgumentParser) -> None:
    """The positional DIR of the commands that read a dataset (export, validate, stats, show)."""
    parser.add_argument("dir", type=Path, metavar="DIR", help="dataset directory (holding dataset.jsonl)")


def check_writable(out: Path) -> None:
    """`out` exists (made if need be) and takes new files, or a `UsageError`."""
    try:
        probe_writable(out)
    except OSError as e:
        raise UsageError(f"--out {out}: not a writable directory ({e.strerror or e})") from None
