"""Keeping ``kpi_latest`` current: the latest and previous efficiency of every series.

After a push writes a sweep's kpi rows, :func:`refresh` recomputes, inside the same
transaction, the ``kpi_latest`` rows of the series that sweep touches (its groups on its
machine): the two latest kpi rows of each series by ``measured_at`` (then sweep id), so pushes
in any order, and re-pushes of a sweep that gained runs, leave the same table as a ranking of
the whole history would.

A sweep pushed for the first time only adds kpi rows, so the two latest of a series are among
its rows and the rows that rank at or above the series' current previous value: the ranking then
reads only rows measured at or after the earliest of those (and the sweep's own), not the whole
history, which keeps a push's cost flat as the store grows. A sweep whose rows are replaced (one
that gained runs) is ranked over the whole history, as its old rows may have been the latest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa

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


def _earliest_needed(conn: sa.Connection, machine: str, in_groups: Any) -> str | None:
    """The earliest ``measured_at`` among the current latest-two rows of the series in the
    groups (the previous one's, else the latest's); None when the groups have no series yet."""
    needed = sa.func.coalesce(kpi_latest.c.previous_measured_at, kpi_latest.c.measured_at)
    return conn.execute(sa.select(sa.func.min(needed)).where(
        kpi_latest.c.machine == machine, in_groups)).scalar_one()


def refresh(conn: sa.Connection, machine: str,
            groups: Iterable[tuple[str, str, str, str]], added: str | None = None) -> int:
    """Recompute the ``kpi_latest`` rows of ``groups`` on ``machine``; returns how many.

    ``added`` names a sweep whose kpi rows were all just inserted, none replaced or deleted,
    and no other row changed since ``kpi_latest`` was last current: then only rows at least as
    recent as each series' current previous value (and the sweep's own) are ranked.
    """
    groups = sorted(set(groups))
    if not groups:
        return 0
    in_groups = sa.tuple_(*(kpi_latest.c[c] for c in GROUP)).in_(groups)
    since = _earliest_needed(conn, machine, in_groups) if added is not None else None
    conn.execute(sa.delete(kpi_latest).where(kpi_latest.c.machine == machine, in_groups))
    partition = [kpi.c[c] for c in SERIES if c != "machine"]
    rank = sa.func.row_number().over(partition_by=partition,
                                     order_by=[kpi.c.measured_at.desc(), kpi.c.sweep_id.desc()])
    query = (sa.select(*(kpi.c[c] for c in SERIES if c != "machine"),
                       *(kpi.c[c] for c in LATEST), rank.label("rank"))
             .join(sweeps, sweeps.c.sweep_id == kpi.c.sweep_id)
             .where(sweeps.c.machine == machine, kpi.c.metric == METRIC,
                    kpi.c.value.is_not(None),
                    sa.tuple_(*(kpi.c[c] for c in GROUP)).in_(groups)))
    if since is not None:
        query = query.where(sa.or_(kpi.c.measured_at >= since, kpi.c.sweep_id == added))
    query = query.subquery()
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
    if rows:
        conn.execute(sa.insert(kpi_latest), list(rows.values()))
    return len(rows)
