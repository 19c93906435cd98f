"""The fuzzer's results on disk, durable and resumable like the main job's dataset.

`results.jsonl` holds one line per kernel checked, in candidate order, and grows by
whole groups; after each group `progress.json` is replaced atomically (the main
job's `emit.writer` checkpointing, reused).  A run interrupted at any moment
(Ctrl-C, SIGKILL) continues from the last checkpoint when run again: a partly
written group is cut off and checked again, nothing checkpointed is lost or
written twice.  The same `--out` with another `--seed` or `--device` is refused;
`--fresh` discards the earlier results and findings.  `fuzz.json` summarises the
lines (`summarize`), and the exit status follows from it (`exit_status`).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from check.findings import FINDINGS_DIR
from check.harness import Report, Status
from check.kinds import KINDS
from emit.records import candidate_seed
from emit.schema import DamagedFile, Field, ListOf, OneOf, Struct, parsed, read_jsonl
from emit.writer import PROGRESS, DatasetMismatch, DatasetWriter, Progress

RESULTS = "results.jsonl"
SUMMARY = "fuzz.json"

#: Exit statuses, as a test runner's: documented in `fuzz --help` and docs/fuzzing.md.
EXIT_CLEAN, EXIT_NEW, EXIT_USAGE, EXIT_HARNESS = 0, 1, 2, 3
EXIT_CODES = {
    EXIT_CLEAN: "no new findings (known ones may be reported)",
    EXIT_NEW: "new Warp findings or generator defects",
    EXIT_USAGE: "bad arguments, or --out holds results of other arguments",
    EXIT_HARNESS: "the checking process itself failed, or kernels were skipped after their worker "
    "failed twice (one line says why)",
}
#: The execution label of a kernel left unchecked: its group's worker failed twice (`--workers` > 1),
#: as the main job labels such candidates.
WORKER_FAILED = "worker_failed"

#: Gradient-check outcomes that compared a non-zero derivative (issue: `trivial` compares nothing;
#: `float32_rounding` compared it in float64).
NONTRIVIAL_GRADIENTS = ("passed", "mismatch", "float32_rounding")


#: A failure of a results line: its kind and versions, and what it counts for (`Filer.file`).
FAILURE = Struct(
    (
        Field("kind", OneOf(tuple(KINDS)), "the failure kind (`check.kinds.KINDS`)"),
        Field("versions", ListOf("string"), "the Warp versions it shows in"),
        Field("known", "string", "the known Warp bug it is (`check.known`)", optional=True),
        Field("finding", "string", "the reproducer of the finding it counts for", optional=True),
        Field(
            "not_reproduced", "bool", "no reproducer of it reproduced as saved: nothing filed", optional=True
        ),
        Field("reproducers_dropped", "int64", "its reproducers that did not reproduce", optional=True),
    )
)

#: A line of results.jsonl (`result_line`).
RESULT = Struct(
    (
        Field("index", "int64", "the candidate index"),
        Field("seed", "int64", "the kernel's seed"),
        Field("kernel_name", "string", "the kernel's name"),
        Field("kernel_type", "string", "its label"),
        Field("failures", ListOf(FAILURE), "what failed"),
        Field("metadata", "object", "what the checks measured (`check.harness.Report.metadata`)"),
    )
)

_COUNTS = "object"  # a count by name
#: fuzz.json (`summarize`, and the Warp versions by role `synth.fuzz` adds).
FUZZ_SUMMARY = Struct(
    (
        Field("kernels", "int64", "kernels checked"),
        Field("execution", _COUNTS, "kernels by how their execution went"),
        Field("debug_passed", "int64", "kernels whose debug build passed"),
        Field("deterministic", "int64", "kernels whose two launches agreed"),
        Field("gpu", "bool", "whether a CUDA GPU was used"),
        Field("cpu_gpu_compared", "int64", "kernels whose CPU and GPU results were compared"),
        Field("gradcheck", _COUNTS, "gradient checks by outcome"),
        Field("gradcheck_nontrivial", "int64", "gradient checks that compared a non-zero derivative"),
        Field("gradcheck_nontrivial_share", "number", "their share of the kernels"),
        Field("outside_contract_measured", _COUNTS, "gradients outside the autodiff contract, by reason"),
        Field("new_findings", _COUNTS, "new Warp failures by kind"),
        Field("distinct_findings", "int64", "findings they count for"),
        Field("known_findings", _COUNTS, "known Warp bugs by name"),
        Field("generator_defects", "int64", "warp-synth's own defects"),
        Field("not_reproduced", "int64", "failures no reproducer reproduced"),
        Field("reproducers_dropped", "int64", "reproducers that did not reproduce"),
        Field("seconds", "number", "checking time"),
        Field("seconds_per_kernel", "number", "checking time per kernel"),
        Field("against_execution", _COUNTS, "--against: kernels by execution there", optional=True),
        Field("compared", "int64", "--against: kernels executed under both", optional=True),
        Field("exit_status", "int64", "the run's exit status"),
        Field("warp", "object", "the Warp versions by role"),
    )
)


class ResultsWriter(DatasetWriter):
    """`results.jsonl` appended per group with a checkpoint; `fuzz.json` the stats file."""

    DATA_FILE, STATS_FILE, CONTENT = RESULTS, SUMMARY, "fuzz results"
    OWNED = (RESULTS, PROGRESS, SUMMARY, FINDINGS_DIR)

    def pending(self, count: int, group: int) -> Iterator[range]:
        """Candidate indices still to check, `group` at a time (from the checkpoint on)."""
        for start in range(self.progress.next_index, count, group):
            yield range(start, min(start + group, count))

    def append_group(self, lines: list[dict[str, Any]], seconds: float) -> None:
        """Write a group's result lines and checkpoint after them; `seconds`: this session's so far."""
        encoded = [(json.dumps(line, sort_keys=True) + "\n").encode() for line in lines]
        p = self.progress
        tally = Counter(p.counters) + Counter(outcome(f) for line in lines for f in line["failures"])
        self.append(
            encoded,
            replace(
                p,
                next_index=lines[-1]["index"] + 1,
                bytes=p.bytes + sum(map(len, encoded)),
                records=p.records + len(lines),
                counters=dict(sorted(tally.items())),
                seconds=seconds,
            ),
        )

    def _parse(self, line: bytes, number: int) -> dict[str, Any]:
        """A checkpointed results line, refused (`DatasetMismatch`, one line) unless it is a `RESULT`:
        the results are not the dataset's, cut back where damaged, but the record of a run."""
        try:
            return parsed(line, RESULT, f"{self.dataset} line {number}")
        except DamagedFile as e:
            raise DatasetMismatch(f"{e}; use --fresh to start again, or another --out") from None

    def _recount(self, line: dict[str, Any], size: int, tally: Progress) -> int | None:
        """Count a result line read back as `append_group` counted it; its index, or None if another run
        wrote it."""
        if line["seed"] != candidate_seed(tally.run["seed"], line["index"]):
            return None
        tally.bytes += size
        tally.records += 1
        for failure in line["failures"]:
            tally.counters[outcome(failure)] = tally.counters.get(outcome(failure), 0) + 1
        return line["index"]

    def lines(self) -> list[dict[str, Any]]:
        """Every result line written so far (the file holds only checkpointed groups)."""
        return read_jsonl(self.dataset, RESULT)


