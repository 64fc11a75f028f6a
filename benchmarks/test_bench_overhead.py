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
are recorded. The null run's outside time is broken down by timing, inside the run, the calls
that make it (medians over the pairs): ``provenance.git_state`` (the commit read from the git
files, one ``git status`` process), the rest of ``provenance.collect``, the record's checks and
serialisation in ``records.write``, the file written beside its target, its ``fsync`` (the
record's durability, kept), the removal of the run's scratch directory (made only for a
workload that writes files, so 0 for the null run), and the rest (setup,
warm-up, reductions, verification). The breakdown goes into the record machinery check's detail
and ``extra_info``.
"""

from __future__ import annotations

import os
import statistics
import time
from collections import defaultdict

import checks
import pytest
from mpi4py import MPI

from harness import atomic, provenance, records, runner

ROUNDS = int(os.environ.get("HARNESS_BENCH_OVERHEAD_ROUNDS", "5"))
REPS = 5
MAX_FRACTION = 0.01
NULL = {"serial_iterations": "0", "parallel_iterations": "100"}
#: timed calls of the record machinery: name, module, attribute (each nests in the next but one)
TIMED_CALLS = (("git", provenance, "git_state"), ("provenance", runner.provenance, "collect"),
               ("record", runner.records, "write"), ("file", records.atomic, "write_text"),
               ("fsync", atomic.os, "fsync"), ("scratch", runner, "remove_scratch"))


def _time_calls(monkeypatch) -> dict[str, float]:
    """Wrap :data:`TIMED_CALLS` so that each adds its wall time to the returned dict."""
    spent: dict[str, float] = defaultdict(float)
    for name, module, attribute in TIMED_CALLS:
        original = getattr(module, attribute)

        def timed(*args, _original=original, _name=name, **kwargs):
            start = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[_name] += time.perf_counter() - start
        monkeypatch.setattr(module, attribute, timed)
    return spent


def _breakdown(spent: dict[str, float], outside: float) -> dict[str, float]:
    """Exclusive parts of the outside time, seconds (the timed calls nest)."""
    return {"git_state": spent["git"],
            "provenance_other": spent["provenance"] - spent["git"],
            "record_checks_and_json": spent["record"] - spent["file"],
            "file_write": spent["file"] - spent["fsync"],
            "fsync": spent["fsync"],
            "scratch_removal": spent["scratch"],
            "rest": outside - spent["provenance"] - spent["record"] - spent["scratch"]}


def _run(workload, size, overrides, out):
    opts = runner.RunOptions(workload=workload, size=size, overrides=overrides,
                             repetitions=REPS, warmup=1, out=out)
    start = time.perf_counter()
    rec, _ = runner.execute(opts, MPI.COMM_SELF)
    wall = time.perf_counter() - start
    assert rec is not None and rec.status == "ok", rec and rec.error
    return rec, wall


@pytest.mark.benchmark(group="harness overhead")
def test_overhead(benchmark, tmp_path, capsys, monkeypatch):
    _run("calibrate", "tiny", NULL, tmp_path)  # compile / load both before anything counts
    _run("cfd", "small", {}, tmp_path)
    spent = _time_calls(monkeypatch)
    pairs, parts = [], []

    def pair():
        spent.clear()
        null, null_wall = _run("calibrate", "tiny", NULL, tmp_path)
        outside = null_wall - sum(null.seconds)
        parts.append(_breakdown(spent, outside))
        ref, _ = _run("cfd", "small", {}, tmp_path)
        null_median = statistics.median(null.seconds)
        ref_median = statistics.median(ref.seconds)
        pairs.append((null_median, ref_median, outside,
                      null_median / ref_median, outside / (REPS * ref_median)))

    benchmark.pedantic(pair, rounds=ROUNDS, iterations=1)
    null_median, ref_median, outside, timing, machinery = (
        statistics.median(column) for column in zip(*pairs, strict=True))
    part = {key: statistics.median(p[key] for p in parts) for key in parts[0]}
    region = REPS * ref_median
    split = ", ".join(f"{key} {value * 1e3:.2f} ms" for key, value in part.items())
    done = [
        checks.record(benchmark, "harness timing per repetition / cfd small repetition",
                      timing, "<=", MAX_FRACTION, "overhead",
                      f"{null_median * 1e6:.1f} us vs {ref_median * 1e3:.2f} ms"),
        checks.record(benchmark, "harness record machinery per run / cfd small timed region",
                      machinery, "<=", MAX_FRACTION, "overhead",
                      f"{outside * 1e3:.1f} ms vs {REPS} x {ref_median * 1e3:.2f} ms; outside: "
                      f"{split}; the fsync alone is {part['fsync'] / region:.2%} of the region"),
    ]
    benchmark.extra_info.update({
        "null_run": "calibrate tiny serial_iterations=0 parallel_iterations=100",
        "reference": "cfd small, 1 rank", "repetitions": REPS,
        "null_median_s": null_median, "reference_median_s": ref_median,
        "null_outside_timed_s": outside, "null_outside_breakdown_s": part,
        "breakdown": "medians over pairs of the calls timed inside the null run (each its own "
                     "median: they need not add up to the median outside time); rest = setup, "
                     "warm-up, reductions, verification"})
    with capsys.disabled():
        print("\nharness overhead, medians of", ROUNDS, "pairs")
        for check in done:
            print("  " + checks.line(check))
        print(f"  null run outside its timed repetitions, {outside * 1e3:.2f} ms:")
        for key, value in part.items():
            print(f"    {key:<24} {value * 1e3:6.2f} ms  {value / region:6.2%} of the region")
