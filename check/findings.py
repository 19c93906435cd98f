"""`findings/`: one standalone plain-Warp reproducer script and one JSON line per finding.

A reproducer imports nothing from warp-synth: it holds the (shrunk) kernel
module, its launch inputs as literals, and the check that failed; it exits
with status 1 while the problem reproduces and 0 once it is fixed.
`findings.jsonl` describes each finding, `SUMMARY.md` lists them.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from check import handles, tolerance
from check.execute import Inputs, Param, leaves
from check.gradcheck import float_arrays

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
    """Write the reproducer and the JSON line (once per kind and source); return the script's path."""
    folder = out / FINDINGS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"{finding.key}.py"
    if not script.exists():
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
    """A standalone plain-Warp script that exits 1 while `f` reproduces."""
    body = f.source.replace("import warp as wp\n", "", 1).strip()
    wrt, of = float_arrays(f.params)
    parts = [
        f'"""Warp finding ({f.kind}, {f.device}): {KINDS[f.kind]}.\n\n{_comment(f.message)}\n\n'
        'Exit status 1 while it reproduces, 0 once fixed.  Needs only warp-lang (and numpy)."""',
        "import sys\n\nimport numpy as np\nimport warp as wp\n",
        body,
        "",
        _arguments_code(f) if f.inputs is not None else "",
        _CHECKS[f.kind].format(
            device=f.device,
            ins=[p.name for p in wrt],
            outs=[p.name for p in of],
            accumulators={p.name for p in f.params if p.role == "accumulator"},
            rtol=tolerance.RTOL,
            atol=tolerance.ATOL,
        ),
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
    lines += ["}", f"NAMES = {[p.name for p in f.params]!r}"]
    lines += [f"ARRAYS = {[p.name for p in f.params if p.is_array]!r}", "", ""]
    lines += [_STRUCT_HELPER, ""] if any(p.is_struct for p in f.params) else []
    objects = {n: v.kind for n, v in f.inputs.values.items() if isinstance(v, handles.Recipe)}
    lines += [_objects_helper(), ""] if objects else []
    lines += ["def arguments(device, requires_grad=False, inputs=INPUTS):", "    return ["]
    lines += [f"        {_argument_code(p, 'requires_grad', objects)}," for p in f.params]
    lines += ["    ]", "", "", "def launch(args, device):"]
    call = f"{f.kernel_name}, dim=SHAPE, inputs=args, device=device"
    tiled = f"wp.launch_tiled({call}, block_dim={f.kernel_name}.module.options['block_dim'])"
    lines += [f"    {tiled if f.inputs.tile else f'wp.launch({call})'}"]
    lines += ["", "", "def run(device, inputs=INPUTS):", "    args = arguments(device, inputs=inputs)"]
    lines += ["    launch(args, device)", "    return [a.numpy() for a in args if isinstance(a, wp.array)]"]
    return "\n".join(lines)


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


_CHECKS = {
    "compile": """def reproduces():
    if "{device}" == "cuda" and wp.get_cuda_device_count() == 0:
        print("needs a CUDA GPU (Warp builds CUDA modules only for a device)")
        return False
    try:
        wp.load_module(device="{device}")
    except Exception as e:
        print(e)
        return True
    return False
""",
    "crash": """def reproduces():
    # a kernel that kills the process ends the script with that signal instead
    try:
        run("{device}")
    except Exception as e:
        print(e)
        return True
    return False
""",
    "nondeterministic": """def reproduces():
    # arrays other than accumulators (float atomics reorder on a GPU) must be bit-identical
    first, second = run("{device}"), run("{device}")
    pairs = [(a, b) for n, a, b in zip(ARRAYS, first, second) if n not in {accumulators!r}]
    return any(a.tobytes() != b.tobytes() for a, b in pairs)
""",
    "gradient": """def loss(outputs, weights):
    return sum(float((w * o.astype(np.float64)).sum()) for o, w in zip(outputs, weights))


def reproduces(h=1e-2, rtol=2e-2):
    # directional derivative: wp.Tape backward against a central finite difference
    rng = np.random.default_rng(0)
    args = arguments("cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        launch(args, "cpu")
    names, ins, outs = NAMES, {ins!r}, {outs!r}
    weights = [rng.standard_normal(INPUTS[n].shape) for n in outs]
    direction = [rng.standard_normal(INPUTS[n].shape) for n in ins]
    by_name = dict(zip(names, args))
    tape.backward(grads={{by_name[n]: wp.array(w, dtype=by_name[n].dtype) for n, w in zip(outs, weights)}})
    ad = sum(float((by_name[n].grad.numpy().astype(np.float64) * d).sum()) for n, d in zip(ins, direction))
    losses = []
    for sign in (1.0, -1.0):
        moved = dict(INPUTS)
        for n, d in zip(ins, direction):
            moved[n] = (INPUTS[n].astype(np.float64) + sign * h * d).astype(INPUTS[n].dtype)
        args = arguments("cpu", inputs=moved)
        launch(args, "cpu")
        by = dict(zip(names, args))
        losses.append(loss([by[n].numpy() for n in outs], weights))
    fd = (losses[0] - losses[1]) / (2 * h)
    print("adjoint", ad, "finite difference", fd)
    return abs(ad - fd) > rtol * max(abs(ad), abs(fd)) + 1e-3
""",
    "cpu_gpu_mismatch": """def reproduces(rtol={rtol!r}, atol={atol!r}):
    if wp.get_cuda_device_count() == 0:
        print("needs a CUDA GPU")
        return False
    for a, b in zip(run("cpu"), run("cuda")):
        if a.dtype.kind != "f":
            if a.tobytes() != b.tobytes():
                return True
        else:
            # the tolerance policy of warp-synth's check/tolerance.py
            r, t = rtol[a.dtype.name], atol[a.dtype.name] * max(1.0, float(np.nanmax(np.abs(a), initial=0.0)))
            if not np.allclose(a, b, rtol=r, atol=t, equal_nan=True):
                print("max difference", np.nanmax(np.abs(a - b)))
                return True
    return False
""",
}
