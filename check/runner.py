"""The one executor: build, run and measure kernels with any Warp installation, through Warp's public API.

Every kernel warp-synth runs is run here, hosted three ways (`check.executor`): in the
fuzzer's own process, in an isolated child process (a kernel may end the process
that runs it), or under *another* environment's interpreter (`fuzz --target-python
PATH`, `fuzz --against PATH`: a Warp release from 1.5 on, or a development build).
So it is standalone, like the findings' reproducers: it imports the standard
library, numpy and `warp` (lazily), nothing of warp-synth's; the fuzzer copies this
file into a job folder and runs it there (`PYTHON runner.py FOLDER PARENT_PID`).
warp-synth's own checks import its shared parts (`merge_modules`, `adjoint`,
`finite_differences`, `first_race`), so the two never drift apart.

A job (`job.json`, arrays in `inputs.npz`: `check.executor.write_job`) lists kernels
as module source, the kernel's name, its parameters (arrays, scalars, structs, with
Warp dtype names) and one launch's values drawn by the fuzzer, and what to measure;
the job names its devices (the first runs every check, the others repeat the
launches).  This file builds the kernels (merged into one module per build, a
module that fails to build is split), optionally runs a debug build once, launches
the release build twice (and once per redraw of the inputs), and for kernels with
a gradient spec computes Warp's directional adjoint and the finite differences; a
race probe's kernel is run one thread at a time.  It judges nothing: the fuzzer
applies its policies to the numbers it writes (`result.json`, `outputs.npz`).
Before each kernel's launch it writes a mark (`phase index`, as `check.isolation`
reads it), so a kernel that ends the process is named by the fuzzer.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import importlib.util
import itertools
import json
import os
import re
import shutil
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

JOB, INPUTS, RESULT, OUTPUTS, MARK = "job.json", "inputs.npz", "result.json", "outputs.npz", "mark"

#: A launch: (the values of its leaves by name, whether float array parameters track gradients[, the
#: launch index a race probe runs]) -> the Warp arrays it held, by leaf name.
Launch = Callable[..., dict[str, Any]]


# ----------------------------------------------------------------------------- merging modules


def merge_modules(sources: Sequence[tuple[str, str]]) -> tuple[str, list[str]]:
    """One module holding every (source, kernel name), top-level names suffixed `_k<n>`.

    Generated names are unique within a module (no shadowing), so renaming every
    use of a top-level name is exact.  Each distinct import comes once, first (a
    generated module imports only warp; a user's file may import more: `synth check`).
    Returns the source and the kernels' new names.
    """
    imports: dict[str, ast.stmt] = {
        "import warp as wp": ast.Import(names=[ast.alias(name="warp", asname="wp")])
    }
    body: list[ast.stmt] = []
    names = []
    for n, (source, kernel_name) in enumerate(sources):
        tree = ast.parse(source)
        imports |= {ast.unparse(s): s for s in tree.body if isinstance(s, ast.Import | ast.ImportFrom)}
        definitions = [s for s in tree.body if not isinstance(s, ast.Import | ast.ImportFrom)]
        top = {name: suffixed(name, n) for s in definitions for name in _defined_names(s)}
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name in top:
                node.name = top[node.name]
            elif isinstance(node, ast.Name) and node.id in top:
                node.id = top[node.id]
        body += definitions
        names.append(top[kernel_name])
    future = [s for s in imports.values() if isinstance(s, ast.ImportFrom) and s.module == "__future__"]
    head = future + [s for s in imports.values() if s not in future]
    return ast.unparse(ast.Module(body=[*head, *body], type_ignores=[])) + "\n", names


def suffixed(name: str, n: int) -> str:
    """Top-level `name` of the `n`th module merged (`merge_modules`)."""
    return f"{name}_k{n}"


def _defined_names(stmt: ast.stmt) -> list[str]:
    """Names a top-level statement binds: helpers, kernels, structs and `wp.constant`s."""
    if isinstance(stmt, ast.FunctionDef | ast.ClassDef):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    return []


# ----------------------------------------------------------------------------- gradients


def loss(arrays: dict[str, Any], weights: dict[str, np.ndarray]) -> tuple[float, float]:
    """sum(w * out) over the weighted arrays in float64, and sum|w * out| (the scale of its rounding)."""
    total = scale = 0.0
    for name, w in weights.items():
        terms = w * arrays[name].numpy().astype(np.float64)
        total += float(terms.sum())
        scale += float(np.abs(terms).sum())
    return total, scale


def adjoint(launch: Launch, values: dict[str, Any], weights: dict, direction: dict) -> float:
    """Warp's directional derivative on CPU: `wp.Tape` backward from `weights` on the outputs, dotted
    with `direction` on the inputs."""
    import warp as wp

    tape = wp.Tape()
    with tape:
        arrays = launch(values, True)
    seeds = {arrays[n]: wp.array(w, dtype=arrays[n].dtype, device="cpu") for n, w in weights.items()}
    tape.backward(grads=seeds)
    return float(sum((arrays[n].grad.numpy().astype(np.float64) * d).sum() for n, d in direction.items()))


def finite_differences(
    launch: Launch, values: dict[str, Any], weights: dict, direction: dict, steps: Sequence[float]
) -> tuple[list[float], list[float]]:
    """Central differences of the loss along `direction` at each step, and each one's larger loss scale."""
    fds, scales = [], []
    for h in steps:
        losses = []
        for sign in (1.0, -1.0):
            moved = dict(values)
            for name, d in direction.items():
                x = values[name]
                moved[name] = (x.astype(np.float64) + sign * h * d).astype(x.dtype)
            losses.append(loss(launch(moved, False), weights))
        (up, s_up), (down, s_down) = losses
        fds.append((up - down) / (2 * h))
        scales.append(max(s_up, s_down))
    return fds, scales


#: A float32 adjoint's rounding noise: its spread over JITTERS launches at inputs moved by up to
#: JITTER_ULPS units in the last place (the derivative hardly moves; rounding residues do).
JITTERS, JITTER_ULPS = 4, 4


def adjoint_noise(launch: Launch, values: dict[str, Any], weights: dict, direction: dict) -> float:
    """The spread of the adjoint over inputs jittered by a few ULP (see JITTERS)."""
    rng = np.random.default_rng(1)
    adjoints = [adjoint(launch, values, weights, direction)]
    for _ in range(JITTERS):
        moved = dict(values)
        for name in direction:
            x = values[name]
            step = JITTER_ULPS * np.finfo(x.dtype).eps * rng.uniform(-1.0, 1.0, x.shape)
            moved[name] = (x * (1 + step)).astype(x.dtype)
        adjoints.append(adjoint(launch, moved, weights, direction))
    return max(adjoints) - min(adjoints)


# ----------------------------------------------------------------------------- arguments


def _dtype(wp: Any, name: str) -> Any:
    return getattr(wp, name)


#: Builds a mesh, BVH, hash grid, volume or texture from its data (`check.handles.build`, whose
#: source a job that needs it carries: this file imports nothing of warp-synth).
Build = Callable[[str, dict, str, Any], Any]


def _argument(
    wp: Any, module: Any, n: int, spec: dict, values: dict, device: str, grad: bool, build: Build | None
) -> Any:
    """The launch argument for parameter `spec` of kernel `n` of the merged `module`."""
    if spec["kind"] == "handle":
        assert build is not None, "a job with handle parameters carries `objects`"
        return build(spec["object"], values[spec["name"]], device, wp)
    if spec["kind"] == "struct":
        instance = getattr(module, suffixed(spec["struct"], n))()
        for field in spec["fields"]:
            value = _argument(wp, module, n, field, values, device, False, build)
            setattr(instance, field["name"].rpartition(".")[2], value)
        return instance
    value = values[spec["name"]]
    dtype = _dtype(wp, spec["dtype"])
    if spec["kind"] == "array":
        return wp.array(value, dtype=dtype, device=device, requires_grad=grad and spec["float"])
    if np.ndim(value) > 0:
        return dtype(*np.asarray(value).flatten().tolist())
    return np.asarray(value).item()


def _held(specs: Sequence[dict], args: Sequence[Any]) -> dict[str, Any]:
    """Every Warp array of a launch by leaf name (arrays held in struct fields included)."""
    found: dict[str, Any] = {}
    for spec, a in zip(specs, args, strict=True):
        if spec["kind"] == "array":
            found[spec["name"]] = a
        elif spec["kind"] == "struct":
            fields = [getattr(a, f["name"].rpartition(".")[2]) for f in spec["fields"]]
            found.update(_held(spec["fields"], fields))
    return found


def launcher(module: Any, n: int, kernel: Any, case: dict, device: str, build: Build | None = None) -> Launch:
    """Launch kernel `n` of `module` as `case` says (`wp.launch_tiled` for a tile kernel)."""
    import warp as wp

    def launch(values: dict[str, Any], grad: bool, extra: Sequence[int] = ()) -> dict[str, Any]:
        args = [_argument(wp, module, n, spec, values, device, grad, build) for spec in case["params"]]
        args += list(extra)  # a race probe's thread to run
        shape = tuple(case["shape"])
        if case["tile"]:  # the block size its module declares (`module_options`), else Warp's 256
            block_dim = case["block_dim"] or getattr(kernel.module, "options", {}).get("block_dim", 256)
            wp.launch_tiled(kernel, dim=shape, inputs=args, device=device, block_dim=block_dim)
        else:
            wp.launch(kernel, dim=shape, inputs=args, device=device)
        wp.synchronize_device(device)
        return _held(case["params"], args[: len(case["params"])])

    return launch


# ----------------------------------------------------------------------------- building


class BuildFailed(Exception):
    """Warp could not import or build a kernel's module; `stage`: import or build; the compiler's
    first error line appended, if it printed one.  `culprit`: the place of the merged kernel at fault,
    when the error names it."""

    def __init__(self, stage: str, error: BaseException, printed: str = ""):
        said = compiler_error(printed)[:500]
        super().__init__(one_line(error) + (f" [compiler: {said}]" if said else ""))
        self.stage = stage
        # Warp's front end names the function it rejected; its suffix is the kernel's place
        named = re.search(r'Error while parsing function "\w+_k(\d+)"', str(error))
        self.culprit = int(named[1]) if named else _native_culprit(printed)


#: How a merged kernel's own code names it: its functions in Warp's C++ (`helper_k3_0(`, a kernel's
#: `name_k3_<hash>_cpu_kernel_forward(`), its definitions in the module (debug builds point there).
_NAMED_IN = {".py": r"^(?:def|class) \w+_k(\d+)\b", ".cpp": r"\b\w+_k(\d+)_\w*\("}


def _native_culprit(printed: str) -> int | None:
    """The place of the merged kernel whose generated code a compiler rejected: the first line of the
    module's code it points at lies in a function whose name carries the suffix."""
    found = re.search(r"(\S+synth_case_\w+(\.py|\.cpp)):(\d+):", printed)
    if found is None:
        return None
    path = Path(found[1])
    try:
        lines = path.read_text(errors="replace").splitlines()[: int(found[3])]
    except OSError:
        return None
    for line in reversed(lines):
        named = re.search(_NAMED_IN[found[2]], line)
        if named:
            return int(named[1])
    return None


def one_line(e: BaseException) -> str:
    """An error on one line: its type and the end of its message (where Warp puts the cause)."""
    return re.sub(r"\s+", " ", f"{type(e).__name__}: {e}")[-2000:]


#: Builds in this process: Warp keeps a module by its name, so every build (every job's and every
#: device's, in a process that runs many: `check.executor.HERE`) gets a name of its own; the name is
#: the same in every process that builds the same sources in the same order (no process id), so
#: Warp's kernel cache, which it names after the module, serves a job run again (a resumed or repeated
#: run, a reduction's re-checks) and holds one folder per distinct build, not one per process.
_BUILDS = itertools.count()


class Builder:
    """Loads merged modules of a job's kernels from files in the job folder (`backward`: with adjoints)."""

    def __init__(self, folder: Path, device: str, backward: bool = True):
        self.folder, self.device, self.backward = folder, device, backward

    def load(self, cases: Sequence[dict], mode: str) -> Iterator[tuple[int, Any, Any]]:
        """(index, module, wp.Kernel or BuildFailed) per case, built merged; a failing build is halved."""
        yield from self._group(cases, list(range(len(cases))), mode)

    def _group(self, cases: Sequence[dict], indices: list[int], mode: str) -> Iterator[tuple[int, Any, Any]]:
        merged, names = merge_modules([(cases[i]["source"], cases[i]["kernel_name"]) for i in indices])
        try:
            module = self._build(merged, mode)
        except BuildFailed as e:
            if len(indices) == 1:
                yield indices[0], None, e
                return
            culprit = e.culprit
            if culprit is not None and culprit < len(indices):
                yield indices[culprit], None, e
                yield from self._group(cases, indices[:culprit] + indices[culprit + 1 :], mode)
            else:  # a native compiler's failure: halve
                yield from self._group(cases, indices[: len(indices) // 2], mode)
                yield from self._group(cases, indices[len(indices) // 2 :], mode)
            return
        # the merged module's names are suffixed by position in this group: the launcher needs it
        for position, (i, name) in enumerate(zip(indices, names, strict=True)):
            yield i, (module, position), getattr(module, name)

    def _build(self, source: str, mode: str) -> Any:
        import warp as wp

        name = f"synth_case_{next(_BUILDS)}_{hashlib.sha1(source.encode()).hexdigest()[:12]}"
        path = self.folder / f"{name}.py"
        path.write_text(keyed_unique(source, name))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as e:
            raise BuildFailed("import", e) from None
        printed: list[str] = []
        try:
            for built in (module, *unique_modules(module)):  # the options reach every kernel's module
                wp.set_module_options({"mode": mode, "enable_backward": self.backward}, built)
                silenced(lambda built=built: wp.load_module(built, device=self.device), printed)
        except Exception as e:
            failed = BuildFailed("build", e, "".join(printed))
            # Warp leaves a failed build's folder in its kernel cache: it is ours
            for folder in Path(wp.config.kernel_cache_dir).glob(f"wp_{name}_*"):
                shutil.rmtree(folder, ignore_errors=True)
            raise failed from None
        return module


#: `module="unique"` in a kernel's decorator (either quote).
_UNIQUE = re.compile(r"""module\s*=\s*(['"])unique\1""")


def keyed_unique(source: str, name: str) -> str:
    """`source` with each `module="unique"` kernel keyed after load `name` (`name=` in its decorator),
    where this Warp takes a kernel's name.

    Warp (1.19) names a unique module by the kernel's key and hash, and hands a later load of the same
    kernel the module of the first: its options (a debug build's mode) and, once the first load is
    released, its unloaded binary (a crash).  A key of this load's gives the kernel a unique module of
    its own per load, as `unique` means, without the sharing."""
    import inspect

    import warp as wp

    if "name" not in inspect.signature(wp.kernel).parameters:  # older releases make a new module each time
        return source
    count = itertools.count()
    return _UNIQUE.sub(lambda m: f'{m.group(0)}, name="{name}_u{next(count)}"', source)


def unique_modules(module: Any) -> list[Any]:
    """The Warp modules of Python `module`'s `module="unique"` kernels (each in a module of its own)."""
    import warp as wp

    kernels = [k for k in vars(module).values() if isinstance(k, wp.Kernel)]
    return list(dict.fromkeys(k.module for k in kernels if k.module.name != module.__name__))


def compiler_error(printed: str) -> str:
    """The first error line a compiler printed, if any."""
    return next((line.strip() for line in printed.splitlines() if "error" in line.lower()), "")


def silenced(action: Callable[[], Any], printed: list[str]) -> Any:
    """Run `action` with what is written to file descriptors 1 and 2 (compilers print there) appended
    to `printed` instead of shown."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile("w+", errors="replace") as sink:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        try:
            return action()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            printed.append(sink.read())


# ----------------------------------------------------------------------------- the job


def _values(inputs: Any, n: int, prefix: str = "") -> dict[str, Any]:
    """Kernel `n`'s arrays of the job's inputs under `prefix` (its values; "w/" weights, "d/" direction,
    "r<k>/" the k-th redraw); a handle parameter's value is its object's data (`name@key` entries)."""
    head = f"{n}/{prefix}"
    values: dict[str, Any] = {}
    for key in inputs:
        name = key[len(head) :]
        if key.startswith(head) and "/" not in name:
            name, _, part = name.partition("@")
            if part:
                values.setdefault(name, {})[part] = inputs[key]
            else:
                values[name] = inputs[key]
    return values


def _numpy(arrays: dict[str, Any]) -> dict[str, np.ndarray]:
    return {k: a.numpy() for k, a in arrays.items()}


def _same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Bit-identical results (NaNs included)."""
    return a.keys() == b.keys() and all(a[k].tobytes() == b[k].tobytes() for k in a)


def run_case(launch: Launch, case: dict, inputs: Any, n: int) -> tuple[dict, dict[str, np.ndarray]]:
    """Launch twice, each redraw once, then the gradient numbers if asked: (the result, the arrays by
    output key: the first launch's `name`, the k-th redraw's `r<k>/name`)."""
    values = _values(inputs, n)
    first = _numpy(launch(values, False))
    result: dict[str, Any] = {"status": "ran", "deterministic": _same(first, _numpy(launch(values, False)))}
    arrays = dict(first)
    result["redraws"] = case.get("redraws", 0)
    for k in range(result["redraws"]):
        redrawn = _numpy(launch(values | _values(inputs, n, f"r{k}/"), False))
        arrays |= {f"r{k}/{name}": a for name, a in redrawn.items()}
    if case.get("gradient"):
        weights, direction = _values(inputs, n, "w/"), _values(inputs, n, "d/")
        result["adjoint"] = adjoint(launch, values, weights, direction)
        fds, scales = finite_differences(launch, values, weights, direction, case["gradient"]["steps"])
        result |= {"finite_differences": fds, "scales": scales}
        if case["gradient"].get("noise"):  # asked for a mismatch only: it costs JITTERS more adjoints
            result["adjoint_noise"] = adjoint_noise(launch, values, weights, direction)
    return result, arrays


def run_elsewhere(launch: Launch, inputs: Any, n: int) -> tuple[dict, dict[str, np.ndarray]]:
    """Two launches on another device: (its result, the arrays of both: `name`, `again/name`)."""
    values = _values(inputs, n)
    first, second = _numpy(launch(values, False)), _numpy(launch(values, False))
    return {"status": "ran"}, first | {f"again/{name}": a for name, a in second.items()}


# ----------------------------------------------------------------------------- races


def first_race(
    run_thread: Callable[[tuple[int, ...], Any], dict[str, np.ndarray]], shape, fills
) -> str | None:
    """The first element of an output two threads of a launch of `shape` wrote, said in words, or None.

    `run_thread(thread, fill)` runs one thread alone with the watched outputs filled by `fill`: the
    outputs afterwards, each with its elements' components along one last axis.  An element a thread
    wrote differs from the fill in at least one of the launches.  Numpy only: reproducers carry it.
    """
    owners: dict[str, np.ndarray] = {}
    for thread in np.ndindex(*shape):
        runs = [run_thread(thread, fill) for fill in fills]
        for name in runs[0]:
            wrote = np.zeros(runs[0][name].shape, dtype=bool)
            for fill, run in zip(fills, runs, strict=True):
                wrote |= run[name] != np.asarray(fill).astype(run[name].dtype)
            wrote = wrote.any(axis=-1)
            owner = owners.setdefault(name, np.full(wrote.shape, -1, dtype=np.int64))
            clash = np.argwhere(wrote & (owner >= 0))
            if len(clash):
                element = tuple(int(k) for k in clash[0])
                other = np.unravel_index(owner[element], tuple(shape))
                return (
                    f"threads {tuple(int(k) for k in other)} and {thread} of the launch both write "
                    f"element {element} of `{name}`"
                )
            owner[wrote] = np.ravel_multi_index(thread, tuple(shape))
    return None


def run_alone(launch: Launch, case: dict, inputs: Any, n: int) -> dict:
    """A race probe's case (`case["alone"]`: the outputs watched, the fills): each thread run alone."""
    values, watched = _values(inputs, n), case["alone"]["watched"]

    def run_thread(thread: tuple[int, ...], fill: Any) -> dict[str, np.ndarray]:
        filled = values | {name: np.full_like(values[name], fill) for name in watched}
        held = launch(filled, False, [int(k) for k in thread])
        return {name: held[name].numpy().reshape(*held[name].shape, -1) for name in sorted(watched)}

    return {"status": "ran", "race": first_race(run_thread, tuple(case["shape"]), case["alone"]["fills"])}


# ----------------------------------------------------------------------------- the job


def execute_job(
    job: dict, inputs: dict[str, np.ndarray], folder: Path, mark: Callable[[str, int | None], None]
) -> tuple[list[dict], dict[str, np.ndarray]]:
    """Everything `job` asks of its kernels (their modules written to `folder`): each kernel's result,
    and the arrays of its launches keyed `<kernel>/<output key>` (`<kernel>/<device>/...` on the job's
    other devices)."""
    with cpu_blocks(job.get("cpu_blocks", False)):
        return _execute(job, inputs, folder, mark)


@contextlib.contextmanager
def cpu_blocks(together: bool) -> Iterator[None]:
    """Whether a CPU runs a tile block's threads together (`wp.config.enable_cpu_blocks`, where this Warp
    has it), for the job only."""
    import warp as wp

    saved = getattr(wp.config, "enable_cpu_blocks", None)
    if saved is not None:
        wp.config.enable_cpu_blocks = together
    try:
        yield
    finally:
        if saved is not None:
            wp.config.enable_cpu_blocks = saved


def _execute(
    job: dict, inputs: dict[str, np.ndarray], folder: Path, mark: Callable[[str, int | None], None]
) -> tuple[list[dict], dict[str, np.ndarray]]:
    cases, (device, *others) = job["kernels"], job.get("devices", ["cpu"])
    builder = Builder(folder, device, job.get("backward", True))
    build = _objects(job)
    results: list[dict] = [{} for _ in cases]
    outputs: dict[str, np.ndarray] = {}
    if job.get("debug"):
        _debug(builder, cases, inputs, build, results, mark)
    mark("release", None)
    for n, place, kernel in builder.load(cases, "release"):
        if isinstance(kernel, BuildFailed):
            results[n] |= {"status": "build_failed", "stage": kernel.stage, "message": str(kernel)}
            continue
        mark("release", n)
        try:
            launch = launcher(*place, kernel, cases[n], device, build)
            if cases[n].get("alone"):
                result, arrays = run_alone(launch, cases[n], inputs, n), {}
            else:
                result, arrays = run_case(launch, cases[n], inputs, n)
        except Exception as e:
            results[n] |= {"status": "raised", "message": one_line(e)}
        else:
            results[n] |= result
            outputs |= {f"{n}/{name}": a for name, a in arrays.items()}
        mark("release", None)
    for other in others:
        _elsewhere(Builder(folder, other, False), cases, inputs, build, results, outputs, mark)
    return results, outputs


def _debug(
    builder: Builder, cases: list[dict], inputs: Any, build: Build | None, results: list, mark
) -> None:
    """One launch of each kernel's debug build: a failed assertion or a trap ends the process here (the
    mark names the kernel); a Python-side error is left to the release launch, which raises it too."""
    mark("debug", None)
    for n, place, kernel in builder.load(cases, "debug"):
        if not isinstance(kernel, BuildFailed) and not cases[n].get("alone"):
            mark("debug", n)
            with contextlib.suppress(Exception):
                launcher(*place, kernel, cases[n], builder.device, build)(_values(inputs, n), False)
                results[n]["debug"] = "passed"
        mark("debug", None)


def _elsewhere(
    builder: Builder, cases: list[dict], inputs: Any, build: Build | None, results: list, outputs: dict, mark
) -> None:
    """The kernels that ran on the job's first device, launched twice on `builder`'s device too."""
    device = builder.device
    ran = [n for n, r in enumerate(results) if r.get("status") == "ran" and not cases[n].get("alone")]
    mark(device, None)
    for place_n, place, kernel in builder.load([cases[n] for n in ran], "release"):
        n = ran[place_n]
        if isinstance(kernel, BuildFailed):
            results[n].setdefault("devices", {})[device] = {"status": "build_failed", "message": str(kernel)}
            continue
        mark(device, n)
        try:
            result, arrays = run_elsewhere(launcher(*place, kernel, cases[n], device, build), inputs, n)
        except Exception as e:
            result, arrays = {"status": "raised", "message": one_line(e)}, {}
        results[n].setdefault("devices", {})[device] = result
        outputs |= {f"{n}/{device}/{name}": a for name, a in arrays.items()}
        mark(device, None)


def run_job(folder: Path, mark: Callable[[str, int | None], None]) -> None:
    """Everything `job.json` asks, written to `result.json` and `outputs.npz`."""
    import warp as wp

    wp.config.quiet = True
    silenced(wp.init, [])
    job = json.loads((folder / JOB).read_text())
    with np.load(folder / INPUTS) as saved:
        inputs = {k: saved[k] for k in saved.files}
    results, outputs = execute_job(job, inputs, folder, mark)
    np.savez(folder / (OUTPUTS + ".tmp.npz"), **outputs)
    os.replace(folder / (OUTPUTS + ".tmp.npz"), folder / OUTPUTS)
    text = json.dumps({"warp": wp.__version__, "kernels": results})
    (folder / (RESULT + ".tmp")).write_text(text)
    os.replace(folder / (RESULT + ".tmp"), folder / RESULT)


def _objects(job: dict) -> Build | None:
    """The job's object builder (`check.handles.build`), if its kernels take handles."""
    if "objects" not in job:
        return None
    namespace: dict[str, Any] = {}
    exec(job["objects"], namespace)  # the fuzzer's own code, as a reproducer embeds it
    return namespace["build"]


def end_with_parent(parent: int) -> None:
    """Ask Linux to SIGKILL this process when its parent dies (elsewhere: no-op)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)


def main(argv: Sequence[str]) -> int:
    if argv[1:] == ["--version"]:
        import warp as wp

        print(wp.__version__)
        return 0
    folder, parent = Path(argv[1]), int(argv[2])
    end_with_parent(parent)

    def mark(phase: str, index: int | None) -> None:
        (folder / MARK).write_text(f"{phase} {'-' if index is None else index}")

    try:
        run_job(folder, mark)
    except Exception:
        traceback.print_exc()
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
