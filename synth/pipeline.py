"""The run: candidate seeds -> records in workers -> ordered, deduplicated, checkpointed output.

Candidate `k` of a run with base seed `S` has seed `S * 2**32 + k`.  Workers
turn chunks of candidates into encoded records (sample -> AST -> source ->
lowering -> record); the parent consumes the chunks in index order, so which
records are kept (type balance, dedup, the byte target) does not depend on
how many workers there are, and the output is byte-identical for any
`--workers`.  An engine (`ENGINES`) decides where chunks run: local spawned
processes, or Ray tasks on a cluster; either way chunks are seed ranges and
are merged in index order, so the engine does not change the output either.

A worker that dies or hangs does not stop the run (`check.supervisor`): its chunk is
computed again in a fresh worker, which gives the same bytes; a chunk that
fails twice is skipped, its candidates counted as `worker_failed` and its
seed range listed in stats.json (`worker_failures`) for replay.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import warp_access
from check.compile import failing, record_code
from check.findings import Finding, write_finding
from check.supervisor import ATTEMPTS, Pool, TaskFailed
from emit.lower import HASH_SEED, error_summary
from emit.records import GENERATOR_VERSION, MAX_RECORD_BYTES, build_record, candidate_seed, encode
from emit.writer import DatasetWriter, Progress
from grammar.labels import KERNEL_TYPES
from grammar.sample import aim, sample
from synth.args import UsageError

#: Candidates per task sent to a worker.
CHUNK = 16
#: Chunks in flight per worker: enough that a slow chunk at the head of the in-order
#: merge does not leave the other workers idle (each chunk is ~1 MB of records).
IN_FLIGHT_PER_WORKER = 4
#: A kernel type is not kept while it is this far ahead of an even share (balance).
BALANCE_SLACK = 1.10
#: Seconds a worker may spend on one kernel (lowering; with --verify, compiling) before it is
#: stopped and its chunk retried: lowering takes milliseconds, so only a kernel that never ends hits it.
KERNEL_TIMEOUT = 60.0
#: A run that keeps none of this many candidates in a row stops (`Fruitless`): its options leave
#: nothing to keep, and going on would never end.
FRUITLESS = 512

#: Why candidates are not kept -> what a user reads when a run keeps none (`Fruitless`); formatted
#: with the run's options and what the streak saw (`smallest`, `error`).
SKIP_REMEDIES = {
    "skipped_too_large": "every record was larger than --max-record-bytes {max_record_bytes} (the smallest "
    "was {smallest} bytes): raise --max-record-bytes",
    "skipped_type": "none came out as one of --types {types}: add types to --types",
    "skipped_balance": "the balance of kernel types kept none: ask for fewer --types",
    "duplicate_exact": "each repeated a record already written: try another --seed or more --types",
    "duplicate_structural": "each repeated the shape of a record already written: try another --seed or "
    "more --types",
    "lowering_failed": "Warp could not lower them ({error}): a generator or Warp bug, please report it",
    "compile_failed": "none compiled under --verify compile ({error}): a generator or Warp bug, findings in "
    "{out}/findings",
    "worker_failed": "their workers failed ({error}); stats.json lists the seed ranges",
}


class Fruitless(UsageError):
    """The run's options let it keep no record (`FRUITLESS` candidates in a row): one line says which."""


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
    kernel_timeout: float = KERNEL_TIMEOUT
    max_record_bytes: int = MAX_RECORD_BYTES  # larger candidates are skipped (and counted)

    def identity(self) -> dict[str, Any]:
        """What decides the dataset's content, arguments and versions: a resumed run must match it
        (records of another generator or Warp would not regenerate from their seeds)."""
        identity = {"device": self.device, "seed": self.seed, "types": list(self.types)}
        identity |= {"max_record_bytes": self.max_record_bytes, "generator_version": GENERATOR_VERSION}
        identity |= {"warp_version": warp_access.warp_version()}
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


def make_candidate(base_seed: int, index: int, device: str, types: tuple[str, ...]) -> Outcome:
    """Sample, lower and encode candidate `index` (runs in a worker)."""
    seed = candidate_seed(base_seed, index)
    s = sample(seed, focus=aim(seed, types))
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


