"""The dataset card: README.md beside the data, in Hugging Face's card conventions.

YAML front matter (`configs`, `dataset_info` features and splits, `license`,
`task_categories`, `size_categories`), then how the data was made, its schema,
counts, sizes, splits, plots and known limits.  Written at the end of every
`python -m synth` run (beside dataset.jsonl) and by `export` (beside the
Parquet shards).  Plain Python: the main job writes it without the export extra.
"""

from __future__ import annotations

import ast
import json
import re
from collections import Counter
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

from emit.records import MAX_RECORD_BYTES
from emit.writer import CARD, DATASET
from grammar.labels import KERNEL_TYPES
from synth import schema
from synth.dataset import SPLITS, Dataset, open_dataset
from synth.summary import PERCENTILES, SIZE_FIELDS, Summary, registry_coverage, summarize

#: warp-lang's license: its code generator and templates wrote the code fields.
LICENSE = "apache-2.0"
TAGS = ("code", "cuda", "cpp", "nvidia-warp", "synthetic", "compilers")
#: The repository checkout this runs from, if any (an installed warp-synth has no docs/).
REPOSITORY = Path(__file__).resolve().parents[1]
FINDINGS = REPOSITORY / "docs" / "warp_findings"
REPOSITORY_FINDINGS = "`docs/warp_findings/` of the warp-synth repository"

#: Known limits besides the Warp findings.
LIMITS = (
    "Kernels are random programs: well typed, free of undefined behaviour by construction, "
    "but they compute nothing meaningful; identifiers come from a small vocabulary.",
    "The code is exactly what warp-lang {warp} generates; another Warp version generates other code "
    "(records name their version; `validate` refuses other versions).",
    "`metadata.builtins` holds the `wp.*` names a kernel calls; the Python operators it spells "
    "(`+`, `%`, `<<` ...) are counted from `python_source` under Operators in the family table.",
    "One label per kernel (`kernel_type`), the first matching rule of `grammar/features.py`; "
    "`metadata.features` holds every feature.",
    "Splits keep kernels of one AST shape together; structurally close kernels may still straddle them.",
    "Unless the run compiled every record (`--verify compile`, above), the code was generated, not "
    "compiled; `python -m synth validate DIR --compile` compiles it.",
)
#: What each device's code is written in.
LANGUAGES = {"cpu": "C++", "cuda": "CUDA C++"}


@dataclass(frozen=True)
class Layout:
    """Where the data files of the card's directory are, and how they were written."""

    files: dict[str, str]  # split -> data file pattern, relative to the card
    made_by: tuple[str, ...]  # commands after the generating one (export)
    load: str  # Python that loads it


def jsonl_layout() -> Layout:
    return Layout(
        {"train": DATASET},
        (),
        f'load_dataset("json", data_files="DIR/{DATASET}")  # one split, train; export writes three',
    )


def write_jsonl_card(out: Path) -> Path:
    """The card of a run's output directory, beside dataset.jsonl (the end of every run)."""
    dataset = open_dataset(out)
    return write_card(out, dataset, summarize(dataset), jsonl_layout(), [])


def write_card(
    out: Path, dataset: Dataset, summary: Summary, layout: Layout, plots: list[tuple[str, str]]
) -> Path:
    """Render the card into `out/README.md` (atomically: a card is never half written)."""
    path = out / CARD
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render(dataset, summary, layout, plots))
    tmp.replace(path)
    return path


def render(dataset: Dataset, summary: Summary, layout: Layout, plots: list[tuple[str, str]]) -> str:
    provenance = [json.loads(p) for p in summary.provenance]
    warp = ", ".join(sorted({p["warp_version"] for p in provenance}))
    languages = " and ".join(LANGUAGES[d] for d in sorted(summary.devices))
    parts = [
        "---\n" + "\n".join(_yaml(front_matter(summary, layout))) + "\n---\n",
        f"# warp-synth: {summary.records:,} random NVIDIA Warp kernels and the {languages} code Warp "
        "generates for them\n",
        "Each record pairs a random `@wp.kernel` Python module with the code warp-lang "
        f"{warp} generates for it (forward, backward/adjoint, helpers). Records are **true** "
        "(re-lowering `python_source` gives exactly the code fields) and **reproducible** (the seed "
        "gives back the record). `python -m synth validate DIR` checks both.\n",
        "```python\nfrom datasets import load_dataset\n" + layout.load + "\n```\n",
        _how_made(dataset, summary, layout),
        "## Schema\n\n" + "\n".join(schema.field_lines()) + "\n",
        _splits(summary, layout),
        _figures(summary),
        _plots(plots),
        _limits(warp),
    ]
    return "\n".join(parts)


