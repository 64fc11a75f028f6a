"""Keeping ``kpi_latest`` current: the latest and previous efficiency of every series.

After a push writes a sweep's kpi rows, :func:`refresh` recomputes, inside the same
transaction, the ``kpi_latest`` rows of the series that sweep touches (its groups on its
machine): the two latest kpi rows of each series by ``measured_at`` (then sweep id), so pushes
in any order, and re-pushes of a sweep that gained runs, leave the same table as a ranking of
the whole history would.

A sweep pushed for the first time only adds kpi rows: :func:`add` folds its rows into the
current table instead (each series' two latest are among its current two and the sweep's row),
reading only the sweep's rows and the groups' ``kpi_latest`` rows, so a push costs the same
however long the history; where a sweep's row and a current one were measured at the same
second (their order then rests on the database's ordering of sweep ids) it ranks the whole
history as :func:`refresh` does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from harness.store import bulk
from harness.store.schema import SERIES, kpi, kpi_latest, sweeps

METRIC = "parallel_efficiency"
GROUP = ("workload", "mode", "variant", "problem")
LATEST = ("cores", "value", "interval_low", "interval_high", "target", "status", "model",
          "extrapolation", "bottleneck", "sweep_id", "measured_at")


def groups_of(conn: sa.Connection, sweep_id: str) -> set[tuple[str, str, str, str]]:
    """The groups (workload, mode, variant, problem) with efficiency rows in ``sweep_id``."""
    query = sa.select(*(kpi.c[c] for c in GROUP)).distinct().where(
        kpi.c.sweep_id == sweep_id, kpi.c.metric == METRIC)
    return {tuple(r) for r in conn.execute(query)}


def refresh(conn: sa.Connection, machine: str,
            groups: Iterable[tuple[str, str, str, str]]) -> int:
    """Recompute the ``kpi_latest`` rows of ``groups`` on ``machine``; returns how many."""
    groups = sorted(set(groups))
    if not groups:
        return 0
    in_groups = sa.tuple_(*(kpi_latest.c[c] for c in GROUP)).in_(groups)
    conn.execute(sa.delete(kpi_latest).where(kpi_latest.c.machine == machine, in_groups))
    partition = [kpi.c[c] for c in SERIES if c != "machine"]
    rank = sa.func.row_number().over(partition_by=partition,
                                     order_by=[kpi.c.measured_at.desc(), kpi.c.sweep_id.desc()])
    query = (sa.select(*(kpi.c[c] for c in SERIES if c != "machine"),
                       *(kpi.c[c] for c in LATEST), rank.label("rank"))
             .join(sweeps, sweeps.c.sweep_id == kpi.c.sweep_id)
             .where(sweeps.c.machine == machine, kpi.c.metric == METRIC,
                    kpi.c.value.is_not(None),
                    sa.tuple_(*(kpi.c[c] for c in GROUP)).in_(groups))
             .subquery())
    ranked = conn.execute(sa.select(query).where(query.c.rank <= 2)
                          .order_by(query.c.rank)).mappings().all()
    rows: dict[tuple, dict[str, Any]] = {}
    for r in ranked:
        key = tuple(r[c] for c in SERIES if c != "machine")
        if r["rank"] == 1:
            rows[key] = {**{c: r[c] for c in SERIES if c != "machine"}, "machine": machine,
                         **{c: r[c] for c in LATEST}, "previous_value": None,
                         "previous_low": None, "previous_high": None,
                         "previous_sweep_id": None, "previous_measured_at": None}
        elif key in rows:
            rows[key].update(previous_value=r["value"], previous_low=r["interval_low"],
                             previous_high=r["interval_high"], previous_sweep_id=r["sweep_id"],
                             previous_measured_at=r["measured_at"])
    bulk.insert(conn, kpi_latest, list(rows.values()))
    return len(rows)


_KEY = tuple(c for c in SERIES if c != "machine")
_PREVIOUS = {"previous_value": "value", "previous_low": "interval_low",
             "previous_high": "interval_high", "previous_sweep_id": "sweep_id",
             "previous_measured_at": "measured_at"}


def _fold(current: dict[str, Any] | None, row: dict[str, Any]) -> dict[str, Any] | None:
    """``current`` (a kpi_latest row, or None) with the kpi ``row`` ranked in: the new row, or
    None when ``row`` ranks below both of its values. Raises LookupError on a tie in time."""
    at = row["measured_at"]
    if current is None:
        return {**{c: row[c] for c in _KEY}, **{c: row[c] for c in LATEST},
                **dict.fromkeys(_PREVIOUS)}
    if at in (current["measured_at"], current["previous_measured_at"]):
        raise LookupError("measured at the same time: the database orders the sweep ids")
    if at > current["measured_at"]:
        return {**current, **{c: row[c] for c in LATEST},
                **{p: current[c] for p, c in _PREVIOUS.items()}}
    if current["previous_measured_at"] is None or at > current["previous_measured_at"]:
        return {**current, **{p: row[c] for p, c in _PREVIOUS.items()}}
    return None


def add(conn: sa.Connection, machine: str, sweep_id: str,
        inserted: Sequence[Mapping[str, Any]]) -> int:
    """Rank the efficiency rows of ``sweep_id``, a sweep whose kpi rows were all just inserted
    (none replaced) as ``inserted``, into the ``kpi_latest`` rows of ``machine``; returns how
    many changed.

    The same table as :func:`refresh` of the sweep's groups leaves, which it calls where one of
    the sweep's rows and a series' current latest or previous were measured at the same time.
    """
    new = [r for r in inserted if r["sweep_id"] == sweep_id and r["metric"] == METRIC
           and r["value"] is not None]
    groups = sorted({tuple(r[c] for c in GROUP) for r in new})
    if not groups:
        return 0
    in_groups = sa.tuple_(*(kpi_latest.c[c] for c in GROUP)).in_(groups)
    current = {tuple(r[c] for c in _KEY): dict(r) for r in conn.execute(
        sa.select(kpi_latest).where(kpi_latest.c.machine == machine, in_groups)).mappings()}
    changed: dict[tuple, dict[str, Any]] = {}
    try:
        for row in new:
            key = tuple(row[c] for c in _KEY)
            if key in changed:
                raise LookupError("two rows of one series in one sweep")
            folded = _fold(current.get(key), row)
            if folded is not None:
                changed[key] = folded
    except LookupError:
        return refresh(conn, machine, groups)
    gone = [current[k]["id"] for k in changed if k in current]
    if gone:
        conn.execute(sa.delete(kpi_latest).where(kpi_latest.c.id.in_(gone)))
    bulk.insert(conn, kpi_latest, [{**{k: v for k, v in r.items() if k != "id"},
                                    "machine": machine} for r in changed.values()])
    return len(changed)
