"""`fuzz --target-python` and `fuzz --against`: kernels checked under other Warp installations.

The installations here are this interpreter (the pinned Warp), and this interpreter with a bug put
into Warp on purpose (a wrapper whose `sitecustomize` perturbs one output, or one gradient, of every
kernel calling `wp.sin`): the fuzzer must find it, shrink it and group its hits.
"""

import ast
import json
import sys
from pathlib import Path

import pytest

from check import execute, runner
from check.findings import read_findings
from check.fuzz import campaign
from check.fuzz.campaign import candidate_kernel
from check.harness import Report
from check.judge import installation, run_under, unsupported
from check.signature import constructs
from grammar.sample import Sample
from grammar.unparse import to_source
from synth import cli
from tests.conftest import plain_warp, synth
from tests.test_fuzz import DEFECT
from tests.test_fuzz_cli import _module

#: The wrapper's Warp: after a launch of a kernel whose own source calls wp.sin, its last float32 array
#: (an output) is 0.5 off; or, in the backward pass, the adjoint of its first float32 input.
PERTURB = """import inspect

import warp as wp

WHAT = "{what}"
_launch = wp.launch


def _calls_sin(kernel):
    try:
        return "wp.sin(" in inspect.getsource(kernel.func)
    except (OSError, TypeError):
        return False


def launch(kernel, *args, **kwargs):
    _launch(kernel, *args, **kwargs)
    adjoint = bool(kwargs.get("adjoint"))
    if adjoint != (WHAT == "gradient") or not _calls_sin(kernel):
        return
    arrays = kwargs.get("adj_inputs" if adjoint else "inputs") or []
    floats = [a for a in arrays if isinstance(a, wp.array) and a.dtype == wp.float32]
    if floats:
        off = floats[0] if adjoint else floats[-1]
        off.assign(off.numpy() + 0.5)


wp.launch = launch
"""

#: Kernels standing for candidates 0, 1, 2, 3: three call wp.sin in other ways, one does not.
WAVE = """import warp as wp

@wp.kernel
def wave(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    x = a[i] * 2.0 + 1.0
    y = wp.sin(x) * a[i]
    out[i] = y + wp.cos(a[i])
"""
RIPPLE = """import warp as wp

@wp.func
def bump(x: float):
    return x * x + 1.0

@wp.kernel
def ripple(a: wp.array(dtype=float), b: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    s = wp.sin(bump(a[i])) * b[i]
    if s > 0.5:
        s = s * 0.5
    out[i] = s
"""
FIELD = """import warp as wp

@wp.kernel
def field(a: wp.array2d(dtype=float), out: wp.array2d(dtype=float)):
    i, j = wp.tid()
    out[i, j] = wp.sin(a[i, j]) * 3.0 - a[i, j]
"""
SCALE = """import warp as wp

@wp.kernel
def scale(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = a[i] * 3.0
"""
KERNELS = (WAVE, RIPPLE, FIELD, SCALE)


def perturbed_python(folder: Path, what: str) -> Path:
    """An interpreter whose Warp perturbs `what` ("output" or "gradient") of kernels calling wp.sin."""
    site = folder / f"site_{what}"
    site.mkdir()
    (site / "sitecustomize.py").write_text(PERTURB.format(what=what))
    wrapper = folder / f"python_{what}"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH={site} exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return wrapper


def _fuzz(monkeypatch, capsys, out: Path, *args: str) -> tuple[int, dict]:
    """`fuzz` (in this process) over KERNELS standing for candidates 0, 1, ..."""

    def candidate(base_seed, index):
        tree, name = _module(KERNELS[index])
        return Sample(index, tree, name, None, None, "handwritten")

    monkeypatch.setattr(campaign, "candidate_kernel", candidate)
    command = ["fuzz", "--device", "cpu", "--count", str(len(KERNELS)), "--out", str(out), *args]
    status = cli.main(command)
    capsys.readouterr()
    return status, json.loads((out / "fuzz.json").read_text())


def _hits(out: Path) -> dict[str, list[int]]:
    hits: dict[str, list[int]] = {}
    for line in (out / "results.jsonl").read_text().splitlines():
        result = json.loads(line)
        for failure in result["failures"]:
            hits.setdefault(failure["finding"], []).append(result["seed"])
    return hits


