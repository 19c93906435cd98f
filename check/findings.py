"""`findings/`: one standalone plain-Warp reproducer script and one JSON line per finding.

A reproducer imports nothing from warp-synth: it holds the (shrunk) kernel
module, its launch inputs as literals, and the check that failed; it exits
with status 1 while the problem reproduces and 0 once it is fixed, and with
status 3 when its own code fails (an exception raised outside Warp: a NameError
of the script's counts as nothing, never as the bug reproducing).
`findings.jsonl` describes each finding, `SUMMARY.md` lists them.
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
import os
import subprocess
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from check import gradcheck, handles, races, runner, tolerance
from check.execute import Inputs, Param, leaves
from check.kinds import BROKEN, FIXED, KINDS, REPRODUCES
from check.signature import constructs
from emit.lower import Kernel
from emit.schema import Field, ListOf, OneOf, Struct, read_jsonl
from emit.writer import FINDINGS_DIR

INDEX = "findings.jsonl"
SUMMARY = "SUMMARY.md"


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
    #: Warp versions: "tested" (every one the kernel ran under), "affected", "unaffected".
    versions: dict[str, list[str]] = field(default_factory=dict)
    signature: str = ""  # what groups its hits (`check.signature`)
    #: A differential's results by version (array name -> values; "adjoint" for gradients), and the
    #: expected arrays (the float64 re-execution) where known.
    recorded: dict[str, dict[str, Any]] = field(default_factory=dict)
    expected: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.kind}_{hashlib.sha1(self.source.encode()).hexdigest()[:10]}"


#: Finding fields kept out of findings.jsonl (the reproducer holds them as literals).
_SCRIPT_ONLY = ("inputs", "params")

_VERSIONS = tuple(
    Field(role, ListOf("string"), "", optional=True) for role in ("tested", "affected", "unaffected")
)

#: A line of findings.jsonl: the finding's fields but `_SCRIPT_ONLY`, its reproducer, and how that ran.
FINDING = Struct(
    (
        Field("kind", OneOf(tuple(KINDS)), "the failure kind (`check.kinds.KINDS`)"),
        Field("device", OneOf(("cpu", "cuda")), "the device it shows on"),
        Field("kernel_name", "string", "the kernel's name"),
        Field("source", "string", "the (shrunk) module"),
        Field("message", "string", "what the check said (JSON for gradients and differentials)"),
        Field("seed", "int64", "the candidate seed it was found from", nullable=True),
        Field("shrunk", "bool", "whether `source` is the shrunk kernel"),
        Field("versions", Struct(_VERSIONS), "Warp versions tested, affected, unaffected"),
        Field("signature", "string", "what groups its hits (`check.signature`)"),
        Field("recorded", "object", "a differential's results by version"),
        Field("expected", "object", "a differential's expected arrays, where known"),
        Field("reproducer", "string", "the reproducer's file name in findings/"),
        Field("lines", "int64", "lines of kernel code of the reproducer"),
        Field("exit_status", "object", "the reproducer's exit status by Warp version", optional=True),
        Field("reproducers_dropped", "int64", "smaller reproducers that did not reproduce", optional=True),
    )
)


def write_finding(out: Path, finding: Finding, checked: dict[str, Any] | None = None) -> Path:
    """Write the reproducer and the JSON line (once per kind and source; `checked`: how its reproducer
    ran, added to the line); return the script's path.

    The index decides what is written: a script a killed run left without its line is written again.
    """
    script = save_reproducer(out, finding)
    folder = script.parent
    if script.name not in {f["reproducer"] for f in read_findings(folder)}:
        line = {k: _plain(v) for k, v in vars(finding).items() if k not in _SCRIPT_ONLY}
        line |= {"reproducer": script.name, "lines": kernel_lines(finding.source)} | (checked or {})
        with open(folder / INDEX, "a") as f:
            f.write(json.dumps(line, sort_keys=True) + "\n")
        write_summary(folder)
    return script


def save_reproducer(out: Path, finding: Finding) -> Path:
    """The finding's reproducer script, written in `out/findings/` (not yet in the index)."""
    folder = out / FINDINGS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / f"{finding.key}.py"
    script.write_text(reproducer(finding))
    return script


