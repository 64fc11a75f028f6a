"""KPI store: push is idempotent, atomic per sweep, safe from two processes, and schema-checked.

Every test runs on SQLite (a file in tmp_path) and on PostgreSQL (a new database on the server
named by HARNESS_TEST_POSTGRES_URL; skipped with the reason when there is none).
"""

from __future__ import annotations

import errno
import fcntl
import multiprocessing
import shutil
import time

import pytest
import sqlalchemy as sa
import storetools
from storetools import counts, make_record, write_sweep

from harness import records, targets
from harness.errors import DataError, RecordError, StoreError
from harness.store import engine, migrate, push, schema

TABLE = targets.defaults()
store_url = storetools.store_url  # the fixture: a fresh SQLite file, and PostgreSQL database


def do_push(url, *paths, **kwargs):
    store = engine.create(url)
    try:
        return push.push(store, paths, TABLE, **kwargs)
    finally:
        store.dispose()


def select(url, query):
    store = engine.create(url)
    try:
        with engine.connect(store) as conn:
            return conn.execute(query).all()
    finally:
        store.dispose()


def test_push_stores_runs_kpis_and_alerts(tmp_path, store_url):
    sweep = write_sweep(tmp_path / "res")
    [result] = do_push(store_url, sweep)
    assert (result.sweep_id, result.runs, result.new_runs) == ("s1", 4, 4)
    n = counts(store_url)
    assert (n["sweeps"], n["runs"]) == (1, 4)
    assert n["kpi"] == result.kpi_rows and n["alerts"] == result.alert_rows
    eff = dict(select(store_url, sa.select(schema.kpi.c.cores, schema.kpi.c.value).where(
        schema.kpi.c.metric == "parallel_efficiency", schema.kpi.c.kind == "measured")))
    # E = T(1) / (p T(p)) on the medians written by write_sweep
    assert eff == pytest.approx({1: 1.0, 2: 1 / (2 * 0.55), 4: 1 / (4 * 0.30), 8: 1 / (8 * 0.18)})
    predicted = select(store_url, sa.select(schema.kpi.c.scale, schema.kpi.c.extrapolation)
                       .where(schema.kpi.c.kind == "predicted").order_by(schema.kpi.c.scale))
    # only scales not measured are predicted, each with its distance from the largest measured
    assert [s for s, _ in predicted] == [10, 50, 100, 500]
    assert [x for _, x in predicted] == pytest.approx([10 / 8, 50 / 8, 100 / 8, 500 / 8])
    metrics = {m for (m,) in select(store_url, sa.select(schema.kpi.c.metric).distinct())}
    assert metrics == set(schema.METRICS)
    # E(8) = 0.694 < 0.70: one measured P2 alert
    measured_alerts = select(store_url, sa.select(schema.alerts.c.cores).where(
        ~schema.alerts.c.predicted))
    assert measured_alerts == [(8,)]


def test_second_push_adds_nothing(tmp_path, store_url):
    sweep = write_sweep(tmp_path / "res")
    do_push(store_url, sweep)
    before = counts(store_url)
    [again] = do_push(store_url, sweep)
    assert again.new_runs == 0 and again.kpi_rows == 0
    assert counts(store_url) == before
    assert "0 new" in push.summary([again], store_url)


def test_sweep_that_gained_runs_adds_only_those(tmp_path, store_url):
    out = tmp_path / "res"
    sweep = write_sweep(out, times={1: 1.0, 2: 0.55, 4: 0.30})
    do_push(store_url, sweep)
    added = records.write(out, make_record("s1", 8, 0.18))
    [result] = do_push(store_url, added)  # only the new record named: the rest is stored
    assert (result.new_runs, result.runs) == (1, 4)
    cores = sorted(c for (c,) in select(store_url, sa.select(schema.kpi.c.cores).where(
        schema.kpi.c.metric == "parallel_efficiency", schema.kpi.c.kind == "measured")))
    assert cores == [1, 2, 4, 8]  # recomputed from all four runs, none twice
    assert counts(store_url)["runs"] == 4


def test_failed_push_leaves_the_store_as_it_was(tmp_path, store_url):
    do_push(store_url, write_sweep(tmp_path / "res", "s0"))
    before = counts(store_url)
    second = write_sweep(tmp_path / "res", "s1")

    def fail_after_kpi(stage):
        if stage == "kpi":
            raise RuntimeError("injected failure after the KPI rows")

    with pytest.raises(RuntimeError, match="injected"):
        do_push(store_url, second, checkpoint=fail_after_kpi)
    assert counts(store_url) == before
    [result] = do_push(store_url, second)  # a later push catches up
    assert result.new_runs == 4


