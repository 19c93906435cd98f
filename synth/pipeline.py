"""The run: candidate seeds -> records in workers -> ordered, deduplicated, checkpointed output.

Candidate `k` of a run with base seed `S` has seed `S * 2**32 + k`.  Workers
turn chunks of candidates into encoded records (sample -> AST -> source ->
lowering -> record); the parent consumes the chunks in index order, so which
records are kept (type balance, dedup, the byte target) does not depend on
how many workers there are, and the output is byte-identical for any
`--workers`.  An engine (`ENGINES`) decides where chunks run: local spawned
processes, or Ray tasks on a cluster; either way chunks are seed ranges and
are merged in index order, so the engine does not change the output either.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import warp_access
from check.compile import failing, record_code
from check.findings import Finding, write_finding
from emit.lower import HASH_SEED, error_summary
from emit.records import build_record, encode
from emit.writer import DatasetWriter, Progress
from grammar.labels import KERNEL_TYPES
from grammar.sample import focus_of, sample

#: Candidates per task sent to a worker.
CHUNK = 16
#: Chunks in flight per worker: enough that a slow chunk at the head of the in-order
#: merge does not leave the other workers idle (each chunk is ~1 MB of records).
IN_FLIGHT_PER_WORKER = 4
#: A kernel type is not kept while it is this far ahead of an even share (balance).
BALANCE_SLACK = 1.10


@dataclass(frozen=True)
class RunConfig:
    device: str
    out: Path
    seed: int = 0
    target_bytes: int | None = None
    count: int | None = None
    workers: int = 1
    types: tuple[str, ...] = KERNEL_TYPES
    fresh: bool = False
    verify: str | None = None  # "compile": every record is compiled before it is written
    engine: str = "local"  # a key of ENGINES
    ray_address: str | None = None  # engine "ray": an existing cluster; None starts a local one

    def identity(self) -> dict[str, Any]:
        """The arguments that decide the dataset's content (a resumed run must match them)."""
        identity = {"device": self.device, "seed": self.seed, "types": list(self.types)}
        return identity | ({"verify": self.verify} if self.verify else {})


@dataclass(frozen=True)
class Outcome:
    """What became of one candidate seed."""

    index: int
    status: str  # "ok", or why it was skipped
    line: bytes = b""
    kernel_type: str = ""
    builtins: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    source_sha1: str = ""
    shape_sha1: str = ""
    error: str = ""


def candidate_seed(base_seed: int, index: int) -> int:
    return base_seed * 2**32 + index


def make_candidate(base_seed: int, index: int, device: str, types: tuple[str, ...]) -> Outcome:
    """Sample, lower and encode candidate `index` (runs in a worker)."""
    seed = candidate_seed(base_seed, index)
    if focus_of(seed) not in types:
        return Outcome(index, "skipped_type")
    s = sample(seed)
    if s.kernel_type not in types:
        return Outcome(index, "skipped_type")
    try:
        record = build_record(s, device)
    except Exception as e:  # a generator bug or a Warp bug: counted, never fatal
        return Outcome(index, "lowering_failed", error=error_summary(e))
    meta = record["metadata"]
    return Outcome(
        index,
        "ok",
        line=encode(record),
        kernel_type=s.kernel_type,
        builtins=tuple(meta["builtins"]),
        types=tuple(meta["types"]),
        source_sha1=meta["source_sha1"],
        shape_sha1=meta["ast_shape_sha1"],
    )


def make_chunk(
    base_seed: int, start: int, stop: int, device: str, types: tuple[str, ...], verify: str | None = None
) -> list[Outcome]:
    outcomes = [make_candidate(base_seed, k, device, types) for k in range(start, stop)]
    return verify_compile(outcomes, device) if verify == "compile" else outcomes


def verify_compile(outcomes: list[Outcome], device: str) -> list[Outcome]:
    """Compile the chunk's records' exact code in one batch; bisect a failure to the records at fault.

    Optimisation level 0 is the cheapest setting that still proves the code is
    valid (parsing, type checking, code generation all run).
    """
    ok = [o for o in outcomes if o.status == "ok"]
    failures = failing([record_code(json.loads(o.line)) for o in ok], device)
    failed = {ok[n].index: error for n, error in failures.items()}
    return [
        replace(o, status="compile_failed", error=failed[o.index]) if o.index in failed else o
        for o in outcomes
    ]