def _quiet(what: str, steps: int = 1) -> None:
    """A heartbeat nobody listens to."""


def make_chunk(
    base_seed: int,
    start: int,
    stop: int,
    device: str,
    types: tuple[str, ...],
    verify: str | None = None,
    beat: Callable[[str, int], None] = _quiet,
) -> list[Outcome]:
    """Candidates `start` to `stop`; `beat(step, kernels)` before each step (the pool's hang detection)."""
    outcomes = []
    for k in range(start, stop):
        beat(f"seed {candidate_seed(base_seed, k)}", 1)
        outcomes.append(make_candidate(base_seed, k, device, types))
    if verify != "compile":
        return outcomes
    first, last = candidate_seed(base_seed, start), candidate_seed(base_seed, stop - 1)
    beat(f"the compile check of seeds {first}..{last}", stop - start)
    return verify_compile(outcomes, device)


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
    c: RunConfig, start: int, stop: int, beat: Callable[[str, int], None] = _quiet
) -> list[Outcome]:
    """`make_chunk` in a worker process of any engine."""
    init_worker()
    return make_chunk(c.seed, start, stop, c.device, c.types, c.verify, beat)


def failed_chunk(start: int, stop: int, error: str) -> list[Outcome]:
    """The outcomes of a chunk given up after its workers failed: skipped, with the reason."""
    return [Outcome(k, "worker_failed", error=error) for k in range(start, stop)]


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
    """Chunks computed by `config.workers` spawned processes on this machine (`check.supervisor`)."""

    def __init__(self, config: RunConfig):
        os.environ.update(WORKER_ENV)  # inherited by the spawned workers
        self.pool = Pool(config.workers, worker_chunk, (config,), config.kernel_timeout)
        self.depth = IN_FLIGHT_PER_WORKER * config.workers

    @property
    def retries(self) -> int:
        return self.pool.retries

    def chunks(self, start: int) -> Iterator[list[Outcome]]:
        def result(task: Any) -> list[Outcome]:
            try:
                return self.pool.result(task)
            except TaskFailed as e:
                return failed_chunk(task.lo, task.hi, str(e))

        return _in_order(self.pool.submit, result, self.depth, start)

    def close(self) -> None:
        self.pool.close()