#: Seconds a reproducer may run before it counts as not reproducing.
REPRODUCER_SECONDS = 600


def run_reproducer(script: Path, python: str) -> int | str:
    """The exit status of `script` run as saved by interpreter `python` (a negative one: the signal
    that ended it; `BROKEN`: its own code failed), or why it has none: "traceback" (an error escaped:
    at its top level, or Warp's where its check expects none), "timeout"."""
    environment = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # plain Warp, nothing of ours
    try:
        done = subprocess.run(
            [python, script.name],
            cwd=script.parent,
            capture_output=True,
            text=True,
            timeout=REPRODUCER_SECONDS,
            env=environment,
        )
    except subprocess.TimeoutExpired:
        return "timeout"
    return "traceback" if "Traceback (most recent call last)" in done.stderr else done.returncode


def reproduced(finding: Finding, statuses: dict[str, int | str]) -> bool:
    """Whether the reproducer reproduces under every installation the finding affects (every one tested
    when it names none) that ran it: exit status 1, or, for a kind that `dies`, a signal (never `BROKEN`,
    the reproducer's own failure).  No installation ran it
    (a CUDA finding without a GPU): it is filed as found."""
    affected = finding.versions.get("affected") or finding.versions.get("tested") or list(statuses)
    ran = [statuses[v] for v in affected if v in statuses]
    dying = KINDS[finding.kind].dies
    return all(s == REPRODUCES or (dying and isinstance(s, int) and s < 0) for s in ran)


def _plain(value: Any) -> Any:
    """`value` with numpy arrays and scalars as lists and numbers (for JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value.tolist() if isinstance(value, np.ndarray | np.generic) else value


def read_findings(folder: Path) -> list[dict[str, Any]]:
    """findings.jsonl's lines (`FINDING` each; `emit.schema.DamagedFile` names a damaged one)."""
    index = folder / INDEX
    return read_jsonl(index, FINDING) if index.exists() else []


def kernel_lines(source: str) -> int:
    """Lines of code of a module's kernel and helpers (structs, constants and the import not counted)."""
    functions = [s for s in ast.parse(source).body if isinstance(s, ast.FunctionDef)]
    return sum(len(ast.unparse(f).splitlines()) - len(f.decorator_list) for f in functions)


def write_summary(folder: Path, hits: dict[str, list[int]] | None = None) -> None:
    """SUMMARY.md: one entry per finding, written to be filed as an issue on Warp's tracker; `hits`:
    the seeds of every kernel that showed each finding (by reproducer), else its own seed."""
    findings = read_findings(folder)
    counts = Counter(f["kind"] for f in findings)
    lines = ["# Findings", "", f"{len(findings)} finding(s).", ""]
    lines += [f"- {kind}: {n} ({KINDS[kind].meaning})" for kind, n in sorted(counts.items())]
    for n, f in enumerate(findings, 1):
        seeds = (hits or {}).get(f["reproducer"]) or [f["seed"]]
        lines += ["", *_issue(n, f, seeds)]
    (folder / SUMMARY).write_text("\n".join(lines) + "\n")


def _issue(n: int, f: dict[str, Any], seeds: list[Any]) -> list[str]:
    """A finding as an issue for Warp's tracker: title, versions, minimal script, expected and actual."""
    versions = f.get("versions") or {}
    shown = ", ".join(map(str, seeds[:20])) + (f" ... ({len(seeds)} in all)" if len(seeds) > 20 else "")
    return [
        f"## {n}. {title(f)}",
        "",
        f"- failure class: `{f['kind']}` ({KINDS[f['kind']].meaning})",
        f"- Warp versions tested: {', '.join(versions.get('tested', [])) or 'the pinned one'}; "
        f"affected: {', '.join(versions.get('affected', [])) or 'undetermined'}; "
        f"unaffected: {', '.join(versions.get('unaffected', [])) or 'none'}",
        f"- seen in {len(seeds)} kernel(s) (seeds {shown}); reproducer `{f['reproducer']}` "
        f"({f.get('lines', '?')} lines of kernel code, shrunk: {f['shrunk']}; needs only warp-lang and "
        "numpy; exit status 1 while it reproduces)",
        "",
        "```python",
        f["source"].strip(),
        "```",
        "",
        *expected_and_actual(f),
    ]


