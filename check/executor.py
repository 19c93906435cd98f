"""Kernels run by the one executor (`check.runner`): typed cases in, typed executions out.

A `Case` is plain data: a kernel (module source and name), its parameters and one
launch's inputs (`check.execute.describe` draws them without building anything),
and what to measure: the gradient's numbers, launches on inputs drawn again, or the
kernel as a race probe run one thread at a time.  `execute` turns cases into a job
for `check.runner` and its numbers into one `Execution` per case, under a `Host`:

- `HERE`: in this process, with the pinned Warp (quick; for checks that cannot end
  the process: no debug build);
- `Child(python)`: in a child process under `python` (this interpreter: the pinned
  Warp; another environment's: its Warp).  A kernel that ends or stalls the child
  raises `check.isolation.Died` or `Stalled`, naming it (`check.isolation` narrows
  a group down to the kernel at fault).

Reproducers are written from the same runner functions (`check.findings`).
JSON and npz exist only between this module and the runner.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from check import gradcheck, handles, runner
from check.execute import Inputs, Param, leaves
from check.isolation import ChildFailed, Watch, run_child

Arrays = Mapping[str, np.ndarray]


@dataclass(frozen=True)
class Case:
    """One kernel to run: its launch (`params`, `inputs`) and what to measure besides two launches.

    `gradient`: the adjoint and finite differences (when the kernel has float inputs and outputs), and
    with `noise` the adjoint's spread over inputs moved by a few ULP (`check.runner.adjoint_noise`);
    `redraws`: inputs drawn again, each launched once; `alone`: the source is a race probe
    (`check.races.probe_source`) whose outputs `alone` are watched while each thread runs alone;
    `block_dim`: a tile kernel's block size (None: its module's, else Warp's 256).
    """

    source: str
    kernel_name: str
    params: tuple[Param, ...]
    inputs: Inputs
    gradient: bool = False
    noise: bool = False
    redraws: tuple[Inputs, ...] = ()
    alone: tuple[str, ...] = ()
    block_dim: int | None = None


@dataclass(frozen=True)
class Options:
    """How a job runs: a debug build first, the devices (the first runs every check, the others repeat
    the launches), whether kernels are built with adjoints, and whether a CPU runs a tile block's
    threads cooperatively (`wp.config.enable_cpu_blocks`; else one thread a block, Warp's default)."""

    debug: bool = False
    devices: tuple[str, ...] = ("cpu",)
    backward: bool = True
    cpu_blocks: bool = False


@dataclass(frozen=True)
class DeviceRun:
    """The launches of a kernel on a job's other device: `status` ran, build_failed or raised."""

    status: str
    message: str = ""
    outputs: Arrays = field(default_factory=dict)
    again: Arrays = field(default_factory=dict)


@dataclass(frozen=True)
class Execution:
    """What the runner measured for one case under Warp `warp`.

    `status`: ran, build_failed (`stage`: import or build) or raised (`message`: the error's line).
    """

    status: str
    warp: str
    message: str = ""
    stage: str = ""
    debug_passed: bool = False
    deterministic: bool | None = None
    outputs: Arrays = field(default_factory=dict)
    redrawn: tuple[Arrays, ...] = ()
    adjoint: float | None = None
    finite_differences: tuple[float, ...] = ()
    scales: tuple[float, ...] = ()
    adjoint_noise: float | None = None
    devices: Mapping[str, DeviceRun] = field(default_factory=dict)
    race: str | None = None

    @property
    def ran(self) -> bool:
        return self.status == "ran"

    @property
    def measured_gradient(self) -> bool:
        return self.adjoint is not None


# ----------------------------------------------------------------------------- hosts


@dataclass(frozen=True)
class Child:
    """A child process under interpreter `python` whose Warp is `version`."""

    python: str
    version: str


#: This process, with the pinned Warp.
HERE = None
#: The runner a child runs (copied into the job's folder: nothing of warp-synth's is importable there).
RUNNER = runner.__file__

Host = Child | None


def execute(
    cases: Sequence[Case], host: Host = HERE, options: Options = Options(), watch: Watch | None = None
) -> list[Execution]:
    """Run `cases` under `host` (see the module docstring); one execution per case, in order."""
    if not cases:
        return []
    with tempfile.TemporaryDirectory(prefix="synth_exec_") as name:
        folder = Path(name)
        inputs = write_job(folder, cases, options)
        if host is None:
            assert not options.debug, "a debug build's assertion ends the process: run it in a child"
            results, outputs = runner.execute_job(_job(folder), inputs, folder, lambda phase, n: None)
            return _executions(_warp_version(), results, outputs)
        script = folder / "runner.py"
        shutil.copyfile(RUNNER, script)
        run_child([host.python, str(script), str(folder), str(os.getpid())], folder, watch, environment())
        executions = read_results(folder, len(cases))
    if any(e.warp != host.version for e in executions):
        raise ChildFailed(f"{host.python} runs warp {executions[0].warp}, not {host.version}")
    return executions


def environment() -> dict[str, str]:
    """This environment without warp-synth on the path (the runner needs none of it)."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def pinned() -> Child:
    """A child process under this interpreter, with the pinned Warp."""
    import warp_access

    return Child(sys.executable, warp_access.PINNED_WARP_VERSION)


def _warp_version() -> str:
    import warp

    return warp.__version__


# ----------------------------------------------------------------------------- the job's files


def param_spec(p: Param, value: Any = None) -> dict[str, Any]:
    """A parameter as the runner reads it (plain data); `value`, a handle's recipe, names the object."""
    if isinstance(value, handles.Recipe):
        return {"name": p.name, "kind": "handle", "object": value.kind}
    if p.is_struct:
        return {
            "name": p.name,
            "kind": "struct",
            "struct": p.struct,
            "fields": [param_spec(f) for f in p.fields],
        }
    kind = "array" if p.is_array else "scalar"
    return {"name": p.name, "kind": kind, "dtype": p.dtype_name, "float": p.is_float}


def gradient_wanted(params: Sequence[Param]) -> bool:
    """Whether a gradient can be measured (float inputs and outputs, no float16 among them)."""
    wrt, of = gradcheck.float_arrays(params)
    return bool(wrt and of) and not any(p.numpy_dtype == np.float16 for p in (*wrt, *of))


def _values(n: int, prefix: str, params: Sequence[Param], inputs: Inputs) -> dict[str, np.ndarray]:
    """The arrays of kernel `n`'s launch values under `prefix` (a handle's recipe: its data)."""
    arrays = {}
    for p in leaves(params):
        value = inputs.values[p.name]
        if isinstance(value, handles.Recipe):  # its data; the runner builds the object
            arrays |= {f"{n}/{prefix}{p.name}@{k}": np.asarray(v) for k, v in value.data.items()}
        else:
            arrays[f"{n}/{prefix}{p.name}"] = np.asarray(value)
    return arrays


def _case_spec(case: Case, gradient: bool) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "source": case.source,
        "kernel_name": case.kernel_name,
        "params": [param_spec(p, case.inputs.values.get(p.name)) for p in case.params],
        "shape": list(case.inputs.shape),
        "tile": case.inputs.tile,
        "block_dim": case.block_dim,
        "gradient": {"steps": gradcheck.steps(case.params), "noise": case.noise} if gradient else None,
        "redraws": len(case.redraws),
    }
    if case.alone:
        spec["alone"] = {"watched": list(case.alone), "fills": list(FILLS)}
    return spec


