"""Helpers for the KPI store's tests: run records on disk, and one store URL per backend.

``store_url`` (a fixture, imported by the test modules) gives a fresh empty store: a SQLite file
in the test's temporary directory, and a new database on the PostgreSQL server named by
``HARNESS_TEST_POSTGRES_URL`` (``.ci/postgres.sh start`` prints it). Without that variable the
PostgreSQL cases skip with the reason; with ``HARNESS_REQUIRE_SERVICES=1`` they fail instead
(tests/conftest.py).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from harness import records

PASSED = {"passed": True, "method": "closed form", "checksum": {"sum": 1.0}, "error": 0.0,
          "tolerance": 1e-9}
PG_ENV = "HARNESS_TEST_POSTGRES_URL"
PG_HINT = ("set HARNESS_TEST_POSTGRES_URL to a PostgreSQL server's URL; for a private one here: "
           "eval \"$(bash .ci/postgres.sh start)\"")
#: an Amdahl-like study: ranks -> median seconds (serial fraction about 0.06)
TIMES = {1: 1.0, 2: 0.55, 4: 0.30, 8: 0.18}


def make_record(sweep_id: str = "s1", ranks: int = 1, median: float = 1.0, **fields
                ) -> records.RunRecord:
    """A valid ``ok`` record of the cfd workload; ``fields`` override anything."""
    base = {
        "run_id": records.new_run_id(), "sweep_id": sweep_id, "workload": "cfd",
        "variant": "blocking", "mode": "strong", "size": "tiny", "params": {}, "ranks": ranks,
        "status": "ok", "repetitions": 3,
        "seconds": [median, median * 1.02, median * 0.99],
        "phases": {"compute": {"min": 0.7 * median, "mean": 0.8 * median, "max": 0.9 * median},
                   "halo": {"min": 0.1 * ranks * median, "mean": 0.1 * ranks * median,
                            "max": 0.12 * ranks * median}},
        "verification": PASSED,
        "provenance": {"host": "box", "git_sha": "0123456789abcdef", "git_dirty": False,
                       "cpu_model": "Test CPU"},
        "fom": {"name": "cell updates/s", "unit": "cell updates/s", "value": 1e9},
    }
    base.update(fields)
    return records.RunRecord(**base)


def write_sweep(out: Path, sweep_id: str = "s1", times: dict[int, float] | None = None,
                **fields) -> Path:
    """Write one record per rank count of ``times`` under ``out/sweep_id``; the directory."""
    for ranks, median in (times or TIMES).items():
        records.write(out, make_record(sweep_id, ranks, median, **fields))
    return out / sweep_id


#: run-to-run factors: three runs per point, a 2 % spread
NOISE = (0.99, 1.0, 1.01)


def replicated_sweep(out, sweep_id, slow_at=None, factor=1.0, runs=NOISE, **fields):
    """Runs at 1, 2 and 4 ranks; the point at ``slow_at`` ranks takes ``factor`` times longer."""
    for ranks, t in {1: 1.0, 2: 0.55, 4: 0.30}.items():
        for noise in runs:
            scale = factor if ranks == slow_at else 1.0
            records.write(out, make_record(sweep_id, ranks, t * noise * scale, **fields))
    return out / sweep_id


def _pg_database(base_url: str) -> tuple[str, Callable[[], None]]:
    """A new database on the server of ``base_url``; (its URL, a function that drops it)."""
    name = f"harness_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return url, drop


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store_url(request, tmp_path):
    """A fresh, empty store URL: SQLite in tmp_path, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'kpi.sqlite'}"
        return
    base = os.environ.get(PG_ENV)
    if not base:
        pytest.skip(f"no PostgreSQL server: {PG_HINT}")
    url, drop = _pg_database(base)
    try:
        yield url
    finally:
        drop()


def counts(url: str) -> dict[str, int]:
    """Rows per table of the store at ``url`` (absent tables count -1)."""
    engine = sa.create_engine(url)
    out = {}
    try:
        with engine.connect() as conn:
            names = set(sa.inspect(conn).get_table_names())
            for table in ("sweeps", "runs", "kpi", "alerts", "alembic_version"):
                out[table] = (conn.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one()
                              if table in names else -1)
    finally:
        engine.dispose()
    return out
