"""Benchmarks of the KPI store on SQLite: push many records; ``kpi show`` over many KPI rows.

Targets from the store's specification: 100,000 records pushed in under 20 s; ``kpi show`` over
1,000,000 kpi rows in under 1 s. The records are platform sweeps made by
``benchmarks/synthetic_records.py`` (a real record's shape; 10 workload cases x 5 scales x 2
runs = 100 records per sweep, so 100,000 records are 1,000 sweeps of 10 scaling studies each).

Each sweep is prepared first, as its analysis step does (``harness kpi prepare``: the sweep's
``kpi.json``, outside the timed region, on every CPU), so the timed push is the store's own work:
reading and validating every record, the rows, the SQL. ``test_push_records_analyzed`` pushes
a tenth of them without their ``kpi.json`` (the push analyzes each sweep itself: the model fits
and their cross-validation) and records how much of its time the analyzer took; it has no
target. Sizes can be lowered for a quick look with ``HARNESS_BENCH_RECORDS`` (a multiple of
1,000) and ``HARNESS_BENCH_KPI_ROWS``. Run with
``.venv/bin/pytest benchmarks/test_bench_store.py --benchmark-only``.
"""

from __future__ import annotations

import os
import sqlite3
import time
from concurrent.futures import ProcessPoolExecutor

import checks
import pytest
import synthetic_records
from alembic import command

from harness import analysis, targets
from harness.store import engine, migrate, prepared, push, queries

RECORDS = int(os.environ.get("HARNESS_BENCH_RECORDS", "100000"))
KPI_ROWS = int(os.environ.get("HARNESS_BENCH_KPI_ROWS", "1000000"))
#: the store's target: this many seconds per 100,000 records pushed
PUSH_SECONDS = 20.0


def _prepare(directories):
    return len(push.prepare(directories, targets.defaults()))


@pytest.fixture(scope="module")
def many_records(tmp_path_factory):
    """RECORDS records in sweeps of ``synthetic_records.PER_SWEEP``, on disk, each sweep with
    its ``kpi.json``."""
    out = tmp_path_factory.mktemp("records")
    synthetic_records.write(out, max(RECORDS // synthetic_records.PER_SWEEP, 1))
    sweeps = sorted(p for p in out.iterdir() if p.is_dir())
    workers = len(os.sched_getaffinity(0))
    n = min(workers * 8, len(sweeps))
    with ProcessPoolExecutor(workers) as pool:
        done = sum(pool.map(_prepare, [sweeps[k::n] for k in range(n)]))
    assert done == len(sweeps)
    return out


def _timed_push(benchmark, paths, urls):
    pushed = []

    def run():
        store = engine.create(next(urls))
        pushed.append(push.push(store, paths, targets.defaults()))
        store.dispose()

    benchmark.pedantic(run, rounds=1, iterations=1)
    return pushed[-1]


def test_push_records(benchmark, many_records, tmp_path):
    urls = iter(f"sqlite:///{tmp_path / f'kpi{k}.sqlite'}" for k in range(1000))
    results = _timed_push(benchmark, [many_records], urls)
    runs = sum(r.new_runs for r in results)
    assert runs == RECORDS // synthetic_records.PER_SWEEP * synthetic_records.PER_SWEEP
    assert all(r.prepared for r in results)  # the store's work only: nothing analyzed
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update({"records": runs, "sweeps": len(results)})
    checks.record(benchmark, f"kpi push of {runs:,} prepared records, s", seconds, "<=",
                  PUSH_SECONDS * runs / 100_000, "other",
                  f"{seconds / runs * 1e6:.0f} us a record, {len(results)} sweeps")


def test_push_records_analyzed(benchmark, many_records, tmp_path, monkeypatch, capsys):
    sweeps = sorted(p for p in many_records.iterdir() if p.is_dir())
    part = sweeps[:max(len(sweeps) // 10, 1)]
    urls = iter(f"sqlite:///{tmp_path / f'kpi{k}.sqlite'}" for k in range(1000))
    spent = {"analysis": 0.0}
    analyze = analysis.analyze

    def timed_analysis(*args, **kwargs):
        start = time.perf_counter()
        try:
            return analyze(*args, **kwargs)
        finally:
            spent["analysis"] += time.perf_counter() - start

    monkeypatch.setattr(analysis, "analyze", timed_analysis)
    monkeypatch.setattr(prepared, "find",
                        lambda *args: prepared.Prepared(None, None, "not used here"))
    results = _timed_push(benchmark, part, urls)
    runs = sum(r.new_runs for r in results)
    assert not any(r.prepared for r in results)
    seconds = benchmark.stats.stats.median
    benchmark.extra_info.update({"records": runs, "sweeps": len(results),
                                 "analysis_s": spent["analysis"],
                                 "rest_s": seconds - spent["analysis"]})
    with capsys.disabled():
        print(f"\nkpi push of {runs:,} records analyzing each sweep: {seconds:.1f} s, the "
              f"analyzer {spent['analysis']:.1f} s "
              f"({spent['analysis'] / len(results) * 1e3:.0f} ms a sweep)")


@pytest.fixture(scope="module")
def big_store(tmp_path_factory):
    """A store with KPI_ROWS parallel_efficiency rows: 1,000 series over many sweeps, written at
    revision 0001 and then migrated (which fills kpi_latest from them)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'kpi.sqlite'}"
    store = engine.create(url)
    with engine.connect(store, write=True) as conn:
        config = migrate._config(migrate.SCRIPTS)
        config.attributes["connection"] = conn
        command.upgrade(config, "0001")
    sweeps = max(KPI_ROWS // 1000, 1)
    db = sqlite3.connect(url.removeprefix("sqlite:///"))
    db.executemany("INSERT INTO sweeps VALUES (?, NULL, ?, 'bench', NULL, NULL, ?)",
                   [(f"s{s}", f"2026-01-01T{s % 24:02d}:00:00+00:00", "2026-01-01")
                    for s in range(sweeps)])
    rows = ((f"s{s}", "parallel_efficiency", f"w{g // 10}", "strong", "v", "tiny", 2 ** (g % 10),
             float(2 ** (g % 10)), 0.9 - 0.0001 * s, None, None, 0.9, "pass", "measured", None,
             None, None, f"2026-{1 + s // 500 % 12:02d}-{1 + s % 28:02d}T00:00:00+00:00")
            for s in range(sweeps) for g in range(1000))
    db.executemany("INSERT INTO kpi (sweep_id, metric, workload, mode, variant, problem, cores, "
                   "scale, value, interval_low, interval_high, target, status, kind, model, "
                   "extrapolation, bottleneck, measured_at) VALUES "
                   "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    db.commit()
    db.close()
    migrate.upgrade(store)
    store.dispose()
    return url


def test_kpi_show(benchmark, big_store):
    store = engine.create(big_store)
    latest = benchmark(queries.show, store)
    store.dispose()
    assert len(latest) == 1000