class RayEngine:
    """Chunks (seed ranges) spread over a Ray cluster: `ray.init(address)`, or a local one.

    This checkout's packages travel with the job (`py_modules`); the cluster needs
    only the dependencies (warp-lang==1.19.0, numpy) installed.  Ray retries a
    task once if its worker dies; a task that fails again is skipped like a
    local chunk (no per-kernel time limit here: Ray cannot see inside a task).
    """

    retries = 0  # Ray's own retries are not visible to the caller

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
        self.task = ray.remote(max_retries=ATTEMPTS - 1)(worker_chunk)
        self.depth = IN_FLIGHT_PER_WORKER * max(1, int(ray.cluster_resources().get("CPU", config.workers)))

    def chunks(self, start: int) -> Iterator[list[Outcome]]:
        def submit(lo: int, hi: int) -> tuple[int, int, Any]:
            return lo, hi, self.task.remote(self.config, lo, hi)

        def result(task: tuple[int, int, Any]) -> list[Outcome]:
            lo, hi, ref = task
            try:
                return self.ray.get(ref)
            except self.ray.exceptions.RayError as e:
                return failed_chunk(lo, hi, error_summary(e))

        return _in_order(submit, result, self.depth, start)

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
        self.sources, self.shapes = self.writer.sources, self.writer.shapes
        self.session_seconds = 0.0  # this run's generation time (progress.seconds: every run's)
        self.streak = Streak()  # the candidates skipped since the last one kept

    def done(self, p: Progress) -> bool:
        c = self.config
        return (c.target_bytes is not None and p.bytes >= c.target_bytes) or (
            c.count is not None and p.records >= c.count
        )

    def execute(self) -> dict[str, Any]:
        """Generate until the target is met (or already was); return the stats."""
        try:
            if not self.done(self.writer.progress):
                self._generate()
            stats = self.stats(self.writer.progress)
            self.writer.write_stats(stats)
        finally:
            self.writer.close()
        return stats

    def _generate(self) -> None:
        engine = ENGINES[self.config.engine](self.config)
        chunks = engine.chunks(self.writer.progress.next_index)
        session_start, base_seconds = time.perf_counter(), self.writer.progress.seconds
        base_retried = self.writer.progress.retried
        try:
            for outcomes in chunks:
                p = _copy(self.writer.progress)
                lines = []
                for outcome in outcomes:
                    self._consume(outcome, p, lines)
                    if self.done(p):
                        break
                self.session_seconds = time.perf_counter() - session_start
                p.seconds = base_seconds + self.session_seconds
                p.retried = base_retried + engine.retries
                self.writer.append(lines, p)
                self.report(p, self.session_seconds)
                if self.done(p):
                    return
                if self.streak.length >= FRUITLESS:
                    raise Fruitless(self.streak.why(self.config, p))
        finally:
            engine.close()

    def _consume(self, o: Outcome, p: Progress, lines: list[bytes]) -> None:
        p.next_index = o.index + 1
        status = o.status
        if status == "ok":
            status = self._keep_or_skip(o, p)
        self.streak.add(o, status)
        if status != "ok":
            p.counters[status] = p.counters.get(status, 0) + 1
            if status == "compile_failed":
                self._compile_finding(o)
            elif status == "worker_failed":
                _note_failure(p, o)
            return
        lines.append(o.line)
        self.sources.add(o.source_sha1)
        self.shapes.add(o.shape_sha1)
        p.add_record(o.kernel_type, o.builtins, o.types, len(o.line))

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
        try:
            write_finding(self.config.out, finding)
        except OSError as e:
            raise self.writer.fault(e) from None

    def _keep_or_skip(self, o: Outcome, p: Progress) -> str:
        if len(o.line) > self.config.max_record_bytes:
            return "skipped_too_large"
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
            "chunks_retried": p.retried,
            "worker_failures": [
                {
                    "candidates": f["candidates"],
                    "seeds": [candidate_seed(self.config.seed, k) for k in (lo, hi - 1)],
                    "error": f["error"],
                }
                for f in p.failures
                for lo, hi in [f["candidates"]]
            ],
        }


class Streak:
    """The candidates skipped in a row since the last one kept, and why (for `Fruitless`)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.length, self.reasons = 0, Counter[str]()
        self.smallest, self.error = 0, ""

    def add(self, o: Outcome, status: str) -> None:
        if status == "ok":
            self.reset()
            return
        self.length += 1
        self.reasons[status] += 1
        if o.line:
            self.smallest = min(self.smallest or len(o.line), len(o.line))
        self.error = o.error or self.error

    def why(self, config: RunConfig, p: Progress) -> str:
        reason, _ = self.reasons.most_common(1)[0]
        counts = ", ".join(f"{n} {name}" for name, n in self.reasons.most_common())
        remedy = SKIP_REMEDIES[reason].format(
            max_record_bytes=config.max_record_bytes,
            smallest=f"{self.smallest:,}",
            types=",".join(config.types),
            error=self.error.splitlines()[0][:200] if self.error else "no message",
            out=config.out,
        )
        return (
            f"stopped: the last {self.length} candidates were all skipped ({counts}): {remedy}; "
            f"{p.records} records are checkpointed in {config.out}"
        )


def _note_failure(p: Progress, o: Outcome) -> None:
    """Add candidate `o` to `p.failures`, extending the last range if `o` continues it."""
    last = p.failures[-1] if p.failures else None
    if last and last["candidates"][1] == o.index and last["error"] == o.error:
        p.failures[-1] = dict(last, candidates=[last["candidates"][0], o.index + 1])
    else:
        p.failures.append({"candidates": [o.index, o.index + 1], "error": o.error})


def _copy(p: Progress) -> Progress:
    return replace(
        p,
        counters=dict(p.counters),
        per_type=dict(p.per_type),
        builtins=dict(p.builtins),
        types=dict(p.types),
        failures=list(p.failures),
    )
