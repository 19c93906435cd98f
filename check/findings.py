"""`findings/`: one standalone plain-Warp reproducer script and one JSON line per finding.

A reproducer imports nothing from warp-synth: it holds the (shrunk) kernel
module, its launch inputs as literals, and the check that failed; it exits
with status 1 while the problem reproduces and 0 once it is fixed.
`findings.jsonl` describes each finding, `SUMMARY.md` lists them.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from check import gradcheck, handles, tolerance
from check.execute import Inputs, Param, leaves

FINDINGS_DIR = "findings"
INDEX = "findings.jsonl"
SUMMARY = "SUMMARY.md"

#: What each kind of finding is, for the summary and the reproducers' docstrings.
KINDS = {
    "compile": "Warp's generated code for the kernel does not compile",
    "crash": "launching the kernel raises",
    "nondeterministic": "two CPU launches with identical inputs give different bytes",
    "gradient": "the wp.Tape backward disagrees with finite differences (inside the autodiff contract)",
    "cpu_gpu_mismatch": "CPU and CUDA results differ beyond the tolerance policy",
    "generator_defect": "under Warp's debug mode the kernel fails an array-bounds assertion or dies with "
    "a signal: the generator emitted undefined behaviour (a warp-synth bug, not Warp's)",
}


@dataclass
class Finding:
    kind: str
    device: str
    kernel_name: str
    source: str  # the (shrunk) module
    message: str
    seed: int | None = None  # the candidate seed it was found from, if any
    shrunk: bool = False
    inputs: Inputs | None = None
    params: Sequence[Param] = ()

    @property
    def key(self) -> str:
        return f"{self.kind}_{hashlib.sha1(self.source.encode()).hexdigest()[:10]}"


def write_finding(out: Path, finding: Finding) -> Path:
    """Write the reproducer and the JSON line (once per kind and source); return the script's path.

    The index decides what is written: a script a killed run left without its line is written again.
    """
    folder = out / FINDINGS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"{finding.key}.py"
    if script.name not in {f["reproducer"] for f in read_findings(folder)}:
        script.write_text(reproducer(finding))
        line = {k: v for k, v in vars(finding).items() if k not in ("inputs", "params")}
        line["reproducer"] = script.name
        with open(folder / INDEX, "a") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
        write_summary(folder)
    return script


def read_findings(folder: Path) -> list[dict[str, Any]]:
    index = folder / INDEX
    return [json.loads(line) for line in index.read_text().splitlines()] if index.exists() else []


def write_summary(folder: Path) -> None:
    findings = read_findings(folder)
    counts = Counter(f["kind"] for f in findings)
    lines = ["# Findings", "", f"{len(findings)} finding(s).", ""]
    lines += [f"- {kind}: {n} ({KINDS[kind]})" for kind, n in sorted(counts.items())]
    lines += ["", "| kind | device | kernel | seed | shrunk | reproducer | message |", "| --- " * 7 + "|"]
    for f in findings:
        message = f["message"].replace("|", "/").replace("\n", " ")[:160]
        lines.append(
            f"| {f['kind']} | {f['device']} | {f['kernel_name']} | {f['seed']} | {f['shrunk']} "
            f"| {f['reproducer']} | {message} |"
        )
    (folder / SUMMARY).write_text("\n".join(lines) + "\n")


# ----------------------------------------------------------------------------- the script


def reproducer(f: Finding) -> str:
    """A standalone plain-Warp script that exits 1 while `f` reproduces.

    Its check is the fuzzer's: the tolerance and step policy and the functions that apply it are
    copied from `check.tolerance` and `check.gradcheck` (their source), not restated.
    """
    body = f.source.replace("import warp as wp\n", "", 1).strip()
    parts = [
        f'"""Warp finding ({f.kind}, {f.device}): {KINDS[f.kind]}.\n\n{_comment(f.message)}\n\n'
        f'{_EXIT.get(f.kind, _EXIT_STATUS)}  Needs only warp-lang (and numpy)."""',
        "from __future__ import annotations\n\nimport sys\n\nimport numpy as np\nimport warp as wp\n",
        f"DEVICE = {f.device!r}",
        body,
        "",
        _arguments_code(f) if f.inputs is not None else "",
        _policy_code(f),
        _CHECKS[f.kind],
        'if __name__ == "__main__":\n    wp.init()\n    sys.exit(1 if reproduces() else 0)\n',
    ]
    return "\n\n".join(p for p in parts if p)


def _comment(message: str) -> str:
    return message.replace('"""', "'''").strip()[-1500:]