def front_matter(summary: Summary, layout: Layout) -> dict[str, Any]:
    splits = [s for s in SPLITS if s in layout.files]
    return {
        "license": LICENSE,
        "pretty_name": "warp-synth: Warp kernels and their generated C++/CUDA code",
        "task_categories": ["text-generation"],
        "tags": list(TAGS),
        "size_categories": [size_category(summary.records)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": s, "path": layout.files[s]} for s in splits],
            }
        ],
        "dataset_info": {
            "features": schema.hf_features(),
            "splits": [
                {"name": s, "num_bytes": b, "num_examples": n} for s, n, b in _layout_splits(summary, layout)
            ],
        },
    }


def _layout_splits(summary: Summary, layout: Layout) -> list[tuple[str, int, int]]:
    """(split, records, JSON bytes) of the card's own files: one train split for dataset.jsonl."""
    if layout.files == jsonl_layout().files:
        return [("train", summary.records, summary.bytes)]
    return [row for row in summary.split_rows() if row[0] in layout.files]


def size_category(n: int) -> str:
    """Hugging Face's size category of `n` records."""
    names = ("1K", "10K", "100K", "1M", "10M", "100M", "1B", "10B", "100B", "1T")
    if n < 1000:
        return "n<1K"
    for power, (low, high) in enumerate(pairwise(names), start=4):
        if n < 10**power:
            return f"{low}<n<{high}"
    return "n>1T"


def generation_command(run: dict[str, Any] | None, records: int) -> str | None:
    """The command that writes this dataset.jsonl byte for byte (with any --workers).

    A byte target stops at a record, and `--count` of that many records stops at the
    same one: candidates are consumed in the same order either way.
    """
    if run is None:
        return None
    args = ["python -m synth", "--device", run["device"], "--seed", str(run["seed"])]
    if list(run["types"]) != list(KERNEL_TYPES):
        args += ["--types", ",".join(run["types"])]
    if run.get("max_record_bytes", MAX_RECORD_BYTES) != MAX_RECORD_BYTES:
        args += ["--max-record-bytes", str(run["max_record_bytes"])]
    if run.get("verify"):
        args += ["--verify", run["verify"]]
    return " ".join([*args, "--count", str(records)])


def _how_made(dataset: Dataset, summary: Summary, layout: Layout) -> str:
    command = generation_command(dataset.run, summary.records)
    stats = dataset.stats() or {}
    lines = [
        "## How it was made\n",
        f"- Command: `{command}`" if command else "- Command: not recorded (no progress.json)",
        *(f"- Then: `{c}`" for c in layout.made_by),
        f"- Base seed: {dataset.run['seed']} (candidate k has seed base * 2**32 + k; "
        "`metadata.seed` is the record's)"
        if dataset.run
        else "- Base seed: not recorded",
        f"- Compiled before writing (`--verify compile`): {'yes' if stats.get('verified') else 'no'}",
    ]
    for text, n in summary.provenance.items():
        p = json.loads(text)
        codegen = p["codegen"]
        share = "every record" if n == summary.records else f"{n:,} records"
        lines += [
            f"- Generator version {p['generator_version']}, warp-lang {p['warp_version']} ({share})",
            f"- Code generation (`metadata.codegen` of {share}): CUDA target "
            f"{codegen['cuda_arch'] or 'none (CPU code)'}; PYTHONHASHSEED={codegen['pythonhashseed']}; "
            f"module file `{p['module_file']}` (module `{Path(p['module_file']).stem}`)",
        ]
    lines += _options(summary)
    lines.append(
        "- To re-lower a record: with that warp-lang, in a process started with that PYTHONHASHSEED, "
        "load `python_source` as the module and file above and let Warp generate the kernel's code with "
        "the options in the record's own `metadata.codegen` (and `output_arch` = the CUDA target) for "
        "`device`; warp-synth does exactly this in `emit.lower.lower(python_source, kernel_name, device)`."
    )
    return "\n".join(lines) + "\n"


def _options(summary: Summary) -> list[str]:
    """Warp's module options (each at its most common value, the others counted) and the kernel
    options some kernels set: each record's own are in its `metadata.codegen`."""
    by_name: dict[tuple[str, str], Counter] = {}
    for (scope, name, value), n in summary.options.items():
        by_name.setdefault((scope, name), Counter())[value] = n
    usual, other, kernel = [], [], []
    for (scope, name), values in sorted(by_name.items()):
        ranked = values.most_common()
        if scope == "kernel_options":
            kernel += [f"{name}={v} ({n:,})" for v, n in ranked]
            continue
        usual.append(f"{name}={ranked[0][0]}")
        other += [f"{name}={v} ({n:,})" for v, n in ranked[1:]]
    lines = [f"- Warp module options of most records: {', '.join(usual)}"] if usual else []
    if other:
        lines.append(f"- Other module options, records with each: {', '.join(other)}")
    if kernel:
        lines.append(f"- Kernel options (`@wp.kernel(...)`), records with each: {', '.join(kernel)}")
    return lines