def test_bad_input_writes_nothing(tmp_path, store_url):
    out = tmp_path / "res"
    good = write_sweep(out, "s1")
    bad = out / "s2"
    bad.mkdir()
    (bad / "cfd-strong-p1-x.json").write_text('{"schema": "harness.run/1", "run_id": 3}')
    with pytest.raises(RecordError):
        do_push(store_url, good, bad)
    assert counts(store_url)["runs"] in (-1, 0)
    csv = tmp_path / "x.csv"
    csv.write_text("workload,mode,cores,seconds\ncfd,strong,1,1.0\n")
    with pytest.raises(DataError, match="reads run records"):
        do_push(store_url, good, csv)
    assert counts(store_url)["runs"] in (-1, 0)
    with pytest.raises(DataError, match="no such file"):
        do_push(store_url, tmp_path / "missing")


def test_labels_are_stored_verbatim(tmp_path, store_url):
    label = "x'); DROP TABLE runs; --\"q"
    do_push(store_url, write_sweep(tmp_path / "res", variant=label))
    stored = {v for (v,) in select(store_url, sa.select(schema.runs.c.variant))}
    assert stored == {label}
    assert counts(store_url)["runs"] == 4


def test_failed_runs_are_stored_but_never_in_a_kpi(tmp_path, store_url):
    out = tmp_path / "res"
    sweep = write_sweep(out)
    records.write(out, make_record("s1", 16, status="failed", seconds=[],
                                   verification=None, error="rank 3 died"))
    [result] = do_push(store_url, sweep)
    assert result.new_runs == 5
    assert select(store_url, sa.select(schema.runs.c.status).where(
        schema.runs.c.cores == 16)) == [("failed",)]
    assert select(store_url, sa.select(schema.kpi.c.id).where(
        schema.kpi.c.cores == 16, schema.kpi.c.kind == "measured")) == []


# -- two pushes at once ---------------------------------------------------------------------------


def _push_in_child(url, path, started, holding, release, errors):
    def hold(stage):
        if holding is not None and stage == "runs":
            holding.set()
            release.wait(30)  # keep the write transaction open until the peer has started

    started.set()
    try:
        do_push(url, path, checkpoint=hold)
    except Exception as e:  # reported to the parent, which fails the test
        errors.put(f"{type(e).__name__}: {e}")


def test_two_processes_push_at_once(tmp_path, store_url):
    """Process A holds the write transaction open; B starts its push meanwhile. Both succeed
    (B waits for the lock instead of failing with "database is locked") and both sweeps are
    stored whole. Also the first use of an empty store, so schema creation races too."""
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    a_started, b_started = ctx.Event(), ctx.Event()
    holding, release = ctx.Event(), ctx.Event()
    sweep_a = write_sweep(tmp_path / "res", "sa")
    sweep_b = write_sweep(tmp_path / "res", "sb")
    a = ctx.Process(target=_push_in_child,
                    args=(store_url, sweep_a, a_started, holding, release, errors))
    a.start()
    assert holding.wait(60), "process A never reached its write transaction"
    b = ctx.Process(target=_push_in_child,
                    args=(store_url, sweep_b, b_started, None, None, errors))
    b.start()
    assert b_started.wait(60)
    time.sleep(1.0)  # let B reach the lock while A holds it (no timing is asserted)
    release.set()
    a.join(120)
    b.join(120)
    problems = [errors.get() for _ in range(errors.qsize())] if not errors.empty() else []
    assert problems == [] and a.exitcode == 0 and b.exitcode == 0
    n = counts(store_url)
    assert (n["sweeps"], n["runs"]) == (2, 8)
    assert {s for (s,) in select(store_url, sa.select(schema.kpi.c.sweep_id).distinct())} == \
        {"sa", "sb"}


def test_same_sweep_from_two_processes_is_stored_once(tmp_path, store_url):
    ctx = multiprocessing.get_context("fork")
    errors = ctx.Queue()
    sweep = write_sweep(tmp_path / "res")
    events = [(ctx.Event(), None, None) for _ in range(2)]
    procs = [ctx.Process(target=_push_in_child, args=(store_url, sweep, *ev, errors))
             for ev in events]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert errors.empty() and [p.exitcode for p in procs] == [0, 0]
    assert counts(store_url)["runs"] == 4


# -- schema versions ------------------------------------------------------------------------------


def _stamp(url, revision):
    store = sa.create_engine(url)
    with store.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": revision})
    store.dispose()


