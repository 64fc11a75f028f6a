"""A sweep's prepared KPI rows (kpi.json): a push uses them only when they are exactly what it
would compute, and then stores the same rows as a push that analyzes.

Every push test runs on SQLite and on PostgreSQL (skipped with the reason when there is none).
"""

from __future__ import annotations

import gc
import json
import shutil

import pytest
import sqlalchemy as sa
import storetools
from storetools import make_record, write_sweep

from harness import inputs, records, sweepstate, targets
from harness.errors import DataError, StoreError
from harness.store import engine, prepared, push, schema

TABLE = targets.defaults()
store_url = storetools.store_url  # the fixture: a fresh SQLite file, and PostgreSQL database


def do_push(url, *paths, table=TABLE):
    store = engine.create(url)
    try:
        return push.push(store, paths, table)
    finally:
        store.dispose()


def tables(url):
    """Every row of the tables a push writes, without surrogate ids and push times, sorted."""
    store = engine.create(url)
    out = {}
    try:
        with engine.connect(store) as conn:
            for table in (schema.kpi, schema.alerts, schema.kpi_latest):
                cols = [c for c in table.c if c.name not in ("id", "pushed_at")]
                out[table.name] = sorted(conn.execute(sa.select(*cols)).all(), key=repr)
    finally:
        store.dispose()
    return out


@pytest.fixture
def analyses(monkeypatch):
    """How many sweeps the push analyzed itself."""
    calls = []
    real = push.analyze

    def counted(recs, table):
        calls.append(1)
        return real(recs, table)

    monkeypatch.setattr(push, "analyze", counted)
    return calls


def fresh_store(tmp_path, store_url, name):
    """A second store of the same backend as ``store_url``."""
    if store_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / name}"
    return store_url  # PostgreSQL: the caller empties it between pushes


def reference_tables(tmp_path, *sweeps):
    """The tables a push that analyzes (no kpi.json) writes for copies of ``sweeps``."""
    copies = []
    for k, sweep in enumerate(sweeps):
        copy = tmp_path / f"copy{k}" / sweep.name
        shutil.copytree(sweep, copy)
        (copy / prepared.FILENAME).unlink(missing_ok=True)
        copies.append(copy)
    url = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    results = do_push(url, *copies)
    assert not any(r.prepared for r in results)
    return tables(url)


def test_prepared_rows_are_the_rows_a_push_computes(tmp_path, store_url, analyses):
    a = write_sweep(tmp_path / "res", "s1")
    b = write_sweep(tmp_path / "res", "s2", times={1: 1.0, 2: 0.7, 4: 0.5, 8: 0.45})
    written = push.prepare([tmp_path / "res"], TABLE)
    assert written == [a / "kpi.json", b / "kpi.json"]
    prepared_calls = len(analyses)
    results = do_push(store_url, tmp_path / "res")
    assert len(analyses) == prepared_calls  # the push analyzed nothing
    assert [r.prepared for r in results] == [True, True]
    assert all(r.kpi_rows > 0 for r in results) and results[1].alert_rows > 0
    assert "(prepared in kpi.json)" in push.summary(results, "u")
    assert tables(store_url) == reference_tables(tmp_path, a, b)


def _rewrite(path, **fields):
    data = json.loads(path.read_text())
    data.update(fields)
    path.write_text(json.dumps(data))


def _doc(sweep):
    return json.loads((sweep / prepared.FILENAME).read_text())


def _edit_row(sweep, table, drop=None, **fields):
    doc = _doc(sweep)
    entry = doc["sweeps"]["s1"]
    row = next(r for r in entry[table] if r.get("metric", "parallel_efficiency")
               == "parallel_efficiency" and r.get("cores", 0) > 1)
    row.update(fields)
    if drop:
        row.pop(drop)
    (sweep / prepared.FILENAME).write_text(json.dumps(doc))


def _record_files(sweep):
    return sorted(p for p in sweep.glob("*.json") if p.name != prepared.FILENAME)