def _splits(summary: Summary, layout: Layout) -> str:
    ratios = "/".join(f"{r:g}" for r in summary.ratios)
    if layout.files == jsonl_layout().files:
        where = f" (`{DATASET}` holds them all; `export` writes them apart)"
    else:
        where = " (a split without records has no file)"
    return (
        "## Splits\n\n"
        f"train/validation/test = {ratios}{where}. A record's split is a function of its "
        "`metadata.ast_shape_sha1` alone: its first 16 hex digits as a fraction of 2**64, against the "
        "cumulative ratios. Kernels with the same AST shape (the AST without names and constants) are "
        "always in the same split, whatever order records are read in.\n"
    )


def _figures(summary: Summary) -> str:
    sections = [
        f"## Counts and sizes\n\n{summary.records:,} records, {summary.bytes:,} bytes of JSON lines.\n"
    ]
    for title, header, rows in figure_tables(summary):
        sections.append(f"### {title}\n\n" + _table(header, rows))
    note = f"code_backward: {summary.no_backward:,} records have none (null), left out of its percentiles.\n"
    return "\n".join(sections) + "\n" + note


Figure = tuple[str, tuple[str, ...], list[tuple[Any, ...]]]


def figure_tables(summary: Summary) -> list[Figure]:
    """The card's figures as (title, header, rows): the card prints them in Markdown, `stats` with rich."""
    registry = registry_coverage()
    families = sorted(summary.families, key=lambda f: (-summary.families[f], f))
    return [
        (
            "Splits",
            ("split", "records", "JSON bytes"),
            [(s, f"{n:,}", f"{b:,}") for s, n, b in summary.split_rows()],
        ),
        ("kernel_type", ("kernel_type", "records"), _by_count(summary.kernel_types)),
        ("device", ("device", "records"), _by_count(summary.devices)),
        (
            "Builtin families (Warp registry groups)",
            ("family", "records calling one", "distinct builtins", "in Warp's registry"),
            [
                (f, f"{summary.families[f]:,}", len(summary.family_builtins[f]), registry.get(f, ""))
                for f in families
            ],
        ),
        ("Warp types", ("type", "records spelling it"), _by_count(summary.types)),
        (
            "Sizes (bytes, UTF-8; record: the JSON line)",
            ("field", *(f"p{p}" for p in PERCENTILES)),
            [(f, *(f"{v:,}" for v in summary.percentiles(f))) for f in SIZE_FIELDS],
        ),
    ]


def _plots(plots: list[tuple[str, str]]) -> str:
    if not plots:
        return (
            "## Plots\n\n`python -m synth export DIR --format parquet --out PDIR` draws them beside its "
            "card (pip install 'warp-synth[export]').\n"
        )
    return "## Plots\n\n" + "\n\n".join(f"![{title}]({path})" for title, path in plots) + "\n"


def _limits(warp: str) -> str:
    lines = ["## Known limits\n", *(f"- {limit.format(warp=warp)}" for limit in LIMITS)]
    findings = warp_findings()  # none where only the installed packages are, without docs/
    lines.append(
        f"- Warp {warp} bugs the generator found and steers around (reproducers in {REPOSITORY_FINDINGS})"
        + (":" if findings else ".")
    )
    lines += [f"  - `{name}`: {text}" for name, text in findings]
    return "\n".join(lines) + "\n"


def warp_findings() -> list[tuple[str, str]]:
    """(file name, first docstring line) of each Warp finding, from the repository's docs/."""
    found = []
    if not (REPOSITORY / "pyproject.toml").is_file():
        return found
    for path in sorted(FINDINGS.glob("*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        found.append((path.name, re.sub(r"^Warp [\d.]+: ", "", doc.splitlines()[0] if doc else "")))
    return found


def _by_count(counter: Any) -> list[tuple[str, str]]:
    return [(k, f"{n:,}") for k, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))]


def _table(header: tuple, rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(map(str, header)) + " |", "|" + " --- |" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _yaml(value: Any, pad: str = "") -> list[str]:
    """YAML block lines for nested dicts and lists of plain scalars (no PyYAML in the main job)."""
    lines = []
    if isinstance(value, dict):
        for key, v in value.items():
            if isinstance(v, dict | list):
                lines += [f"{pad}{key}:", *_yaml(v, pad + "  ")]
            else:
                lines.append(f"{pad}{key}: {_scalar(v)}")
        return lines
    for item in value:
        sub = _yaml(item, pad + "  ") if isinstance(item, dict | list) else [f"{pad}  {_scalar(item)}"]
        lines += [f"{pad}- {sub[0][len(pad) + 2 :]}", *sub[1:]]
    return lines


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    text = str(v)
    plain = re.fullmatch(r"[A-Za-z0-9][\w.<>/*+-]*", text) and not re.fullmatch(
        r"[-+.\d_]+|true|false|null|yes|no|on|off|y|n", text, re.I
    )  # a plain scalar YAML would read as a number, bool or null is quoted
    return text if plain else json.dumps(text)
