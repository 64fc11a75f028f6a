"""Benchmarks of the KPI store on SQLite: push many records; ``kpi show`` over many KPI rows.

Targets from the store's specification: 100,000 records pushed in under 20 s; ``kpi show`` over
1,000,000 kpi rows in under 1 s. Sizes can be lowered for a quick look with
``HARNESS_BENCH_RECORDS`` and ``HARNESS_BENCH_KPI_ROWS``. Run with
``.venv/bin/pytest benchmarks/test_bench_store.py --benchmark-only``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import uuid

import pytest
from alembic import command

from harness import targets
from harness.store import engine, migrate, push, queries

RECORDS = int(os.environ.get("HARNESS_BENCH_RECORDS", "100000"))
KPI_ROWS = int(os.environ.get("HARNESS_BENCH_KPI_ROWS", "1000000"))
PASSED = {"passed": True, "method": "closed form", "checksum": {"sum": 1.0}, "error": 0.0,
          "tolerance": 1e-9}


def _record(sweep_id: str, workload: str, ranks: int, seconds: float, stamp: str) -> dict:
    return {
        "schema": "harness.run/1", "run_id": uuid.uuid4().hex, "sweep_id": sweep_id,
        "created_at": stamp, "workload": workload, "variant": "v", "mode": "strong",
        "size": "tiny", "params": {}, "ranks": ranks, "nodes": 1, "ranks_per_node": ranks,
        "threads_per_rank": 1, "oversubscribed": False, "warmup": 1, "repetitions": 3,
        "iterations": 10, "seconds": [seconds, seconds * 1.01, seconds * 0.99],
        "phases": {"compute": {"min": seconds, "mean": seconds, "max": seconds}},
        "fom": {"name": "x", "unit": "x/s", "value": 1.0}, "verification": PASSED,
        "status": "ok", "provenance": {"host": "bench", "cpu_model": "bench"},
    }


@pytest.fixture(scope="module")
def many_records(tmp_path_factory):
    """RECORDS records in 100 sweeps of 10 workloads x 10 core counts (10 runs each)."""
    out = tmp_path_factory.mktemp("records")
    per_sweep = max(RECORDS // 100, 1)
    for s in range(100):
        directory = out / f"sweep{s:03d}"
        directory.mkdir()
        for k in range(per_sweep):
            ranks = 2 ** (k % 10)
            rec = _record(directory.name, f"w{k // 10 % 10}", ranks, 1.0 / ranks ** 0.9,
                          f"2026-01-{1 + s % 28:02d}T00:00:00+00:00")
            (directory / f"w-strong-p{ranks}-{rec['run_id']}.json").write_text(json.dumps(rec))
    return out


def test_push_records(benchmark, many_records, tmp_path):
    urls = iter(f"sqlite:///{tmp_path / f'kpi{k}.sqlite'}" for k in range(1000))

    def run():
        store = engine.create(next(urls))
        push.push(store, [many_records], targets.defaults())
        store.dispose()

    benchmark.pedantic(run, rounds=1, iterations=1)


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
