"""`--verify compile`: records are compiled in batches; a broken one is caught, bisected, and kept out."""

import json
from dataclasses import replace

import pytest

from check.compile import failing, record_code
from check.findings import read_findings
from emit.lower import DEVICES, lower
from emit.records import build_record, encode
from grammar.sample import sample
from synth.pipeline import Outcome, Run, RunConfig, verify_compile
from tests.conftest import plain_warp
from tests.test_lowering import MATHDX_KERNELS
from warp_access import KernelCode

BROKEN = KernelCode(forward="static void broken( { this is not C++ }\n", backward=None, helpers="")


def _records(seeds, device):
    return [build_record(sample(s), device) for s in seeds]


@pytest.mark.parametrize("device", DEVICES)
def test_broken_kernel_is_bisected_out_of_a_batch(device, capfd):
    codes = [record_code(r) for r in _records(range(5), device)]
    codes.insert(3, BROKEN)
    failures = failing(codes, device)
    assert list(failures) == [3]
    assert failures[3]  # the compiler's message is kept ...
    assert "this is not C++" not in capfd.readouterr().err  # ... and not printed


def test_cuda_code_declaring_mathdx_functions_compiles():
    # lowered without their LTO-IR, the MathDx functions are declared as ever (nothing is linked)
    codes = [lower(MATHDX_KERNELS[name], "k", "cuda") for name in ("matmul_f64", "cholesky_f32", "fft_16_64")]
    assert all(code.link_symbols for code in codes)
    assert failing(codes, "cuda") == {}


def test_verify_compile_drops_the_failing_record_and_files_a_finding(tmp_path):
    records = _records(range(3), "cpu")
    broken = dict(records[1], code_forward=BROKEN.forward)
    outcomes = [
        Outcome(n, "ok", line=encode(r), source_sha1=str(n), shape_sha1=str(n))
        for n, r in enumerate([records[0], broken, records[2]])
    ]
    verified = verify_compile(outcomes, "cpu")
    assert [o.status for o in verified] == ["ok", "compile_failed", "ok"]
    run = Run(RunConfig(device="cpu", out=tmp_path, verify="compile"))
    progress, lines = replace(run.writer.progress), []
    for o in verified:
        run._consume(o, progress, lines)
    assert lines == [encode(records[0]), encode(records[2])]
    assert progress.counters == {"compile_failed": 1}
    findings = read_findings(tmp_path / "findings")
    assert [f["kind"] for f in findings] == ["compile"] and findings[0]["seed"] == 1
    script = tmp_path / "findings" / findings[0]["reproducer"]
    # the reproducer runs with plain Warp; the injected C++ error is not Warp's, so it does not reproduce
    assert plain_warp(script, tmp_path).returncode == 0
    assert (tmp_path / "findings" / "SUMMARY.md").exists()
    run.writer.close()


def test_verified_rate_counts_the_compiling(tmp_path):
    # the same records with and without compiling them: the verified rate is the slower one
    # (a compile costs a second or more, lowering milliseconds); one that left the compile out fails here
    plain = Run(RunConfig(device="cpu", out=tmp_path / "plain", count=6)).execute()
    stats = Run(RunConfig(device="cpu", out=tmp_path / "verified", count=6, verify="compile")).execute()
    assert stats["verified"] and stats["compile_failed"] == 0 and stats["records"] == 6
    assert not plain["verified"] and plain["verified_records_per_s"] == 0
    assert 0 < stats["verified_records_per_s"] < plain["records_per_s"]
    verified = (tmp_path / "verified" / "dataset.jsonl").read_bytes()
    assert verified == (tmp_path / "plain" / "dataset.jsonl").read_bytes()
    for line in verified.splitlines():
        assert json.loads(line)["device"] == "cpu"
