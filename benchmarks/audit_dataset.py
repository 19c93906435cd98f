"""Outside check of a written dataset: are sampled records true, reproducible and compilable?

For a random sample of records it checks, independently of how they were written:
- re-lowering `python_source` with the pinned Warp gives exactly the code fields;
- `grammar.sample.sample(metadata.seed)` gives back `python_source`;
- the records' exact code compiles (Warp's clang for cpu, NVRTC for cuda), in one batch.

    python benchmarks/audit_dataset.py artifacts/datasets/cpu/dataset.jsonl --sample 24
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from check.compile import compile_codes
from emit.lower import lower
from grammar.sample import sample
from grammar.unparse import to_source
from warp_access import KernelCode, init_warp


def read_records(path: Path) -> list[dict]:
    with open(path, "rb") as f:
        return [json.loads(line) for line in f]


def audit(records: list[dict]) -> dict[str, int]:
    relowered = regenerated = 0
    for r in records:
        code = lower(r["python_source"], r["kernel_name"], r["device"])
        stored = KernelCode(r["code_forward"], r["code_backward"], r["code_helpers"])
        relowered += code == stored
        regenerated += to_source(sample(r["metadata"]["seed"]).tree) == r["python_source"]
    devices = {r["device"] for r in records}
    compiled = 0
    for device in sorted(devices):
        batch = [r for r in records if r["device"] == device]
        compile_codes(
            [KernelCode(r["code_forward"], r["code_backward"], r["code_helpers"]) for r in batch], device
        )
        compiled += len(batch)
    return {
        "sampled": len(records),
        "relowered_identical": relowered,
        "regenerated_from_seed": regenerated,
        "compiled": compiled,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--sample", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    init_warp()
    records = read_records(args.dataset)
    chosen = random.Random(args.seed).sample(records, min(args.sample, len(records)))
    result = audit(chosen)
    print(json.dumps({"dataset": str(args.dataset), "records": len(records), **result}))
    ok = result["relowered_identical"] == result["regenerated_from_seed"] == result["compiled"] == len(chosen)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