#: Values a race probe's watched outputs are filled with before each thread's two launches.
FILLS = (0, 1)


def write_job(folder: Path, cases: Sequence[Case], options: Options) -> dict[str, np.ndarray]:
    """`job.json` and `inputs.npz` for `cases` in `folder`; the inputs' arrays, by the runner's keys."""
    specs, arrays = [], {}
    for n, case in enumerate(cases):
        gradient = case.gradient and options.backward and gradient_wanted(case.params)
        specs.append(_case_spec(case, gradient))
        arrays |= _values(n, "", case.params, case.inputs)
        for k, redraw in enumerate(case.redraws):
            arrays |= _values(n, f"r{k}/", case.params, redraw)
        if gradient:
            weights, direction = gradcheck.draws(case.params, case.inputs)
            arrays |= {f"{n}/w/{k}": v for k, v in weights.items()}
            arrays |= {f"{n}/d/{k}": v for k, v in direction.items()}
    job: dict[str, Any] = {
        "kernels": specs,
        "debug": options.debug,
        "devices": list(options.devices),
        "backward": options.backward,
        "cpu_blocks": options.cpu_blocks,
    }
    if any(spec["kind"] == "handle" for case in specs for spec in case["params"]):
        job["objects"] = handles.build_source()
    (folder / runner.JOB).write_text(json.dumps(job))
    np.savez(folder / runner.INPUTS, **arrays)
    return arrays


def _job(folder: Path) -> dict[str, Any]:
    return json.loads((folder / runner.JOB).read_text())


def read_results(folder: Path, count: int) -> list[Execution]:
    """The runner's executions of the job's `count` cases."""
    result = json.loads((folder / runner.RESULT).read_text())
    with np.load(folder / runner.OUTPUTS) as saved:
        outputs = {k: saved[k] for k in saved.files}
    executions = _executions(result["warp"], result["kernels"], outputs)
    if len(executions) != count:
        raise ChildFailed(f"the runner gave {len(executions)} results for {count} kernels")
    return executions


def _executions(warp: str, results: Sequence[dict], outputs: Arrays) -> list[Execution]:
    """Typed executions from the runner's per-kernel results and its arrays (`<kernel>/<key>`)."""
    arrays: list[dict[str, np.ndarray]] = [{} for _ in results]
    for key, value in outputs.items():
        n, _, rest = key.partition("/")
        arrays[int(n)][rest] = value
    return [_execution(warp, r, a) for r, a in zip(results, arrays, strict=True)]


def _execution(warp: str, r: dict, arrays: dict[str, np.ndarray]) -> Execution:
    own = _under(arrays, "")
    redrawn = tuple(_under(arrays, f"r{k}/") for k in range(r.get("redraws", 0)))
    devices = {
        device: DeviceRun(
            run["status"],
            run.get("message", ""),
            _under(arrays, f"{device}/"),
            _under(arrays, f"{device}/again/"),
        )
        for device, run in r.get("devices", {}).items()
    }
    return Execution(
        status=r.get("status", "raised"),
        warp=warp,
        message=r.get("message", ""),
        stage=r.get("stage", ""),
        debug_passed=r.get("debug") == "passed",
        deterministic=r.get("deterministic"),
        outputs=own,
        redrawn=redrawn,
        adjoint=r.get("adjoint"),
        finite_differences=tuple(r.get("finite_differences", ())),
        scales=tuple(r.get("scales", ())),
        adjoint_noise=r.get("adjoint_noise"),
        devices=devices,
        race=r.get("race"),
    )


def _under(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays keyed `prefix<name>` (no further `/`), by name."""
    return {
        k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix) and "/" not in k[len(prefix) :]
    }