STALE = {
    "a record rewritten": lambda sweep, tmp: _rewrite(_record_files(sweep)[1],
                                                      seconds=[0.9, 0.91, 0.92]),
    "a record added": lambda sweep, tmp: records.write(sweep.parent,
                                                       make_record("s1", 16, 0.12)),
    "a record removed": lambda sweep, tmp: _record_files(sweep)[-1].unlink(),
    "another sweep's document": lambda sweep, tmp: shutil.copy(
        write_sweep(tmp / "other", "s1b") and push.prepare([tmp / "other"], TABLE)[0],
        sweep / prepared.FILENAME),
    "a document that is not JSON": lambda sweep, tmp: (sweep / "kpi.json").write_text("{"),
    "a document of another kind": lambda sweep, tmp: (sweep / "kpi.json").write_text(
        json.dumps({"schema": "harness.analysis/1"})),
    "a value edited": lambda sweep, tmp: _edit_row(sweep, "kpi", value=0.99),
    "a value that is text": lambda sweep, tmp: _edit_row(sweep, "kpi", value="x"),
    "a row without its value": lambda sweep, tmp: _edit_row(sweep, "kpi", value=None,
                                                            drop="value"),
    "alerts emptied": lambda sweep, tmp: _rewrite(
        sweep / "kpi.json", sweeps={"s1": {**_doc(sweep)["sweeps"]["s1"], "alerts": []}}),
    "rows that are not rows": lambda sweep, tmp: _rewrite(
        sweep / "kpi.json", sweeps={"s1": {**_doc(sweep)["sweeps"]["s1"], "kpi": [1, 2]}}),
}


@pytest.mark.parametrize("change", list(STALE))
def test_stale_or_broken_documents_are_not_used(tmp_path, store_url, analyses, change):
    sweep = write_sweep(tmp_path / "res", "s1")
    push.prepare([sweep], TABLE)
    STALE[change](sweep, tmp_path)
    before = len(analyses)
    [result] = do_push(store_url, sweep)
    assert not result.prepared and len(analyses) == before + 1
    assert tables(store_url) == reference_tables(tmp_path, sweep)


def test_other_targets_or_other_code_are_not_used(tmp_path, analyses, monkeypatch):
    sweep = write_sweep(tmp_path / "res", "s1")
    push.prepare([sweep], TABLE)
    digests = {r.run_id: prepared.record_digest(p.read_bytes())
               for p in _record_files(sweep) for r in [records.load(p)]}
    assert prepared.find([sweep], "s1", digests, TABLE).usable
    other = targets.Targets(scales=(10.0,), efficiencies=(0.5,))
    found = prepared.find([sweep], "s1", digests, other)
    assert not found.usable and "other targets" in found.reason
    monkeypatch.setattr(prepared, "code_digest", lambda: "0" * 64)
    found = prepared.find([sweep], "s1", digests, TABLE)
    assert not found.usable and "other code" in found.reason
    assert not prepared.find([tmp_path], "s1", digests, TABLE).usable  # none there


def test_source_digest_follows_every_source_file(tmp_path):
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "sub" / "s.json").write_text("{}")
    (tmp_path / "pkg" / "notes.txt").write_text("not source")
    first = prepared.source_digest(tmp_path / "pkg")
    (tmp_path / "pkg" / "notes.txt").write_text("changed, still not source")
    assert prepared.source_digest(tmp_path / "pkg") == first
    (tmp_path / "pkg" / "sub" / "s.json").write_text('{"a": 1}')
    assert prepared.source_digest(tmp_path / "pkg") != first
    (tmp_path / "pkg" / "sub" / "s.json").write_text("{}")
    assert prepared.source_digest(tmp_path / "pkg") == first
    (tmp_path / "pkg" / "a.py").rename(tmp_path / "pkg" / "b.py")  # same bytes, other file
    assert prepared.source_digest(tmp_path / "pkg") != first


