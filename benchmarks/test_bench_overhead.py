"""The harness's own cost: a run whose kernel does nothing, against a ``small`` run.

The null run is ``harness run calibrate --set serial_iterations=0 --set
parallel_iterations=100``: the whole runner (warm-up, barrier-bracketed repetitions, two phase
timers, the reductions across ranks, verification, provenance, the record written to disk)
around a kernel of 100 iterations (well under a microsecond; fewer miss the workload's own
fixed-point check). The reference is ``harness run cfd --size small`` (n = 512, 100 steps). Both
run in this process through :func:`harness.runner.execute` on ``MPI.COMM_SELF``, interleaved.

Two figures, each against the reference's timed region, target < 1 %:

* *timing*: the null run's median repetition (barrier, two clock reads, phase timers, the
  100-iteration kernel) over the reference's median repetition — what the timing adds to every
  timed repetition;
* *record machinery*: the null run's wall time outside its timed repetitions (setup, warm-up,
  reductions, verification, provenance, writing the record) over the reference's whole timed
  region (repetitions × median) — what one run costs beyond what it measures.

``HARNESS_BENCH_OVERHEAD_ROUNDS`` (default 5) pairs are run; the medians of the per-pair ratios
are recorded.
"""

from __future__ import annotations

import os
import statistics
import time

import checks
import pytest
from mpi4py import MPI

from harness import runner

ROUNDS = int(os.environ.get("HARNESS_BENCH_OVERHEAD_ROUNDS", "5"))
REPS = 5
MAX_FRACTION = 0.01
NULL = {"serial_iterations": "0", "parallel_iterations": "100"}


def _run(workload, size, overrides, out):
    opts = runner.RunOptions(workload=workload, size=size, overrides=overrides,
                             repetitions=REPS, warmup=1, out=out)
    start = time.perf_counter()
    rec, _ = runner.execute(opts, MPI.COMM_SELF)
    wall = time.perf_counter() - start
    assert rec is not None and rec.status == "ok", rec and rec.error
    return rec, wall


@pytest.mark.benchmark(group="harness overhead")
def test_overhead(benchmark, tmp_path, capsys):
    _run("calibrate", "tiny", NULL, tmp_path)  # compile / load both before anything counts
    _run("cfd", "small", {}, tmp_path)
    pairs = []

    def pair():
        null, null_wall = _run("calibrate", "tiny", NULL, tmp_path)
        ref, _ = _run("cfd", "small", {}, tmp_path)
        null_median = statistics.median(null.seconds)
        ref_median = statistics.median(ref.seconds)
        outside = null_wall - sum(null.seconds)
        pairs.append((null_median, ref_median, outside,
                      null_median / ref_median, outside / (REPS * ref_median)))

    benchmark.pedantic(pair, rounds=ROUNDS, iterations=1)
    null_median, ref_median, outside, timing, machinery = (
        statistics.median(column) for column in zip(*pairs, strict=True))
    done = [
        checks.record(benchmark, "harness timing per repetition / cfd small repetition",
                      timing, "<=", MAX_FRACTION, "overhead",
                      f"{null_median * 1e6:.1f} us vs {ref_median * 1e3:.2f} ms"),
        checks.record(benchmark, "harness record machinery per run / cfd small timed region",
                      machinery, "<=", MAX_FRACTION, "overhead",
                      f"{outside * 1e3:.1f} ms vs {REPS} x {ref_median * 1e3:.2f} ms"),
    ]
    benchmark.extra_info.update({
        "null_run": "calibrate tiny serial_iterations=0 parallel_iterations=100",
        "reference": "cfd small, 1 rank", "repetitions": REPS,
        "null_median_s": null_median, "reference_median_s": ref_median,
        "null_outside_timed_s": outside})
    with capsys.disabled():
        print("\nharness overhead, medians of", ROUNDS, "pairs")
        for check in done:
            print("  " + checks.line(check))
