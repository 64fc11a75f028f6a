"""bulk.insert stores on SQLite exactly what sa.insert stores: the same values of the same
SQLite types, for every table a push writes, from rows of a real push."""

from __future__ import annotations

import math
import sqlite3

import pytest
import sqlalchemy as sa
from storetools import write_sweep

from harness import targets
from harness.store import bulk, engine, migrate, push, rows, schema

TABLES = (schema.sweeps, schema.runs, schema.kpi, schema.alerts)


def _rows_of_a_push(tmp_path):
    sweep = write_sweep(tmp_path / "res", "s1", times={1: 1.0, 2: 0.7, 4: 0.5, 8: 0.45})
    [entry] = push.collect([sweep])
    result = push.analyze(push._given(entry), targets.defaults())
    at = "2026-11-30T00:00:00+00:00"
    runs = [rows.run_row(r, d) for r, d in zip(entry.records, entry.raw, strict=True)]
    runs[0]["record"] = {**runs[0]["record"], "extra": [math.nan, None, True, 2**70]}
    runs[1] = dict(reversed(list(runs[1].items())))  # another key order
    kpi = rows.kpi_rows(result, "s1", at)
    alerts = rows.alert_rows(result, "s1", at)
    assert kpi and alerts
    return {"sweeps": [rows.sweep_row("s1", entry.records, "spec 'x'", at)], "runs": runs,
            "kpi": kpi, "alerts": alerts}


def _dump(path):
    db = sqlite3.connect(path)
    try:
        out = {}
        for table in TABLES:
            cols = [c.name for c in table.c]
            typed = ", ".join(f"{c}, typeof({c})" for c in cols)
            out[table.name] = sorted(db.execute(f"SELECT {typed} FROM {table.name}").fetchall(),
                                     key=repr)
        return out
    finally:
        db.close()


def test_bulk_insert_stores_what_sqlalchemy_stores(tmp_path):
    data = _rows_of_a_push(tmp_path)
    dumps = []
    for name, insert in (("a", bulk.insert),
                         ("b", lambda conn, table, rs: conn.execute(sa.insert(table), rs))):
        url = f"sqlite:///{tmp_path / name}.sqlite"
        store = engine.create(url)
        migrate.ensure(store)
        with engine.connect(store, write=True) as conn:
            for table in TABLES:
                insert(conn, table, data[table.name])
        store.dispose()
        dumps.append(_dump(tmp_path / f"{name}.sqlite"))
    assert dumps[0] == dumps[1]
    assert all(dumps[0][t.name] for t in TABLES)


def test_rows_with_other_keys_go_through_sqlalchemy(tmp_path):
    """Rows whose keys differ are SQLAlchemy's to judge, as before: it wants every key."""
    store = engine.create(f"sqlite:///{tmp_path / 'k.sqlite'}")
    migrate.ensure(store)
    data = _rows_of_a_push(tmp_path)
    mixed = [data["kpi"][0], {k: v for k, v in data["kpi"][1].items() if k != "model"}]
    with engine.connect(store, write=True) as conn:
        bulk.insert(conn, schema.sweeps, data["sweeps"])
        with pytest.raises(sa.exc.StatementError, match="bind parameter 'model'"):
            bulk.insert(conn, schema.kpi, mixed)
    store.dispose()
