"""Benchmark: 1,000,000 CSV rows in 100 groups analyzed end to end (read, analyze, render).

The target is under 5 s on the development machine. Run with
``.venv/bin/pytest benchmarks/test_bench_analyze.py --benchmark-only``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness import analysis, inputs, render, targets

ROWS = 1_000_000
GROUPS = 100
CORES = np.array([1, 2, 4, 8, 16, 32, 64, 128, 256, 512])


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    """100 groups (25 workloads x strong/weak x 2 variants), 10 core counts, ~1,000 reps each."""
    rng = np.random.default_rng(2024)
    group = rng.integers(0, GROUPS, ROWS)
    cores = CORES[rng.integers(0, len(CORES), ROWS)]
    serial = 0.001 + 0.05 * group / GROUPS
    seconds = 100.0 * (serial + (1 - serial) / cores) * np.exp(rng.normal(0.0, 0.03, ROWS))
    frame = pd.DataFrame({
        "workload": np.char.add("w", (group // 4).astype(str)),
        "mode": np.where(group % 2, "strong", "weak"),
        "variant": np.char.add("v", (group % 4 // 2).astype(str)),
        "cores": cores,
        "seconds": seconds,
        "phase_compute": seconds * 0.8,
        "phase_halo": seconds * 0.1,
    })
    path = tmp_path_factory.mktemp("bench") / "timings.csv"
    frame.to_csv(path, index=False, float_format="%.6g")
    return path


def analyze_csv(path) -> str:
    data = inputs.load([path])
    result = analysis.analyze(data.repetitions, targets.defaults())
    return render.render(result, data.excluded, "table")


def test_analyze_one_million_rows(benchmark, big_csv):
    analyze_csv(big_csv)  # untimed: imports, page cache, SciPy's first calls
    report = benchmark.pedantic(analyze_csv, args=(big_csv,), rounds=3, iterations=1)
    assert report.count("\n== ") == GROUPS
    assert "pooled" not in report  # one file: each point's rows are repetitions of one run