def title(f: dict[str, Any]) -> str:
    """A one-line title naming what fails, where, and what the kernel computes with."""
    versions = f.get("versions", {})
    affected = versions.get("affected") or []
    where = f"Warp {', '.join(affected)}" if affected else f"Warp {' vs '.join(versions.get('tested', []))}"
    used = [c for c in sorted(constructs(f["source"])) if c.startswith("wp.") and c not in ("wp.tid",)]
    used += [phrase for c, phrase in _PHRASES.items() if c in constructs(f["source"])]
    using = f" with {', '.join(used[:5])}" if used else ""
    what = KINDS[f["kind"]].title.format(using=using, wrong="wrong" if affected else "different")
    return f"{where}: {what}"


#: Constructs a title names in words (beside the `wp.` builtins).
_PHRASES = {
    "IfExp": "a conditional expression",
    "For": "a loop",
    "While": "a while loop",
    "struct constructor": "a local struct instance",
}


def expected_and_actual(f: dict[str, Any]) -> list[str]:
    """The finding's expected and actual results, from its message and recorded values."""
    kind, message = f["kind"], f["message"]
    if kind == "gradient":
        grad = _json(message)
        return [
            f"Expected: {KINDS[kind].expected} ({grad.get('finite_difference')}).",
            f"Actual: the adjoint is {grad.get('adjoint')} (tolerance {grad.get('tolerance')}).",
        ]
    if kind == "differential":
        verdict = _json(message)
        float64 = verdict.get("float64", "forward results agree")
        lines = [f"Differs: {' and '.join(verdict.get('part', []))}; {float64}."]
        recorded, expected = f.get("recorded", {}), f.get("expected") or {}
        for name in sorted(expected):
            lines.append(f"Expected (float64 re-execution): `{name}` = {_short(expected[name])}")
        for version, values in recorded.items():
            for name, value in sorted(values.items()):
                lines.append(f"Warp {version}: `{name}` = {_short(value)}")
        if verdict.get("right"):
            how = _DECIDED_BY[verdict["decided_by"]]
            lines.append(f"Right: Warp {verdict['right'][0]} ({how}).")
        return [f"{line}  " for line in lines]
    unaffected = ", ".join(f.get("versions", {}).get("unaffected", []))
    expected = KINDS[kind].expected.format(as_with=f" (as with Warp {unaffected})" if unaffected else "")
    return [f"Expected: {expected}.  ", f"Actual: {_comment(message)[:600]}"]


#: How a differential's right side was told (`check.judge`'s verdict).
_DECIDED_BY = {
    "float64": "its results match the float64 re-execution's, which both versions agree on",
    "precision": "the other version's float64 results are these rounded to float32",
    "finite_differences": "its adjoint matches finite differences, the other's does not",
}


def _json(message: str) -> dict[str, Any]:
    """A message the checks wrote as JSON (gradients, differentials); {} for one written otherwise."""
    try:
        found = json.loads(message)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}


def _short(values: Any) -> str:
    flat = np.asarray(values).ravel().tolist()
    return f"{flat[:8]}{' ...' if len(flat) > 8 else ''}"


# ----------------------------------------------------------------------------- the script


