"""Recovery of a known serial fraction on this machine's real CPUs (``make bench``).

The ``calibrate`` workload at size ``small`` does 2 M serial and 8 M parallel iterations, so
Amdahl's f = 0.2 exactly. Runs at 1 and 2 ranks, interleaved (1, 2, 1, 2, ...) so that a drift
of a shared machine's speed weighs on both; each (1-rank, 2-rank) pair gives one Karp–Flatt
estimate of f (at p = 2 it equals Amdahl's f exactly). Printed: the estimate from the medians, a
95 % interval over the pairs (Student t), and the error against the truth. It belongs here, not
in ``make test``: it measures this machine, whose speed is not the harness's to assert.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys

import pytest
from scipy import stats

PAIRS = 4


def run(ranks: int, out) -> dict:
    done = subprocess.run([sys.executable, "-m", "harness", "run", "calibrate", "--ranks",
                           str(ranks), "--size", "small", "--reps", "5", "--out", str(out),
                           "--sweep-id", "cal", "--json"],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs 2 CPUs for a 2-rank run")
def test_calibrate_recovers_its_serial_fraction(benchmark, tmp_path, capsys):
    pairs: list[tuple[float, float]] = []

    def measure() -> None:
        for _ in range(PAIRS):
            one, two = run(1, tmp_path), run(2, tmp_path)
            assert not two["oversubscribed"]
            pairs.append((statistics.median(one["seconds"]), statistics.median(two["seconds"])))

    benchmark.pedantic(measure, rounds=1, iterations=1)
    truth = 0.2
    estimates = [2 * t2 / t1 - 1 for t1, t2 in pairs]  # Karp-Flatt at p = 2: 2/S - 1
    t1 = statistics.median(p[0] for p in pairs)
    t2 = statistics.median(p[1] for p in pairs)
    f = 2 * t2 / t1 - 1
    half = stats.t.ppf(0.975, PAIRS - 1) * statistics.stdev(estimates) / math.sqrt(PAIRS)
    benchmark.extra_info.update(serial_fraction=f, interval=[f - half, f + half], truth=truth)
    with capsys.disabled():
        print(f"\ncalibrate small, {PAIRS} interleaved pairs at 1 and 2 ranks: f = {f:.3f} "
              f"(95 % interval {f - half:.3f} to {f + half:.3f}) against {truth:.3f} exactly; "
              f"error {100 * (f - truth) / truth:+.1f} %")
