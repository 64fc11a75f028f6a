"""``harness kpi push``: run records and their analysis into the store, one transaction per sweep.

First every input is read and validated, once: its JSON, :func:`harness.records.validate` and
the record's JSON Schema (:func:`harness.record_schema.validate`); the records read are what the
analyzer gets (:func:`harness.inputs.from_records`) and what the ``runs`` rows hold. Every sweep
with runs not yet stored is analyzed before any row is written (bad input: no row is written),
unless its ``kpi.json`` holds the rows of exactly these records' analysis by this code and
targets (:mod:`harness.store.prepared`: written by the sweep's analysis step, or by
:func:`prepare`); then those rows are used.
Then, per sweep, one write transaction: the runs not yet stored are added; when there were any,
the sweep's KPI and alert rows are replaced by the analysis of all its runs (those pushed now and
those stored before) and its series in ``kpi_latest`` are recomputed; when there were none,
nothing changes ("0 new"). A failure inside a sweep's transaction rolls that sweep back whole;
sweeps committed before it stay.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from harness import analysis, inputs, records
from harness.errors import DataError
from harness.store import bulk, latest, migrate, prepared, rows
from harness.store import engine as store_engine
from harness.store.collect import SweepInput, collect
from harness.store.schema import alerts, kpi, runs, sweeps
from harness.targets import Targets


@dataclass
class PushResult:
    """What one sweep's push changed: new runs, KPI and alert rows written (0 when unchanged)."""

    sweep_id: str
    runs: int
    new_runs: int
    kpi_rows: int
    alert_rows: int
    #: the KPI and alert rows came from the sweep's ``kpi.json`` (not analyzed again)
    prepared: bool = False


def analyze(recs: Iterable[tuple[records.RunRecord, str]], table: Targets
            ) -> analysis.Analysis | None:
    """The analysis of ``(record, source)`` pairs already validated (see
    :func:`harness.inputs.from_records`), or None when none of them can enter an efficiency
    (all failed, unverified or oversubscribed)."""
    try:
        data = inputs.from_records(recs)
    except DataError as e:
        if str(e).startswith("nothing to analyze"):
            return None
        raise
    return analysis.analyze(data.repetitions, table)


def _given(entry: SweepInput) -> list[tuple[records.RunRecord, str]]:
    return [(rec, str(path)) for rec, path in zip(entry.records, entry.paths, strict=True)]


def _analyze_with_stored(conn: sa.Connection, entry: SweepInput, stored: set[str],
                         table: Targets) -> analysis.Analysis | None:
    """Re-analyze a sweep with the runs stored earlier that this push did not name."""
    given = {r.run_id for r in entry.records}
    missing = stored - given
    if not missing:
        return entry.result if entry.result is not None else analyze(_given(entry), table)
    result = conn.execute(sa.select(runs.c.run_id, runs.c.record)
                          .where(runs.c.run_id.in_(sorted(missing))).order_by(runs.c.run_id))
    recs = _given(entry)
    for run_id, data in result:
        source = f"run {run_id} (store)"
        recs.append((records.from_json(data, source), source))
    return analyze(recs, table)


def _measured_at(recs: list[records.RunRecord]) -> str:
    return max(rows.timestamp(r.created_at) for r in recs)


def _analysis_rows(result: analysis.Analysis | None, sweep_id: str, measured_at: str
                   ) -> tuple[list[dict], list[dict]]:
    return (rows.kpi_rows(result, sweep_id, measured_at),
            rows.alert_rows(result, sweep_id, measured_at))


def _push_one(conn: sa.Connection, entry: SweepInput, table: Targets, pushed_at: str,
              checkpoint: Callable[[str], None]) -> PushResult:
    machine = conn.execute(sa.select(sweeps.c.machine).where(
        sweeps.c.sweep_id == entry.sweep_id)).scalar_one_or_none()
    new_sweep = machine is None  # then no run, kpi or alert row can name it (foreign keys)
    stored: set[str] = set()
    if not new_sweep:
        stored = set(conn.execute(sa.select(runs.c.run_id)
                                  .where(runs.c.sweep_id == entry.sweep_id)).scalars())
    fresh = [(r, d) for r, d in zip(entry.records, entry.raw, strict=True)
             if r.run_id not in stored]
    if not fresh:
        return PushResult(entry.sweep_id, len(stored), 0, 0, 0)
    if new_sweep:
        row = rows.sweep_row(entry.sweep_id, entry.records, entry.spec_name, pushed_at)
        conn.execute(sa.insert(sweeps), [row])
        machine = row["machine"]
    bulk.insert(conn, runs, [rows.run_row(r, d) for r, d in fresh])
    checkpoint("runs")
    ready = entry.prepared
    used = ready is not None and ready.usable and stored <= entry.digests.keys()
    if used:
        kpi_rows, alert_rows = ready.kpi, ready.alerts
    else:
        result = _analyze_with_stored(conn, entry, stored, table)
        kpi_rows, alert_rows = _analysis_rows(result, entry.sweep_id,
                                              _measured_at(entry.records))
    touched = set()
    if not new_sweep:
        touched = latest.groups_of(conn, entry.sweep_id)
        conn.execute(sa.delete(kpi).where(kpi.c.sweep_id == entry.sweep_id))
        conn.execute(sa.delete(alerts).where(alerts.c.sweep_id == entry.sweep_id))
    bulk.insert(conn, kpi, kpi_rows)
    if touched:  # rows replaced: rank the history again
        latest.refresh(conn, machine, touched | latest.groups_of(conn, entry.sweep_id))
    else:  # rows only added
        latest.add(conn, machine, entry.sweep_id, kpi_rows)
    checkpoint("kpi")
    bulk.insert(conn, alerts, alert_rows)
    return PushResult(entry.sweep_id, len(stored) + len(fresh), len(fresh), len(kpi_rows),
                      len(alert_rows), prepared=used)


