"""Argument types and the parser class shared by every `python -m synth` command.

Bad input is one line on stderr and exit status 2, never a traceback: the
parser raises `UsageError`, which `synth.cli.main` reports.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import NoReturn


class UsageError(Exception):
    """A bad argument: reported in one line."""


class Parser(argparse.ArgumentParser):
    """An argument parser that raises `UsageError` instead of printing usage and exiting."""

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


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**31:
        raise argparse.ArgumentTypeError(f"seed must be in [0, 2**31), got {text!r}")
    return value


def check_writable(out: Path) -> None:
    """`out` exists (made if need be) and takes new files, or a `UsageError`."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out):
            pass
    except OSError as e:
        raise UsageError(f"--out {out}: not a writable directory ({e.strerror or e})") from None