def reproducer(f: Finding) -> str:
    """A standalone plain-Warp script that exits 1 while `f` reproduces.

    Its check is the fuzzer's: the tolerance and step policy and the functions that apply it are
    copied from `check.tolerance` and `check.gradcheck` (their source), not restated.
    """
    kind = KINDS[f.kind]
    body = f.source.replace("import warp as wp\n", "", 1).strip()
    if f.kind == "race" and f.inputs is not None:  # the kernel's probe beside it (`check.races`)
        body += "\n\n\n" + races.probe_copy(Kernel(f.source, f.kernel_name), len(f.inputs.shape))
    parts = [
        f'"""Warp finding ({f.kind}, {f.device}): {kind.meaning}.\n\n{_comment(f.message)}\n\n'
        f"{kind.exit}  Exit status {BROKEN}: the reproducer itself is broken (an error of its own code, "
        'not raised inside Warp).  Needs only warp-lang (and numpy)."""',
        _IMPORTS,
        f"DEVICE = {f.device!r}",
        body,
        "",
        _arguments_code(f) if f.inputs is not None else _LOAD_ONLY if "run(" in kind.check else "",
        _policy_code(f),
        _RAISED_BY_WARP,
        kind.check,
        _MAIN,
    ]
    return "\n\n".join(p for p in parts if p)


_IMPORTS = (
    "from __future__ import annotations\n\nimport os\nimport sys\n\nimport numpy as np\nimport warp as wp\n"
)

#: A reproducer without launch inputs (the process died loading the kernel, or it never built): its
#: `run` builds the module, which is all of the kernel it can show.
_LOAD_ONLY = '''def run(device, inputs=None):
    """No launch inputs were recorded (the kernel was not launched): building the module is the check."""
    wp.load_module(device=device)
    return {}
'''

#: Tells Warp's failure (an exception raised inside Warp's package) from the reproducer's own (a
#: NameError, an AttributeError ... of its code): only the first may count as reproducing.
_RAISED_BY_WARP = '''def raised_by_warp(error):
    """Whether `error` was raised inside Warp, not by this script's own code (an attribute Warp lacks,
    reported by its module's `__getattr__`, is the script's error)."""
    package = os.path.dirname(wp.__file__) + os.sep
    frame = error.__traceback__
    while frame is not None:
        code = frame.tb_frame.f_code
        if code.co_filename.startswith(package) and code.co_name != "__getattr__":
            return True
        frame = frame.tb_next
    return False
'''

_MAIN = f"""if __name__ == "__main__":
    wp.init()
    try:
        found = reproduces()
    except Exception as e:
        if raised_by_warp(e):
            raise
        print(f"the reproducer itself is broken: {{type(e).__name__}}: {{e}}", file=sys.stderr)
        sys.exit({BROKEN})
    sys.exit({REPRODUCES} if found else {FIXED})
"""


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
    lines += [handles.build_source(), ""] if objects else []
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


def _argument_code(p: Param, requires_grad: str, objects: dict[str, str] | None = None) -> str:
    """The reproducer's expression for argument `p` (a struct's arrays never track gradients;
    `objects`: handle parameters by kind)."""
    if p.name in (objects or {}):
        return f"build({objects[p.name]!r}, inputs[{p.name!r}], device, wp)"  # type: ignore[index]
    if p.is_struct:
        fields = ", ".join(f"{f.field_name}={_argument_code(f, 'False')}" for f in p.fields)
        return f"struct({p.struct}, {fields})"
    dtype, value = f"wp.{p.dtype_name}", f"inputs[{p.name!r}]"
    if p.is_array:
        grad = requires_grad if p.is_float else "False"
        return f"wp.array({value}, dtype={dtype}, device=device, requires_grad={grad})"
    if p.element_shape:
        return f"{dtype}(*{value}.flatten().tolist())"
    return value


def _parts(f: Finding) -> list[str]:
    """What a finding's check compares: "forward" results, "gradient"s."""
    if f.kind == "differential":
        return json.loads(f.message)["part"]
    return list(KINDS[f.kind].compares)


