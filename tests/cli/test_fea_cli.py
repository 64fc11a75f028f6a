"""``harness run fea`` end to end: verified records, rank-count invariance, files, bad input."""

import importlib.util

import numpy as np
import pytest

from harness.workloads.fea import CHECKSUM_TOLERANCE

pytestmark = pytest.mark.skipif(importlib.util.find_spec("harness.cli.run") is None,
                                reason="harness run is not there yet")

from clitools import assert_refused, harness, run_json  # noqa: E402


def test_two_ranks_verified_with_the_one_rank_checksum(tmp_path):
    one = run_json("fea", "--ranks", 1, "--out", tmp_path, "--reps", 3)
    two = run_json("fea", "--ranks", 2, "--out", tmp_path, "--reps", 3)
    for rec in (one, two):
        assert rec["status"] == "ok" and rec["verification"]["passed"]
        assert rec["variant"] == "gather" and rec["params"]["n"] == 16
        assert set(rec["phases"]) == {"assemble", "compute", "halo", "reduce", "io"}
        assert rec["fom"]["name"] == "CG MFLOP/s" and rec["fom"]["unit"] == "MFLOP/s"
        # the CG rate is over the CG phases only, not assembly and file writes
        cg_seconds = sum(rec["phases"][k]["mean"] for k in ("compute", "halo", "reduce"))
        flops = rec["work"]["flops_per_iteration"] * rec["iterations"]
        assert rec["fom"]["value"] == pytest.approx(flops / cg_seconds / 1e6, rel=1e-9)
        assert [f["unit"] for f in rec["extra_foms"]] == ["load cases/s"]
        assert rec["iterations"] == sum(rec["work"]["cg_iterations_per_case"]) > 0
        assert rec["work"]["flops_per_iteration"] == 2 * rec["work"]["nnz"] + 10 * 15 ** 3
    assert one["ranks"] == 1 and two["ranks"] == 2
    for rec in (one, two):  # process start to the first timed repetition, across ranks
        startup = rec["startup"]
        assert 0 < startup["min"] <= startup["mean"] <= startup["max"]
    assert two["work"]["process_grid"] == [2, 1, 1] and one["work"]["process_grid"] == [1, 1, 1]
    assert two["iterations"] == one["iterations"]
    for key in ("sum", "l2"):
        assert two["verification"]["checksum"][key] == pytest.approx(
            one["verification"]["checksum"][key], rel=CHECKSUM_TOLERANCE)


@pytest.mark.parametrize("variant", ["per-rank", "mpiio"])
def test_kept_files_hold_the_checksummed_solutions(tmp_path, variant):
    rec = run_json("fea", "--ranks", 2, "--variant", variant, "--set", "cases=3",
                   "--out", tmp_path, "--reps", 1, "--warmup", 0, "--keep-files")
    files = sorted(tmp_path.rglob("fea-case*.f64"))
    assert len(files) == (6 if variant == "per-rank" else 3)
    # file names sort by case, then rank: concatenated they are the cases in global order
    values = np.concatenate([np.fromfile(f, dtype=np.float64) for f in files])
    assert values.size == 3 * 15 ** 3
    checksum = rec["verification"]["checksum"]
    assert values.sum() == pytest.approx(checksum["sum"], rel=1e-12)
    assert np.sqrt(np.sum(values * values)) == pytest.approx(checksum["l2"], rel=1e-12)


def test_weak_mode_keeps_elements_per_rank(tmp_path):
    rec = run_json("fea", "--ranks", 2, "--mode", "weak", "--out", tmp_path, "--reps", 1)
    assert rec["params"]["n"] == 20 and rec["verification"]["passed"]  # 16·2^(1/3) ≈ 20.2


@pytest.mark.parametrize("args,needle", [
    (["--set", "n=1"], "n=1 must be >= 2"),
    (["--set", "n=2", "--ranks", "4"], "fewer than the 2 ranks along one axis"),
    (["--variant", "bogus"], "unknown variant 'bogus'"),
    (["--set", "cases=0"], "cases=0 must be > 0"),
    (["--set", "tol=0"], "tol=0.0 must be > 0"),
    (["--set", "fsync=3"], "fsync=3 must be 0 or 1"),
])
def test_bad_input_exits_2_with_one_line_and_no_record(tmp_path, args, needle):
    assert_refused(harness("run", "fea", *args, "--out", tmp_path), needle, tmp_path)