def _literal(value: Any) -> str:
    if isinstance(value, handles.Recipe):  # an object's data; built by `build` (embedded)
        return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in value.data.items()) + "}"
    if isinstance(value, np.ndarray):
        return f"np.array({value.tolist()!r}, dtype=np.{value.dtype.name})"
    return repr(value)


_STRUCT_HELPER = """def struct(cls, **fields):
    instance = cls()
    for name, value in fields.items():
        setattr(instance, name, value)
    return instance
"""


def _arguments_code(f: Finding) -> str:
    assert f.inputs is not None
    lines = [f"SHAPE = {f.inputs.shape!r}", "INPUTS = {"]
    lines += [f"    {p.name!r}: {_literal(f.inputs.values[p.name])}," for p in leaves(f.params)]
    lines += ["}", f"NAMES = {[p.name for p in f.params]!r}", "", ""]
    lines += [_STRUCT_HELPER, ""] if any(p.is_struct for p in f.params) else []
    objects = {n: v.kind for n, v in f.inputs.values.items() if isinstance(v, handles.Recipe)}
    lines += [_objects_helper(), ""] if objects else []
    lines += ["def arguments(device, requires_grad=False, inputs=INPUTS):", "    return ["]
    lines += [f"        {_argument_code(p, 'requires_grad', objects)}," for p in f.params]
    lines += ["    ]", "", "", "def held(args):", '    """Every array of a launch by name."""']
    lines += ["    return {" + ", ".join(f"{name!r}: {code}" for name, code in _held(f.params)) + "}"]
    lines += ["", "", "def launch(args, device):"]
    call = f"{f.kernel_name}, dim=SHAPE, inputs=args, device=device"
    tiled = f"wp.launch_tiled({call}, block_dim={f.kernel_name}.module.options['block_dim'])"
    lines += [f"    {tiled if f.inputs.tile else f'wp.launch({call})'}"]
    lines += ["", "", "def run(device, inputs=INPUTS):", "    args = arguments(device, inputs=inputs)"]
    lines += ["    launch(args, device)", "    wp.synchronize_device(device)"]
    lines += ["    return {name: a.numpy() for name, a in held(args).items()}"]
    return "\n".join(lines)


def _held(params: Sequence[Param], reach: str = "") -> list[tuple[str, str]]:
    """(leaf array name, the expression that reaches it from the argument list `args`)."""
    found = []
    for n, p in enumerate(params):
        expression = f"{reach}.{p.field_name}" if reach else f"args[{n}]"
        if p.is_array:
            found.append((p.name, expression))
        elif p.is_struct:
            found += _held(p.fields, expression)
    return found


def _objects_helper() -> str:
    """Code building meshes, BVHs, hash grids, volumes and textures: `check.handles.build` itself."""
    import inspect

    sources = (inspect.getsource(handles.HandleArgument), inspect.getsource(handles.build))
    return "\n\n".join(["from typing import Any", *sources])


def _argument_code(p: Param, requires_grad: str, objects: dict[str, str] | None = None) -> str:
    """The reproducer's expression for argument `p` (a struct's arrays never track gradients;
    `objects`: handle parameters by kind)."""
    if p.name in (objects or {}):
        return f"build({objects[p.name]!r}, inputs[{p.name!r}], device, wp)"  # type: ignore[index]
    if p.is_struct:
        fields = ", ".join(f"{f.field_name}={_argument_code(f, 'False')}" for f in p.fields)
        return f"struct({p.struct}, {fields})"
    dtype, value = f"wp.{getattr(p.dtype, '__name__', 'float32')}", f"inputs[{p.name!r}]"
    if p.is_array:
        grad = requires_grad if p.is_float else "False"
        return f"wp.array({value}, dtype={dtype}, device=device, requires_grad={grad})"
    if p.element_shape:
        return f"{dtype}(*{value}.flatten().tolist())"
    return value


def _policy_code(f: Finding) -> str:
    """The constants and functions of the fuzzer's check for `f.kind`, copied from their modules,
    and the values of this launch they take."""
    if f.kind == "gradient":
        wrt, of = gradcheck.float_arrays(f.params)
        values = {"INS": [p.name for p in wrt], "OUTS": [p.name for p in of]}
        values["PRECISION"] = gradcheck.gradient_precision(wrt, of)
        return _copied(gradcheck, ("RTOL", "STEP", "STEPS", "ROUNDING_ULPS"), (gradcheck.judge,), values)
    if f.kind in ("cpu_gpu_mismatch", "nondeterministic") and f.inputs is not None:
        accumulators = sorted(p.name for p in leaves(f.params) if p.role == "accumulator")
        values = {"ACCUMULATORS": accumulators, "THREADS": f.inputs.threads}
        functions = (tolerance.close, tolerance.mismatches, tolerance.run_to_run_differences)
        return _copied(tolerance, ("RTOL", "ATOL"), functions, values)
    return ""


