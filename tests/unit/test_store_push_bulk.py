"""KPI store: many synthetic platform sweeps (benchmarks/synthetic_records.py, small N) push as
one push of each does; a sweep pushed in parts ends as if pushed whole; the cheaper ranking of
``kpi_latest`` for a new sweep leaves what a ranking of the whole history leaves; a record's NaN
is stored as null.

Every test runs on SQLite and on PostgreSQL (skipped with the reason when there is none).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import sqlalchemy as sa
import storetools
from storetools import counts, make_record

from harness import record_schema, records, targets
from harness.store import engine, latest, push, schema

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
_spec = importlib.util.spec_from_file_location("synthetic_records",
                                               BENCH / "synthetic_records.py")
synthetic = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("synthetic_records", synthetic)
_spec.loader.exec_module(synthetic)

TABLE = targets.defaults()
store_url = storetools.store_url  # the fixture: a fresh SQLite file, and PostgreSQL database
#: a small platform study: 10 cases x 3 scales x 2 runs = 60 records per sweep
SCALES = (1, 2, 10)


def do_push(url, *paths):
    store = engine.create(url)
    try:
        return push.push(store, paths, TABLE)
    finally:
        store.dispose()


def table(url, which, drop=("id",)):
    """Every row of ``which`` without the ``drop`` columns, sorted."""
    store = engine.create(url)
    try:
        with engine.connect(store) as conn:
            rows = conn.execute(sa.select(which)).mappings().all()
    finally:
        store.dispose()
    return sorted(tuple((k, v) for k, v in r.items() if k not in drop) for r in rows)


def test_synthetic_records_are_valid_distinct_and_like_a_platform_sweep():
    recs = list(synthetic.sweep(7, scales=SCALES))
    assert len(recs) == len(synthetic.CASES) * len(SCALES) * 2
    for data in recs:
        records.validate(data)
        record_schema.validate(data)
    assert len({r["run_id"] for r in recs}) == len(recs)
    assert {r["sweep_id"] for r in recs} == {"platform-00007"}
    assert {r["ranks"] for r in recs} == {5 * s for s in SCALES}
    # deterministic: the same call gives the same records
    assert recs == list(synthetic.sweep(7, scales=SCALES))
    assert synthetic.PER_SWEEP == 100  # the benchmark's shape: 1,000 sweeps make 100,000


def test_many_sweeps_push_once_then_nothing(tmp_path, store_url):
    synthetic.write(tmp_path, 3, scales=SCALES)
    results = do_push(store_url, tmp_path)
    assert [(r.sweep_id, r.new_runs) for r in results] == [
        (f"platform-{k:05d}", 60) for k in range(3)]
    assert all(r.kpi_rows > 0 for r in results)
    before = counts(store_url)
    assert before["runs"] == 180 and before["sweeps"] == 3
    again = do_push(store_url, tmp_path)
    assert [r.new_runs for r in again] == [0, 0, 0]
    assert counts(store_url) == before


def test_a_sweep_pushed_in_parts_ends_as_pushed_whole(tmp_path, store_url):
    """Half the runs of each sweep, then all: the store ends as one push of all (on SQLite)
    leaves it, row for row."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    synthetic.write(whole, 2, scales=SCALES)
    reference = f"sqlite:///{tmp_path / 'whole.sqlite'}"
    do_push(reference, whole)
    for directory in sorted(whole.iterdir()):
        (parts / directory.name).mkdir(parents=True)
        for f in sorted(directory.glob("*.json"))[::2]:
            (parts / directory.name / f.name).write_bytes(f.read_bytes())
    first = do_push(store_url, parts)
    assert [r.new_runs for r in first] == [30, 30]
    grown = do_push(store_url, whole)
    assert [(r.new_runs, r.runs) for r in grown] == [(30, 60), (30, 60)]
    for t in (schema.kpi, schema.alerts, schema.kpi_latest, schema.runs):
        ignore = ("id", "pushed_at", "raised_at")
        assert table(store_url, t, ignore) == table(reference, t, ignore), t.name


def _ranked_again(url):
    """kpi_latest after ranking the whole history again."""
    store = engine.create(url)
    try:
        with engine.connect(store, write=True) as conn:
            groups = {tuple(g) for g in conn.execute(sa.select(
                *(schema.kpi.c[c] for c in latest.GROUP)).distinct())}
            for (machine,) in conn.execute(sa.select(schema.sweeps.c.machine).distinct()).all():
                latest.refresh(conn, machine, groups)
    finally:
        store.dispose()
    return table(url, schema.kpi_latest)


def test_latest_of_new_sweeps_in_any_order_equals_a_full_ranking(tmp_path, store_url):
    """Sweeps pushed out of time order (older than the latest, older than the previous), two
    of them measured at the same time (a tie broken by sweep id): after every push, kpi_latest
    as the push left it equals kpi_latest ranked again over the whole history."""
    same_time = next(synthetic.sweep(3, scales=(1,), runs=1))["created_at"]
    for k in (1, 0, 5, 3, 2, 4):
        recs = list(synthetic.sweep(k, scales=SCALES, runs=1))
        for r in recs:
            if k == 4:
                r["created_at"] = same_time
            directory = tmp_path / str(k) / r["sweep_id"]
            directory.mkdir(parents=True, exist_ok=True)
            (directory / f"{r['run_id']}.json").write_text(json.dumps(r))
        do_push(store_url, tmp_path / str(k))
        kept = table(store_url, schema.kpi_latest)
        assert kept and kept == _ranked_again(store_url), f"after sweep {k}"
    final = {(dict(r)["sweep_id"], dict(r)["previous_sweep_id"]) for r in kept}
    assert final == {("platform-00005", "platform-00004")}


def test_a_nan_in_a_record_is_stored_as_null(tmp_path, store_url):
    rec = make_record("s1", 1, 1.0, work={"residual": math.nan, "cells": 4})
    records.write(tmp_path, rec)
    storetools.write_sweep(tmp_path, "s1")
    do_push(store_url, tmp_path / "s1")
    store = engine.create(store_url)
    try:
        with engine.connect(store) as conn:
            stored = conn.execute(sa.select(schema.runs.c.record).where(
                schema.runs.c.run_id == rec.run_id)).scalar_one()
    finally:
        store.dispose()
    assert stored["work"] == {"residual": None, "cells": 4}
