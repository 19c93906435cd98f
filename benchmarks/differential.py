"""The figures of a version-differential fuzz run (`fuzz --against`), read from its output folders.

    python3 benchmarks/differential.py OUT [OUT ...]

Per run: the versions, kernels and how they ran under each installation (and under both), seconds
per kernel, findings by class with their affected versions and hits, and the distribution of the
reproducers' sizes (lines of kernel and helper code, as `SUMMARY.md` counts them).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any


def figures(out: Path) -> dict[str, Any]:
    summary = json.loads((out / "fuzz.json").read_text())
    lines = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    path = out / "findings" / "findings.jsonl"
    findings = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    hits = Counter(f["finding"] for line in lines for f in line["failures"] if "finding" in f)
    sizes = sorted(f["lines"] for f in findings)
    return {
        "warp": summary["warp"],
        "kernels": summary["kernels"],
        "execution (target)": summary["execution"],
        "execution (against)": summary.get("against_execution"),
        "ran under both": summary.get("compared"),
        "seconds per kernel": summary["seconds_per_kernel"],
        "findings by class": dict(Counter(f["signature"].partition("|")[0] for f in findings)),
        "findings": [
            {
                "reproducer": f["reproducer"],
                "affected": f["versions"]["affected"],
                "hits": hits[f["reproducer"]],
                "lines": f["lines"],
                "shrunk": f["shrunk"],
            }
            for f in findings
        ],
        "reproducer lines": {
            "sizes": sizes,
            "at most 12": f"{sum(s <= 12 for s in sizes)} of {len(sizes)}",
            "median": sizes[len(sizes) // 2] if sizes else None,
        },
    }


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        print(folder)
        print(json.dumps(figures(Path(folder)), indent=2))