def _no_checkpoint(stage: str) -> None:
    return None


def push(engine: sa.Engine, paths: Iterable[str | os.PathLike[str]], table: Targets,
         checkpoint: Callable[[str], None] = _no_checkpoint) -> list[PushResult]:
    """Push the records under ``paths`` and their analysis into the store (see the module doc).

    ``checkpoint(stage)`` is called inside each sweep's transaction after its runs and after its
    KPI rows are written (tests use it to fail a push midway).

    Raises
    ------
    DataError, RecordError
        Bad input, before any row is written (an empty store may have been given its schema).
    StoreError
        The store cannot be reached, is of another schema version, or a write failed (that
        sweep's transaction is rolled back).
    """
    found = collect(paths)
    if gc.get_freeze_count():  # someone froze objects before: leave that state alone
        return _push_all(engine, found, table, checkpoint)
    gc.freeze()  # the records read: no collection needs to walk them again (a sixth of a push)
    try:
        return _push_all(engine, found, table, checkpoint)
    finally:
        gc.unfreeze()


def _push_all(engine: sa.Engine, found: list[SweepInput], table: Targets,
              checkpoint: Callable[[str], None]) -> list[PushResult]:
    migrate.ensure(engine)
    with store_engine.connect(engine) as conn:  # sweeps stored whole need no analysis
        ids = [entry.sweep_id for entry in found]
        stored = set(conn.execute(sa.select(runs.c.run_id)
                                  .where(runs.c.sweep_id.in_(ids))).scalars())
    for entry in found:
        if any(r.run_id not in stored for r in entry.records):
            entry.prepared = prepared.find(entry.directories, entry.sweep_id, entry.digests,
                                           table)
            if not entry.prepared.usable:
                entry.result = analyze(_given(entry), table)
    pushed_at = rows.timestamp(None)
    results = []
    for entry in found:
        with store_engine.connect(engine, write=True) as conn:
            results.append(_push_one(conn, entry, table, pushed_at, checkpoint))
    return results


def prepare(paths: Iterable[str | os.PathLike[str]], table: Targets) -> list[Path]:
    """Analyze each sweep under ``paths`` and write its rows to ``kpi.json``
    (:mod:`harness.store.prepared`) in the directory of its first record, one document per
    directory (holding each sweep whose first record is there); the paths written.

    Raises
    ------
    DataError, RecordError
        Bad input (as :func:`push`; a path that is a file), before anything is written.
    OSError
        A sweep's directory cannot be written.
    """
    paths = list(paths)
    for path in map(Path, paths):
        if path.exists() and not path.is_dir():
            raise DataError(f"{path}: `harness kpi prepare` takes sweep directories (it writes "
                            "the rows of every sweep there to their kpi.json), not files")
    found = collect(paths)
    by_directory: dict[Path, list[tuple[str, dict[str, str], list[dict], list[dict]]]] = {}
    for entry in found:  # sweeps whose first record shares a directory share its document
        kpi_rows, alert_rows = _analysis_rows(analyze(_given(entry), table), entry.sweep_id,
                                              _measured_at(entry.records))
        by_directory.setdefault(entry.directories[0], []).append(
            (entry.sweep_id, entry.digests, kpi_rows, alert_rows))
    return [prepared.write(directory, prepared.document(sweeps, table))
            for directory, sweeps in by_directory.items()]


def summary(results: list[PushResult], url: str) -> str:
    """One line per sweep and a total, as ``harness kpi push`` prints them."""
    lines = []
    for r in results:
        if r.new_runs:
            source = " (prepared in kpi.json)" if r.prepared else ""
            lines.append(f"{r.sweep_id}: {r.new_runs} new run(s) of {r.runs}; {r.kpi_rows} KPI "
                         f"row(s), {r.alert_rows} alert(s){source}")
        else:
            lines.append(f"{r.sweep_id}: 0 new ({r.runs} run(s) already stored)")
    total = sum(r.new_runs for r in results)
    lines.append(f"{total} new run(s) pushed to {url}" if total else f"0 new: {url} already "
                 "holds every run")
    return "\n".join(lines)