#: Warp 1.19.0 orders some generated statements by iterating a set of names
#: (`Adjoint._promote_mutated_iter_constants`), so its code depends on Python's
#: string hashing; workers run with hashing fixed so records are the same everywhere.
WORKER_ENV = {"PYTHONHASHSEED": HASH_SEED}

#: Cyclic GC thresholds in workers: Warp's codegen allocates heavily, and the default
#: (700 allocations) runs a collection every few statements; ~8% faster, RSS still flat.
WORKER_GC_THRESHOLD = (50_000, 20, 10)

_worker_ready = False


def _exit_when_orphaned(parent: int) -> None:
    """A run killed with SIGKILL leaves its workers blocked on the task queue forever: end them."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def init_worker() -> None:
    """Once per worker process: refuse randomized hashing, start Warp, tune the GC, watch the parent."""
    global _worker_ready
    if _worker_ready:
        return
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True).start()
    if sys.flags.hash_randomization:
        raise RuntimeError("worker started without PYTHONHASHSEED=0: Warp's code would vary by process")
    warp_access.init_warp()
    gc.freeze()  # Warp's registry and modules live forever: keep them out of every collection
    gc.set_threshold(*WORKER_GC_THRESHOLD)
    _worker_ready = True


def worker_chunk(
    base_seed: int, start: int, stop: int, device: str, types: tuple[str, ...], verify: str | None
) -> list[Outcome]:
    """`make_chunk` in a worker process of any engine."""
    init_worker()
    return make_chunk(base_seed, start, stop, device, types, verify)


def _in_order(
    submit: Callable[[int, int], Any], result: Callable[[Any], list[Outcome]], depth: int, start: int
) -> Iterator[list[Outcome]]:
    """Chunks from `start` on, `depth` in flight, handed back in index order (the deterministic merge)."""
    pending: deque[Any] = deque()
    next_start = start
    while True:
        while len(pending) < depth:
            pending.append(submit(next_start, next_start + CHUNK))
            next_start += CHUNK
        yield result(pending.popleft())


class LocalEngine:
    """Chunks computed by `config.workers` spawned processes on this machine."""

    def __init__(self, config: RunConfig):
        self.config = config
        os.environ.update(WORKER_ENV)  # inherited by the spawned workers
        self.pool = ProcessPoolExecutor(config.workers, mp_context=get_context("spawn"))
        self.depth = IN_FLIGHT_PER_WORKER * config.workers

    def chunks(self, start: int) -> Iterator[list[Outcome]]:
        c = self.config

        def submit(lo: int, hi: int) -> Future[list[Outcome]]:
            return self.pool.submit(worker_chunk, c.seed, lo, hi, c.device, c.types, c.verify)

        return _in_order(submit, Future.result, self.depth, start)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)


class RayEngine:
    """Chunks (seed ranges) spread over a Ray cluster: `ray.init(address)`, or a local one.

    This checkout's packages travel with the job (`py_modules`); the cluster needs
    only the dependencies (warp-lang==1.19.0, numpy) installed.
    """

    def __init__(self, config: RunConfig):
        import ray

        self.ray = ray
        self.config = config
        self.started = not ray.is_initialized()
        if self.started:
            ray.init(
                address=config.ray_address,
                num_cpus=None if config.ray_address else config.workers,
                runtime_env={"env_vars": WORKER_ENV, "py_modules": _packages()},
                include_dashboard=False,
                logging_level="warning",
            )
        self.task = ray.remote(worker_chunk)
        self.depth = IN_FLIGHT_PER_WORKER * max(1, int(ray.cluster_resources().get("CPU", config.workers)))

    def chunks(self, start: int) -> Iterator[list[Outcome]]:
        c = self.config

        def submit(lo: int, hi: int) -> Any:
            return self.task.remote(c.seed, lo, hi, c.device, c.types, c.verify)

        return _in_order(submit, self.ray.get, self.depth, start)

    def close(self) -> None:
        if self.started:
            self.ray.shutdown()


def _packages() -> list[Any]:
    """The packages a worker imports to make a chunk (shipped to Ray workers)."""
    import check
    import emit
    import grammar
    import synth
    import warp_access

    return [warp_access, grammar, emit, check, synth]


ENGINES = {"local": LocalEngine, "ray": RayEngine}


class Run:
    """Consumes outcomes in order, deciding what is kept, and checkpoints each chunk."""

    def __init__(self, config: RunConfig, report: Callable[[Progress, float], None] | None = None):
        self.config = config
        self.report = report or (lambda progress, seconds: None)
        self.writer = DatasetWriter(config.out, config.identity(), fresh=config.fresh)
        self.sources, self.shapes = (
            self.writer.written_hashes() if self.writer.progress.bytes else (set(), set())
        )

    def done(self, p: Progress) -> bool:
        c = self.config
        return (c.target_bytes is not None and p.bytes >= c.target_bytes) or (
            c.count is not None and p.records >= c.count
        )

    def execute(self) -> dict[str, Any]:
        """Generate until the target is met (or already was); return the stats."""
        p = self.writer.progress
        if not self.done(p):
            self._generate()
        stats = self.stats(self.writer.progress)
        self.writer.write_stats(stats)
        self.writer.close()
        return stats

    def _generate(self) -> None:
        engine = ENGINES[self.config.engine](self.config)
        chunks = engine.chunks(self.writer.progress.next_index)
        session_start, base_seconds = time.perf_counter(), self.writer.progress.seconds
        try:
            for outcomes in chunks:
                p = _copy(self.writer.progress)
                lines = []
                for outcome in outcomes:
                    self._consume(outcome, p, lines)
                    if self.done(p):
                        break
                p.seconds = base_seconds + time.perf_counter() - session_start
                self.writer.append(lines, p)
                self.report(p, p.seconds)
                if self.done(p):
                    return
        finally:
            engine.close()

    def _consume(self, o: Outcome, p: Progress, lines: list[bytes]) -> None:
        p.next_index = o.index + 1
        status = o.status
        if status == "ok":
            status = self._keep_or_skip(o, p)
        if status != "ok":
            p.counters[status] = p.counters.get(status, 0) + 1
            if status == "compile_failed":
                self._compile_finding(o)
            return
        lines.append(o.line)
        self.sources.add(o.source_sha1)
        self.shapes.add(o.shape_sha1)
        p.bytes += len(o.line)
        p.records += 1
        p.per_type[o.kernel_type] = p.per_type.get(o.kernel_type, 0) + 1
        for name in o.builtins:
            p.builtins[name] = p.builtins.get(name, 0) + 1
        for name in o.types:
            p.types[name] = p.types.get(name, 0) + 1

    def _compile_finding(self, o: Outcome) -> None:
        record = json.loads(o.line)
        finding = Finding(
            kind="compile",
            device=self.config.device,
            kernel_name=record["kernel_name"],
            source=record["python_source"],
            message=o.error,
            seed=record["metadata"]["seed"],
        )
        write_finding(self.config.out, finding)

    def _keep_or_skip(self, o: Outcome, p: Progress) -> str:
        if o.source_sha1 in self.sources:
            return "duplicate_exact"
        if o.shape_sha1 in self.shapes:
            return "duplicate_structural"
        if len(self.config.types) > 1:
            fair = p.records / len(self.config.types)
            if p.per_type.get(o.kernel_type, 0) > fair * BALANCE_SLACK + 2:
                return "skipped_balance"
        return "ok"

    def stats(self, p: Progress) -> dict[str, Any]:
        seconds = max(p.seconds, 1e-9)
        return {
            "device": self.config.device,
            "seed": self.config.seed,
            "records": p.records,
            "bytes": p.bytes,
            "bytes_per_record": round(p.bytes / p.records, 1) if p.records else 0,
            "per_type": dict(sorted(p.per_type.items())),
            "distinct_builtins": len(p.builtins),
            "builtins": dict(sorted(p.builtins.items())),
            "distinct_types": len(p.types),
            "types": dict(sorted(p.types.items())),
            "candidates": p.next_index,
            "skipped": dict(sorted(p.counters.items())),
            "seconds": round(p.seconds, 3),
            "records_per_s": round(p.records / seconds, 2),
            "mb_per_s": round(p.bytes / seconds / 1e6, 3),
            "warp_version": warp_access.warp_version(),
            "verified": self.config.verify == "compile",
            "verified_records_per_s": round(p.records / seconds, 2) if self.config.verify else 0,
            "compile_failed": p.counters.get("compile_failed", 0),
        }


def _copy(p: Progress) -> Progress:
    return replace(
        p,
        counters=dict(p.counters),
        per_type=dict(p.per_type),
        builtins=dict(p.builtins),
        types=dict(p.types),
    )
