"""Peak memory and time of `python -m synth export` per dataset size: memory must stay flat.

    python benchmarks/bench_export.py /tmp/d20 /tmp/d213 /tmp/d1g

Each export runs in its own process (`os.wait4` gives that process's peak RSS), into a
temporary directory; one line per dataset.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(dataset: Path) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, PYTHONHASHSEED="0", PYTHONPATH=str(ROOT))
        start = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-m", "synth", "export", str(dataset), "--format", "parquet", "--out", out],
            env=env,
            stdout=subprocess.DEVNULL,
        )
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        if status:
            sys.exit(f"export of {dataset} failed (status {status})")
        parquet = sum(p.stat().st_size for p in (Path(out) / "data").iterdir())
    return {
        "dataset_mb": round((dataset / "dataset.jsonl").stat().st_size / 1e6, 1),
        "parquet_mb": round(parquet / 1e6, 1),
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
    }


if __name__ == "__main__":
    for path in sys.argv[1:]:
        print(json.dumps({"dataset": path, **measure(Path(path))}), flush=True)