def _policy_code(f: Finding) -> str:
    """The constants and functions of the fuzzer's check for `f`, copied from their modules, and the
    values of this launch they take."""
    blocks = []
    if "gradient" in _parts(f):
        wrt, of = gradcheck.float_arrays(f.params)
        values = {"INS": [p.name for p in wrt], "OUTS": [p.name for p in of]}
        values["PRECISION"] = gradcheck.gradient_precision(wrt, of)
        constants = (gradcheck, ("GRADIENT_RTOL", "STEP", "STEPS", "ROUNDING_ULPS"))
        functions = (runner.loss, runner.adjoint, runner.finite_differences)
        functions += (gradcheck.tolerance, gradcheck.judge)
        blocks.append(_copied(constants, functions, values) + "\n\n" + _GRADIENT)
    if "forward" in _parts(f) and f.inputs is not None:
        accumulators = sorted(p.name for p in leaves(f.params) if p.role == "accumulator")
        values = {"ACCUMULATORS": accumulators, "THREADS": f.inputs.threads}
        functions = (tolerance.close, tolerance.mismatches, tolerance.run_to_run_differences)
        blocks.append(_copied((tolerance, ("RTOL", "ATOL")), functions, values))
    if f.kind == "differential":
        blocks.append(_recorded_code(f))
    if f.kind == "race" and f.inputs is not None:
        blocks.append(_race_code(f))
    return "\n\n".join(blocks)


def _race_code(f: Finding) -> str:
    """The race check's constants and function (`check.races`), and the launch of the kernel's probe."""
    assert f.inputs is not None
    values = {"OUTPUTS": [p.name for p in races.outputs(f.params)]}
    copied = _copied((races, ("FILLS",)), (races.first_race,), values)
    call = f"{f.kernel_name}_probe, dim=SHAPE, inputs=args, device=device"
    block_dim = f"block_dim={f.kernel_name}.module.options['block_dim']"
    launch = f"wp.launch_tiled({call}, {block_dim})" if f.inputs.tile else f"wp.launch({call})"
    return f"{copied}\n\ndef launch_probe(args, device):\n    {launch}\n"


def _copied(constants: tuple[Any, Sequence[str]], functions: Sequence[Any], values: dict[str, Any]) -> str:
    module, names = constants
    sources = sorted({fn.__module__ for fn in functions})
    lines = [f"# The check's policy, copied from warp-synth's {', '.join(sources)}, and this launch's values"]
    lines += [f"{name} = {getattr(module, name)!r}" for name in names]
    lines += [f"{name} = {value!r}" for name, value in values.items()]
    return "\n".join(lines) + "\n\n\n" + "\n\n".join(inspect.getsource(fn) for fn in functions)


def _recorded_code(f: Finding) -> str:
    """A differential's recorded results per version, and the expected ones where known."""
    lines = ["# What each Warp version gave on these inputs, and the float64 re-execution's results"]
    lines += [f"VERSIONS = {list(f.recorded)!r}", f"PART = {_parts(f)!r}", "RECORDED = {"]
    lines += [f"    {version!r}: {_dict_literal(values)}," for version, values in f.recorded.items()]
    lines += ["}", f"EXPECTED = {_dict_literal(f.expected)}"]
    return "\n".join(lines)


def _dict_literal(values: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k!r}: {_literal(v)}" for k, v in values.items()) + "}"


#: The gradient check of a reproducer, on the copied `check.runner` and `check.gradcheck` functions.
_GRADIENT = '''def launched(values, requires_grad):
    """One CPU launch with these values: every array it held, by name."""
    args = arguments("cpu", requires_grad=requires_grad, inputs=values)
    launch(args, "cpu")
    wp.synchronize_device("cpu")
    return held(args)


def gradient_check():
    """The directional derivative: wp.Tape backward against central finite differences at each step."""
    rng = np.random.default_rng(0)
    weights = {n: rng.standard_normal(INPUTS[n].shape) for n in OUTS}
    direction = {n: rng.standard_normal(INPUTS[n].shape) for n in INS}
    steps = [STEP[PRECISION] * s for s in STEPS]
    ad = adjoint(launched, INPUTS, weights, direction)
    fds, scales = finite_differences(launched, INPUTS, weights, direction, steps)
    status, reason, fd, tol = judge(ad, fds, scales, PRECISION)
    print(f"Warp {wp.__version__}: adjoint {ad!r}, closest finite difference {fd!r}, tolerance {tol!r}: "
          f"{status} {reason}")
    return status
'''