def outcome(failure: dict[str, Any]) -> str:
    """How a failure counts: `new`, `known`, `generator_defect`, or `not_reproduced` (no reproducer of
    it reproduced as saved: nothing was filed)."""
    if failure.get("not_reproduced"):
        return "not_reproduced"
    if KINDS[failure["kind"]].generators:
        return "generator_defect"
    return "known" if "known" in failure else "new"


def result_line(index: int, report: Report, failures: list[dict[str, str]]) -> dict[str, Any]:
    """The results.jsonl line of candidate `index` (`failures`: kind, and `known` for known ones)."""
    return {
        "index": index,
        "seed": report.seed,
        "kernel_name": report.kernel_name,
        "kernel_type": report.kernel_type,
        "failures": failures,
        "metadata": report.metadata,
    }


def summarize(lines: list[dict[str, Any]], gpu: bool, seconds: float) -> dict[str, Any]:
    """fuzz.json: totals over the result lines."""
    meta = [line["metadata"] for line in lines]
    grads = Counter(m.get("gradcheck", {}).get("status", "not_run") for m in meta)
    outside = Counter(m["gradcheck"]["measured"] for m in meta if "measured" in m.get("gradcheck", {}))
    failures = [f for line in lines for f in line["failures"]]
    nontrivial = sum(grads[s] for s in NONTRIVIAL_GRADIENTS)
    summary = {
        "kernels": len(lines),
        "execution": _executions(meta),
        "debug_passed": sum(m.get("debug") == "passed" for m in meta),
        "deterministic": sum(bool(m.get("deterministic")) for m in meta),
        "gpu": gpu,
        "cpu_gpu_compared": sum(bool(m.get("cpu_gpu", {}).get("compared")) for m in meta),
        "gradcheck": _sorted(grads),
        "gradcheck_nontrivial": nontrivial,
        "gradcheck_nontrivial_share": round(nontrivial / len(lines), 4) if lines else 0.0,
        "outside_contract_measured": _sorted(outside),
        "new_findings": _sorted(Counter(f["kind"] for f in failures if outcome(f) == "new")),
        "distinct_findings": len({f["finding"] for f in failures if outcome(f) == "new" and "finding" in f}),
        "known_findings": _sorted(Counter(f["known"] for f in failures if outcome(f) == "known")),
        "generator_defects": sum(outcome(f) == "generator_defect" for f in failures),
        "not_reproduced": sum(outcome(f) == "not_reproduced" for f in failures),
        "reproducers_dropped": sum(f.get("reproducers_dropped", 0) for f in failures),
        "seconds": round(seconds, 1),
        "seconds_per_kernel": round(seconds / len(lines), 2) if lines else 0.0,
    }
    against = [m["against"] for m in meta if "against" in m]
    if against:  # version-differential: how the other installation fared, and how many ran under both
        summary["against_execution"] = _executions(against)
        summary["compared"] = sum(
            m.get("execution") == m["against"].get("execution") == "executed" for m in meta if "against" in m
        )
    return summary | {"exit_status": exit_status(summary)}


def _executions(meta: list[dict[str, Any]]) -> dict[str, int]:
    """Kernels by how their execution went (the outcome's label, without its reason)."""
    return _sorted(
        Counter(Status.parse(m["execution"]).kind if "execution" in m else "not_run" for m in meta)
    )


def exit_status(summary: dict[str, Any]) -> int:
    """3 when kernels were left unchecked (the run is incomplete), else 1 when it found something new
    (a Warp finding not known, or a generator defect), else 0."""
    if summary["execution"].get(WORKER_FAILED):
        return EXIT_HARNESS
    return EXIT_NEW if summary["new_findings"] or summary["generator_defects"] else EXIT_CLEAN


def _sorted(counts: Counter) -> dict[str, int]:
    return dict(sorted(counts.items()))