def test_a_perturbed_output_is_found_shrunk_and_grouped(monkeypatch, capsys, tmp_path):
    wrapper = perturbed_python(tmp_path, "output")
    status, summary = _fuzz(monkeypatch, capsys, tmp_path / "out", "--against", str(wrapper))
    assert status == 1 and summary["new_findings"] == {"differential": 3}, summary
    assert summary["distinct_findings"] == 1 and summary["warp"] == {
        "target": "1.19.0 (target)",
        "against": "1.19.0 (against)",
    }
    (finding,) = read_findings(tmp_path / "out" / "findings")
    assert _hits(tmp_path / "out") == {finding["reproducer"]: [0, 1, 2]}  # one bug, three hits
    assert finding["shrunk"] and finding["lines"] <= 4, finding["source"]
    assert "wp.sin(" in finding["source"]
    # the float64 re-execution (which the wrapper leaves alone) says which side is wrong
    assert finding["versions"]["affected"] == ["1.19.0 (against)"]
    assert json.loads(finding["message"])["decided_by"] == "float64"
    summary_md = (tmp_path / "out" / "findings" / "SUMMARY.md").read_text()
    assert "## 1. Warp 1.19.0 (against): a kernel with wp.sin gives wrong results" in summary_md
    assert "seen in 3 kernel(s) (seeds 0, 1, 2)" in summary_md
    # the reproducer prints both results and fails under the perturbed Warp only
    script = tmp_path / "out" / "findings" / finding["reproducer"]
    clean = plain_warp(script, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "1.19.0 (target) (recorded)" in clean.stdout and "1.19.0 (against) (recorded)" in clean.stdout
    import subprocess

    broken = subprocess.run([str(wrapper), str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert broken.returncode == 1, broken.stdout + broken.stderr


def test_a_perturbed_gradient_is_the_wrong_sides_gradient_finding(monkeypatch, capsys, tmp_path):
    wrapper = perturbed_python(tmp_path, "gradient")
    status, summary = _fuzz(monkeypatch, capsys, tmp_path / "out", "--against", str(wrapper), "--no-shrink")
    assert status == 1 and summary["new_findings"] == {"gradient": 3}, summary
    lines = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [[f["versions"] for f in line["failures"]] for line in lines] == [[["1.19.0 (against)"]]] * 3 + [
        []
    ]
    # the differing adjoints are recorded, decided by finite differences; the failure is the gradient one
    verdict = lines[0]["metadata"]["differential"]
    assert verdict["part"] == ["gradient"] and verdict["affected"] == ["1.19.0 (against)"]
    assert lines[0]["metadata"]["gradcheck"]["status"] == "passed"
    assert lines[0]["metadata"]["against"]["gradcheck"]["status"] == "mismatch"


def test_our_own_interpreter_as_target_and_against_gives_no_findings(tmp_path):
    python = sys.executable
    args = ("fuzz", "--device", "cpu", "--count", "4", "--seed", "3", "--group", "2", "--out", str(tmp_path))
    result = synth(*args, "--target-python", python, "--against", python)
    assert result.returncode == 0, result.stderr
    assert "under warp 1.19.0 (target), compared with warp 1.19.0 (against)" in result.stderr
    summary = json.loads((tmp_path / "fuzz.json").read_text())
    # (candidate 2 of seed 3, generator 0.4.0, passes an array whole to wp.tile_load_indexed: outside
    # the launch contract, unsupported under both installations alike)
    assert summary["new_findings"] == {} and summary["execution"] == {"executed": 3, "unsupported": 1}
    assert summary["against_execution"] == {"executed": 3} and summary["compared"] == 3
    assert summary["gradcheck"].get("passed", 0) >= 1
    lines = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert all(line["metadata"]["warp"] == summary["warp"] for line in lines)
    ran = [line for line in lines if line["metadata"]["execution"] == "executed"]
    assert len(ran) == 3 and all(line["metadata"]["against"]["execution"] == "executed" for line in ran)


def test_kernels_with_meshes_volumes_and_textures_run_under_another_installation(tmp_path):
    """The runner builds a handle parameter's object from the data the fuzzer drew (`check.handles`'s
    builder, carried in the job): the same object under both installations, the same results."""
    handles = ("_query", "volume_", "texture_sample")
    seed = next(
        s
        for s in range(400)
        if ("wp.uint64" in (source := to_source(candidate_kernel(s, 0).tree)) or "wp.Texture" in source)
        and any(h in source for h in handles)
    )
    python = sys.executable
    args = ("fuzz", "--device", "cpu", "--count", "1", "--seed", str(seed), "--out", str(tmp_path))
    result = synth(*args, "--against", python)
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "fuzz.json").read_text())
    assert summary["against_execution"] == {"executed": 1} and summary["compared"] == 1, summary
    assert summary["new_findings"] == {}


def test_a_bad_interpreter_is_one_line_and_exit_2(tmp_path):
    result = synth("fuzz", "--count", "1", "--against", str(tmp_path / "nothing"), "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"synth: error: --against {tmp_path / 'nothing'}: no such interpreter"
    ]


#: Build failures an older Warp gave kernels the pinned one builds (1.5.1 and 1.10.0, recorded).
API_ERRORS = (
    'WarpCodegenError: Error while parsing function "f_k0" at /tmp/x.py:8: p = wp.where(c, a, b) ;Could not '
    "find function wp.where as a built-in or user-defined function.",
    'WarpCodegenAttributeError: Error while parsing function "f_k0" at /tmp/x.py:10: t1 = wp.tile_map('
    "wp.copysign, t, tile) ;Error, `copysign` is not an attribute of '<module 'warp' from '/x/w.py'>'",
    'WarpCodegenError: Error while parsing function "f_k0" at /tmp/x.py:8: t = wp.tile_load(a, shape=(8, 8)) '
    ";Couldn't find function overload for 'tile_load' that matched inputs with types: [array(ndim=2)]",
    'WarpCodegenError: Error while parsing function "f" at x.py:3: y = a if c else b ;Construct `ast.IfExp` '
    "not supported in kernels.",
    'RuntimeError: Error while parsing function "f" at x.py:10: u = g(v) ;Error while parsing function "g" '
    "at x.py:5: a = wp.spatial_vectord(2.5, 0.01, 2.0, 0.5, 0.0, 6.7) ;all values used to initialize this "
    "vector are expected to be of the type `float64`",
)
FINDINGS = (
    "Exception: CPU kernel build failed with error code -1 [compiler: /x.cpp:40:13: error: no matching "
    "constructor for initialization of 'wp::vec_t<4, wp::float32>']",
    'KeyError: Error while parsing function "f" at x.py:3: y = v[0] ;var_12',
)


@pytest.mark.parametrize(("message", "api"), [(m, True) for m in API_ERRORS] + [(m, False) for m in FINDINGS])
def test_api_availability_errors_are_told_from_compile_findings(message, api):
    assert unsupported(message) is api


def test_the_runner_needs_only_numpy_and_public_warp():
    tree = ast.parse(Path(runner.__file__).read_text())
    imported = {
        alias.name.partition(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    imported |= {node.module.partition(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert imported <= set(sys.stdlib_module_names) | {"numpy", "warp", "__future__"}, imported
    private = [n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr.startswith("_src")]
    assert not private


#: A shrunk kernel clamping a value, and one building a local struct: what a hit must hold.
CLAMPED = "import warp as wp\n\n@wp.kernel\ndef k(b: wp.array(dtype=float), r: wp.array(dtype=float)):\n" + (
    "    i = wp.tid()\n    r[i] = wp.clamp(1.0, b[i], 1.0)\n"
)
LOCAL_STRUCT = """import warp as wp

@wp.struct
class Cell:
    mass: float

@wp.kernel
def k(b: wp.array(dtype=float), r: wp.array(dtype=float)):
    i = wp.tid()
    c = Cell()
    c.mass = b[i]
    r[i] = c.mass
"""


def test_a_hit_holds_the_findings_constructs_not_the_index_guards():
    guarded = "    r[i] = b[wp.clamp(i + 1, 0, b.shape[0] - 1)] * 2.0\n"
    other = CLAMPED.replace("    r[i] = wp.clamp(1.0, b[i], 1.0)\n", guarded)
    assert "wp.clamp" in constructs(CLAMPED) and not constructs(CLAMPED) <= constructs(other)
    assert {"struct constructor", "attribute store"} <= constructs(LOCAL_STRUCT)
    assert not constructs(LOCAL_STRUCT) <= constructs(other.replace("* 2.0", ""))


def test_the_runners_debug_build_reaches_a_kernel_in_a_module_of_its_own():
    # the runner (another installation's checks) sets debug mode on a `module="unique"` kernel's own
    # module too: an out-of-bounds read there fails the bounds assertion
    source = DEFECT.replace("@wp.kernel", '@wp.kernel(module="unique")').replace("NAME", "shifted")
    source = source.replace("BODY", "out[i] = a[i + 5]")
    params, inputs = execute.describe(source, "shifted", 1)
    report = Report(1, "shifted", "", source, params=params, inputs=inputs)
    run_under(installation(None, "target"), [report], debug=True)
    assert [f.kind for f in report.failures] == ["generator_defect"], report.run
