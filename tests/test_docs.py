"""The front page and the manual state what the code does: its example, its tables, its counts, its links."""

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

import warp_access
from emit.records import build_record
from grammar.builtins import PRODUCTIONS, all_builtins
from grammar.sample import sample

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
#: How the front page shows the record of seed 0 (`python -m synth --count 20 --seed 0`, line 1).
SHOWN_FIELDS = ("device", "kernel_name", "kernel_type")
SHOWN_METADATA = ("seed", "warp_version", "generator_version", "module_file", "features", "builtins", "types")
SHORTENED_FIELDS = ("python_source", "code_forward", "code_backward")


def _block(text: str, fence: str) -> str:
    """The first fenced block opened by `fence` (```python ...)."""
    return text.split(f"{fence}\n", 1)[1].split("```\n", 1)[0]


@pytest.fixture(scope="module")
def record() -> dict:
    return build_record(sample(0), "cpu")


def test_front_page_is_short_and_shows_a_kernel_and_its_record_first():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    first = "\n".join(lines[:80])
    for fence in ("```python", "```jsonc", "```cpp"):
        assert fence in first and _block(first, fence).count("\n") > 5, fence


def test_front_page_kernel_is_what_seed_0_generates(record):
    assert _block(README.read_text(), "```python") == record["python_source"]


def test_front_page_record_excerpt_is_that_kernels_record(record):
    excerpt = _block(README.read_text(), "```jsonc").splitlines()
    for name in SHOWN_FIELDS:
        assert f'  "{name}": {json.dumps(record[name])},' in excerpt, name
    for name in SHOWN_METADATA:
        assert f'    "{name}": {json.dumps(record["metadata"][name])},' in excerpt, name
    for name in SHORTENED_FIELDS:
        (line,) = [line for line in excerpt if line.startswith(f'  "{name}": ')]
        shown = line.split(": ", 1)[1].removesuffix('...",')
        assert json.dumps(record[name]).startswith(shown) and len(shown) > 20, name


def test_front_page_code_is_the_start_of_that_records_code_forward(record):
    code = record["code_forward"]
    chunks = _block(README.read_text(), "```cpp").split("...\n")
    assert code.startswith(chunks[0])
    at = 0
    for chunk in filter(None, chunks):
        at = code.index(chunk, at) + len(chunk)  # each shown piece, in order


def _slug(heading: str) -> str:
    """GitHub's anchor of a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#+ (.*)$", re.sub(r"(?ms)^(`{3,}).*?^\1", "", path.read_text()), re.M)
    return {_slug(h) for h in headings}


def test_every_doc_is_on_the_front_page_and_every_link_resolves():
    pages = [README, *sorted(DOCS.glob("*.md"))]
    readme = README.read_text()
    for doc in pages[1:]:
        assert f"](docs/{doc.name})" in readme, doc.name
    for page in pages:
        for target, anchor in re.findall(r"\]\(([^)#\s]*)(?:#([^)\s]*))?\)", page.read_text()):
            if target.startswith("http"):
                continue
            path = (page.parent / target).resolve() if target else page
            assert path.exists(), f"{page.name}: {target}"
            assert not anchor or anchor in _anchors(path), f"{page.name}: {target}#{anchor}"


def _family_table() -> dict[str, tuple[int, int]]:
    """Family -> (generated, in registry), as docs/kernel-language.md's Builtins table states them."""
    rows = re.findall(
        r"^\| ([A-Z][\w ]+) \| (\d+) / (\d+) \|", (DOCS / "kernel-language.md").read_text(), re.M
    )
    return {family: (int(generated), int(registry)) for family, generated, registry in rows}


def test_builtin_family_table_counts_what_the_grammar_generates():
    groups = warp_access.builtin_groups()
    generated = Counter(groups[n] for n in {b.name for b in all_builtins()} | set(PRODUCTIONS) if n in groups)
    registry = Counter(groups.values())
    stated = _family_table()
    assert stated and all(stated[f] == (generated[f], registry[f]) for f in stated), stated
    assert set(stated) == {f for f in registry if generated[f]}
    total, text = sum(generated.values()), (DOCS / "kernel-language.md").read_text()
    assert f"{total} registry builtins are generated" in text
    assert f"issue 14), {len(groups) - total} are not." in text


def test_the_small_runs_counts_are_those_the_benchmarks_quote():
    command = [sys.executable, "benchmarks/figures.py", "--count", "40"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    benchmarks = (DOCS / "benchmarks.md").read_text()
    assert "PYTHONPATH=. python benchmarks/figures.py --count 40\n" in benchmarks
    assert f"```\n{result.stdout}```" in benchmarks
