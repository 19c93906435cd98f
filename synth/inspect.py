"""`python -m synth stats DIR` and `python -m synth show DIR (--seed S | --index I)`: a dataset on screen.

`stats` prints the card's figures (`synth.card.figure_tables`) as rich tables;
`show` prints one record, its Python source and one code field highlighted.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from synth.args import Parser, add_dataset_dir, non_negative_int, seed
from synth.card import figure_tables, generation_command
from synth.dataset import DEFAULT_RATIOS, DatasetError, open_dataset, ratios
from synth.summary import summarize

CODE_FIELDS = ("code_forward", "code_backward", "code_helpers")


def build_stats_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m synth stats", description="Print a dataset's figures (those of its card)."
    )
    add_dataset_dir(parser)
    parser.add_argument(
        "--split",
        type=ratios,
        default=DEFAULT_RATIOS,
        metavar="T,V,E",
        help="train,validation,test fractions for the per-split rows, as export's --split assigns "
        "records by structural hash (default 0.98,0.01,0.01)",
    )
    return parser


def _console() -> Any:
    """A console whose reader may stop reading (`| head`): a broken pipe reaches `synth.cli.main`
    as `BrokenPipeError` (rich's own answer is to exit with status 1)."""
    from rich.console import Console

    class Piped(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return Piped()


def run_stats(args: argparse.Namespace) -> int:
    from rich.table import Table

    dataset = open_dataset(args.dir)
    summary = summarize(dataset, args.split)
    console = _console()
    command = generation_command(dataset.run, summary.records) or "not recorded"
    console.print(
        f"[bold]{dataset.jsonl}[/]: {summary.records:,} records, {summary.bytes:,} bytes; made by {command}"
    )
    for title, header, rows in figure_tables(summary):
        table = Table(*header, title=title, title_justify="left")
        for row in rows:
            table.add_row(*map(str, row))
        console.print(table)
    return 0


def build_show_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m synth show", description="Print one record: its Python source and a code field."
    )
    add_dataset_dir(parser)
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--seed", type=seed_of_record, metavar="S", help="the record whose metadata.seed is S")
    which.add_argument("--index", type=non_negative_int, metavar="I", help="the I-th record (from 0)")
    parser.add_argument(
        "--field", choices=CODE_FIELDS, default="code_forward", help="code field (default code_forward)"
    )
    return parser


def seed_of_record(text: str) -> int:
    """A record's seed: a base seed times 2**32 plus a candidate index."""
    value = non_negative_int(text)
    seed(str(value >> 32))  # the base seed part is in range
    return value


def _find(args: argparse.Namespace) -> dict[str, Any]:
    dataset = open_dataset(args.dir)
    if args.index is not None:
        for number, _, record in dataset.records():
            if number == args.index + 1:
                return record
        raise DatasetError(f"{dataset.jsonl}: no record at index {args.index} (it holds {number})")
    for _, _, record in dataset.records():
        if record["metadata"]["seed"] == args.seed:
            return record
    raise DatasetError(f"{dataset.jsonl}: no record with seed {args.seed}")


def run_show(args: argparse.Namespace) -> int:
    from rich.syntax import Syntax

    record = _find(args)
    meta = record["metadata"]
    console = _console()
    console.print(
        f"[bold]{record['kernel_name']}[/] ({record['kernel_type']}, {record['device']}), "
        f"seed {meta['seed']}, warp-lang {meta['warp_version']}; features {', '.join(meta['features'])}"
    )
    code = record[args.field]
    for title, text, lexer in (
        ("python_source", record["python_source"], "python"),
        (args.field, code, "cpp"),
    ):
        console.rule(title)
        if text is None:
            console.print("(null: Warp emits no backward code for this kernel)")
        elif console.is_terminal:
            console.print(Syntax(text, lexer, word_wrap=True))
        else:  # piped: the text as it is, neither cropped nor padded to a width
            console.out(text, highlight=False)
    console.rule("metadata")
    console.out(json.dumps(meta, indent=1), highlight=False)
    return 0