def test_a_part_of_a_prepared_sweep_is_analyzed(tmp_path, store_url, analyses):
    sweep = write_sweep(tmp_path / "res", "s1")
    push.prepare([sweep], TABLE)
    part = _record_files(sweep)[:3]
    before = len(analyses)
    [result] = do_push(store_url, *part)
    assert not result.prepared and len(analyses) == before + 1


def test_a_grown_sweep_uses_its_new_document(tmp_path, store_url, analyses):
    sweep = write_sweep(tmp_path / "res", "s1", times={1: 1.0, 2: 0.55, 4: 0.30})
    push.prepare([sweep], TABLE)
    do_push(store_url, sweep)
    records.write(tmp_path / "res", make_record("s1", 8, 0.18))
    push.prepare([sweep], TABLE)
    before = len(analyses)
    [result] = do_push(store_url, sweep)
    assert (result.new_runs, result.prepared, len(analyses)) == (1, True, before)
    assert tables(store_url) == reference_tables(tmp_path, sweep)


def test_readers_of_runs_skip_the_document(tmp_path):
    sweep = write_sweep(tmp_path / "res", "s1")
    push.prepare([sweep], TABLE)
    data = inputs.load([sweep])
    assert sorted(data.repetitions["cores"].unique()) == [1, 2, 4, 8]
    assert prepared.FILENAME in sweepstate.NOT_RECORDS
    doc = _doc(sweep)
    assert doc["schema"] == prepared.SCHEMA and len(doc["sweeps"]["s1"]["runs"]) == 4



def test_sweeps_sharing_a_directory_share_its_document(tmp_path, store_url, analyses):
    out = tmp_path / "res" / "s1"
    for sweep_id, times in (("s1", None), ("s2", {1: 1.0, 2: 0.7, 4: 0.5, 8: 0.45})):
        for ranks, median in (times or storetools.TIMES).items():
            rec = make_record(sweep_id, ranks, median)
            (out / rec.filename).parent.mkdir(parents=True, exist_ok=True)
            (out / rec.filename).write_text(json.dumps(rec.to_json_data()))
    assert push.prepare([out], TABLE) == [out / prepared.FILENAME]
    assert sorted(_doc(out)["sweeps"]) == ["s1", "s2"]
    before = len(analyses)
    results = do_push(store_url, out)
    assert [r.prepared for r in results] == [True, True] and len(analyses) == before
    # a record moved to another directory is the same record: the document still serves
    other = tmp_path / "elsewhere"
    other.mkdir()
    moved = next(p for p in sorted(out.glob("*-p8-*.json"))
                 if json.loads(p.read_text())["sweep_id"] == "s2")
    moved.rename(other / moved.name)
    s2 = next(e for e in push.collect([other, out]) if e.sweep_id == "s2")
    assert s2.directories == [other, out]  # the first without a document, the second with
    assert prepared.find(s2.directories, "s2", s2.digests, TABLE).usable


def test_a_push_leaves_the_garbage_collector_as_it_was(tmp_path):
    sweep = write_sweep(tmp_path / "res", "s1")
    url = f"sqlite:///{tmp_path / 'k.sqlite'}"
    state = (gc.isenabled(), gc.get_freeze_count())
    do_push(url, sweep)
    assert (gc.isenabled(), gc.get_freeze_count()) == state
    with pytest.raises(DataError):
        do_push(url, tmp_path / "nowhere")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(records.RecordError):
        do_push(url, tmp_path / "bad.json")
    with pytest.raises(StoreError):  # fails after the records are read and frozen
        do_push("postgresql+psycopg://u:secret@127.0.0.1:1/none", sweep)
    assert (gc.isenabled(), gc.get_freeze_count()) == state
    gc.disable()
    try:
        do_push(url, sweep)
        assert not gc.isenabled() and gc.get_freeze_count() == state[1]
    finally:
        gc.enable()


def test_prepare_takes_directories(tmp_path):
    sweep = write_sweep(tmp_path / "res", "s1")
    with pytest.raises(DataError, match="takes sweep directories"):
        push.prepare([_record_files(sweep)[0]], TABLE)
    assert not (sweep / prepared.FILENAME).exists()