def test_newer_schema_is_refused_and_left_alone(tmp_path, store_url):
    do_push(store_url, write_sweep(tmp_path / "res", "s0"))
    _stamp(store_url, "9999")
    before = counts(store_url)
    with pytest.raises(StoreError, match="schema version 9999 is newer"):
        do_push(store_url, write_sweep(tmp_path / "res", "s1"))
    store = engine.create(store_url)
    with pytest.raises(StoreError, match="newer"):
        migrate.upgrade(store)
    store.dispose()
    assert counts(store_url) == before


NEXT = '''"""Test revision: one more index."""
from alembic import op

revision = "9001"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_runs_workload", "runs", ["workload"])


def downgrade():
    op.drop_index("ix_runs_workload", "runs")
'''


def test_older_schema_is_refused_until_migrated(tmp_path, store_url):
    """A store at the newest revision under a harness that has one more (a copy of the
    migrations plus 9001): refused with what to run; `upgrade` (harness kpi migrate) brings it
    to 9001."""
    do_push(store_url, write_sweep(tmp_path / "res", "s0"))
    scripts = tmp_path / "migrations"
    shutil.copytree(migrate.SCRIPTS, scripts,
                    ignore=shutil.ignore_patterns("__pycache__"))
    head = migrate.head()
    (scripts / "versions" / "9001_more.py").write_text(NEXT.format(head=head))
    store = engine.create(store_url)
    try:
        assert migrate.head(scripts) == "9001"
        before = counts(store_url)
        with pytest.raises(StoreError, match=rf"{head} is older.*`harness kpi migrate"):
            migrate.ensure(store, scripts)
        assert counts(store_url) == before
        assert migrate.upgrade(store, scripts) == (head, "9001")
        assert migrate.ensure(store, scripts) == "9001"
        assert migrate.upgrade(store, scripts) == ("9001", "9001")
        with engine.connect(store) as conn:
            indexes = {ix["name"] for ix in sa.inspect(conn).get_indexes("runs")}
        assert "ix_runs_workload" in indexes
    finally:
        store.dispose()


def test_tables_not_made_by_the_harness_are_refused(store_url):
    store = sa.create_engine(store_url)
    with store.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (x INTEGER)"))
    store.dispose()
    store = engine.create(store_url)
    with pytest.raises(StoreError, match="no schema version"):
        migrate.ensure(store)
    store.dispose()


def test_unreachable_store_masks_the_password():
    store = engine.create("postgresql+psycopg://kpi:s3cret-pw@127.0.0.1:9/kpi")
    with pytest.raises(StoreError) as caught:
        migrate.ensure(store)
    assert "s3cret-pw" not in str(caught.value)
    assert "kpi:***@127.0.0.1:9/kpi" in str(caught.value)


@pytest.mark.parametrize(("url", "needle"), [
    ("mysql://u@h/db", "runs on SQLite or PostgreSQL"),
    ("not a url", "not a database URL"),
])
def test_bad_urls(url, needle):
    with pytest.raises(StoreError, match=needle):
        engine.create(url)


def test_default_url_and_environment(monkeypatch):
    monkeypatch.delenv("HARNESS_STORE", raising=False)
    assert engine.resolve(None) == "sqlite:///results/kpi.sqlite"
    monkeypatch.setenv("HARNESS_STORE", "sqlite:///elsewhere.sqlite")
    assert engine.resolve(None) == "sqlite:///elsewhere.sqlite"
    assert engine.resolve("sqlite:///given.sqlite") == "sqlite:///given.sqlite"
    assert engine.masked("postgresql+psycopg://a:b@h/d") == "postgresql+psycopg://a:***@h/d"


def test_file_system_without_locks_is_refused(tmp_path, monkeypatch):
    """Where lockf fails as on NFS without a lock daemon (ENOLCK), the store is refused up
    front rather than left to hang or corrupt; a lock held by someone else is no such failure."""
    def no_locks(fd, op, *args):
        raise OSError(errno.ENOLCK, "No locks available")

    monkeypatch.setattr(fcntl, "lockf", no_locks)
    with pytest.raises(StoreError, match="does not support file locks"):
        engine.create(f"sqlite:///{tmp_path / 'kpi.sqlite'}")
    assert list(tmp_path.iterdir()) == []

    def busy(fd, op, *args):
        raise OSError(errno.EAGAIN, "Resource temporarily unavailable")

    monkeypatch.setattr(fcntl, "lockf", busy)
    engine.create(f"sqlite:///{tmp_path / 'kpi.sqlite'}").dispose()