def _copied(module: Any, constants: Sequence[str], functions: Sequence[Any], values: dict[str, Any]) -> str:
    lines = [f"# The check's policy, copied from warp-synth's {module.__name__}, and this launch's values"]
    lines += [f"{name} = {getattr(module, name)!r}" for name in constants]
    lines += [f"{name} = {value!r}" for name, value in values.items()]
    return "\n".join(lines) + "\n\n\n" + "\n\n".join(inspect.getsource(fn) for fn in functions)


_EXIT_STATUS = "Exit status 1 while it reproduces, 0 once fixed."
_EXIT = {
    "crash": "Dies (a signal) or exits 1 while it reproduces, exits 0 once fixed.",
    "generator_defect": "Dies (a signal: SIGILL for a failed assertion, SIGFPE ...) while it reproduces.",
}

_CHECKS = {
    "compile": """def reproduces():
    if DEVICE == "cuda" and wp.get_cuda_device_count() == 0:
        print("needs a CUDA GPU (Warp builds CUDA modules only for a device)")
        return False
    try:
        wp.load_module(device=DEVICE)
    except Exception as e:
        print(e)
        return True
    return False
""",
    "crash": """def reproduces():
    # a kernel that kills the process ends the script with that signal instead
    try:
        run(DEVICE)
    except Exception as e:
        print(e)
        return True
    return False
""",
    "generator_defect": """def reproduces():
    # Warp's debug build asserts array bounds (a failed assertion ends the process) and keeps
    # traps such as an integer division by zero (SIGFPE) that a release build may hide
    wp.config.mode = "debug"
    run("cpu")
    return False
""",
    "nondeterministic": """def reproduces():
    # on a CPU every array must be bit-identical; on a GPU accumulators (float atomics add in
    # any order) are held to the tolerance policy
    first, second = run(DEVICE), run(DEVICE)
    accumulators = set(ACCUMULATORS) if DEVICE == "cuda" else set()
    differing = run_to_run_differences(first, second, accumulators, THREADS)
    print("arrays differing between launches:", differing)
    return bool(differing)
""",
    "gradient": '''def loss(args, weights):
    """sum(w * out) in float64, and sum|w * out| (the scale of its rounding error)."""
    by_name = dict(zip(NAMES, args))
    terms = [w * by_name[n].numpy().astype(np.float64) for n, w in zip(OUTS, weights)]
    return sum(float(t.sum()) for t in terms), sum(float(np.abs(t).sum()) for t in terms)


def reproduces():
    # directional derivative: wp.Tape backward against central finite differences at each step
    rng = np.random.default_rng(0)
    weights = [rng.standard_normal(INPUTS[n].shape) for n in OUTS]
    direction = [rng.standard_normal(INPUTS[n].shape) for n in INS]
    args = arguments("cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        launch(args, "cpu")
    by_name = dict(zip(NAMES, args))
    seeds = {by_name[n]: wp.array(w, dtype=by_name[n].dtype, device="cpu") for n, w in zip(OUTS, weights)}
    tape.backward(grads=seeds)
    ad = sum(float((by_name[n].grad.numpy().astype(np.float64) * d).sum()) for n, d in zip(INS, direction))
    fds, scales = [], []
    for h in [STEP[PRECISION] * s for s in STEPS]:
        losses = []
        for sign in (1.0, -1.0):
            moved = dict(INPUTS)
            for n, d in zip(INS, direction):
                moved[n] = (INPUTS[n].astype(np.float64) + sign * h * d).astype(INPUTS[n].dtype)
            args = arguments("cpu", inputs=moved)
            launch(args, "cpu")
            losses.append(loss(args, weights))
        fds.append((losses[0][0] - losses[1][0]) / (2 * h))
        scales.append(max(losses[0][1], losses[1][1]))
    status, reason, fd, tol = judge(ad, fds, scales, PRECISION)
    print(f"adjoint {ad!r}, closest finite difference {fd!r}, tolerance {tol!r}: {status} {reason}")
    return status == "mismatch"
''',
    "cpu_gpu_mismatch": """def reproduces():
    if wp.get_cuda_device_count() == 0:
        print("needs a CUDA GPU")
        return False
    cpu, gpu = run("cpu"), run("cuda")
    differing = mismatches(cpu, gpu, set(ACCUMULATORS), THREADS)
    for name in differing:
        print(name, "max difference", np.nanmax(np.abs(cpu[name].astype(np.float64) - gpu[name])))
    return bool(differing)
""",
}
