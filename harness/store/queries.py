"""Reading the store: efficiency history, the latest value per workload and scale, and its trend.

A *series* is one efficiency over time: the same group (workload, mode, variant, problem), scale
and kind (measured or predicted) on the same machine. The latest row of a series is compared
with the one before it (the previous sweep that measured it): ``stable`` when either value lies
inside the other's interval (the range over repetitions for a measured efficiency, the 95 %
prediction interval for a predicted one), else ``up`` or ``down``; ``new`` when there is no
earlier sweep, and ``stable`` for equal values without intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from harness.store import engine as store_engine
from harness.store.schema import alerts, kpi, kpi_latest, sweeps

SERIES = ["workload", "mode", "variant", "problem", "scale", "kind", "machine"]
COLUMNS = ["workload", "mode", "variant", "problem", "scale", "cores", "kind", "efficiency",
           "interval_low", "interval_high", "target", "status", "model", "extrapolation",
           "bottleneck", "trend", "previous", "change", "sweep_id", "machine", "measured_at"]


def _columns() -> list[sa.ColumnElement]:
    return [kpi.c.workload, kpi.c.mode, kpi.c.variant, kpi.c.problem, kpi.c.scale, kpi.c.cores,
            kpi.c.kind, kpi.c.value.label("efficiency"), kpi.c.interval_low,
            kpi.c.interval_high, kpi.c.target, kpi.c.status, kpi.c.model, kpi.c.extrapolation,
            kpi.c.bottleneck, kpi.c.sweep_id, sweeps.c.machine, kpi.c.measured_at]


def _frame(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    result = conn.execute(query)
    return pd.DataFrame(result.all(), columns=list(result.keys()))


def history(store: sa.Engine, workload: str | None = None, since: str | None = None,
            metric: str = "parallel_efficiency") -> pd.DataFrame:
    """Every row of ``metric`` (optionally one workload, measured at or after ``since``, an ISO
    date or time in UTC), with the sweep's machine, oldest first.

    Raises
    ------
    StoreError
        When the store cannot be reached.
    """
    query = (sa.select(*_columns()).join(sweeps, sweeps.c.sweep_id == kpi.c.sweep_id)
             .where(kpi.c.metric == metric, kpi.c.value.is_not(None)))
    if workload:
        query = query.where(kpi.c.workload == workload)
    if since:
        query = query.where(kpi.c.measured_at >= since)
    with store_engine.connect(store) as conn:
        return _frame(conn, query.order_by(kpi.c.measured_at, kpi.c.sweep_id))


def _inside(value: pd.Series, low: pd.Series, high: pd.Series) -> pd.Series:
    low, high = pd.to_numeric(low, errors="coerce"), pd.to_numeric(high, errors="coerce")
    return (low <= value) & (value <= high)


def trend(latest: pd.Series, previous: pd.Series | None) -> str:
    """``new``, ``stable``, ``up`` or ``down`` for one row (see the module docstring)."""
    frame = pd.DataFrame([latest])
    if previous is not None:
        frame["previous"] = float(previous["efficiency"])
        frame["previous_low"], frame["previous_high"] = (previous["interval_low"],
                                                         previous["interval_high"])
    return str(_trends(frame).iloc[0])


def _trends(frame: pd.DataFrame) -> pd.Series:
    """Vectorized trend of rows with ``previous``, ``previous_low``, ``previous_high``."""
    if "previous" not in frame:
        return pd.Series("new", index=frame.index)
    now = pd.to_numeric(frame["efficiency"], errors="coerce")
    before = pd.to_numeric(frame["previous"], errors="coerce")
    stable = ((now == before) | _inside(now, frame["previous_low"], frame["previous_high"])
              | _inside(before, frame["interval_low"], frame["interval_high"]))
    out = pd.Series(np.where(now > before, "up", "down"), index=frame.index, dtype=object)
    out[stable] = "stable"
    out[before.isna()] = "new"
    return out


def latest(frame: pd.DataFrame) -> pd.DataFrame:
    """The latest row of every series in ``frame`` (from :func:`history`, oldest first) with
    its trend against the previous one; sorted by workload, mode, variant, problem, scale, kind
    and machine. :func:`show` gives the same from ``kpi_latest``."""
    frame = frame.loc[frame["efficiency"].notna()]
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    grouped = frame.groupby(SERIES, sort=False, dropna=False)
    last = grouped.tail(1).set_index(SERIES)
    before = grouped.nth(-2).set_index(SERIES)[["efficiency", "interval_low", "interval_high"]]
    before.columns = ["previous", "previous_low", "previous_high"]
    out = last.join(before, how="left").reset_index()
    out["trend"] = _trends(out)
    out["change"] = pd.to_numeric(out["efficiency"]) - pd.to_numeric(out["previous"])
    out = out.astype({"previous": object, "change": object})
    out = out.where(out.notna(), None) if len(out) else out
    return out[COLUMNS].sort_values(["workload", "mode", "variant", "problem", "scale", "kind",
                                     "machine"], ignore_index=True)


def show(store: sa.Engine, workload: str | None = None, since: str | None = None
         ) -> pd.DataFrame:
    """Latest efficiency per group x scale x kind x machine, with its trend (``kpi show``),
    read from ``kpi_latest`` (one row per series, kept by every push); the same result as
    ``latest(history(store))``.

    ``since`` keeps the series whose latest row was measured at or after it; the trend still
    compares with the sweep before, however old.
    """
    t = kpi_latest
    query = sa.select(
        t.c.workload, t.c.mode, t.c.variant, t.c.problem, t.c.scale, t.c.cores, t.c.kind,
        t.c.value.label("efficiency"), t.c.interval_low, t.c.interval_high, t.c.target,
        t.c.status, t.c.model, t.c.extrapolation, t.c.bottleneck, t.c.sweep_id, t.c.machine,
        t.c.measured_at, t.c.previous_value.label("previous"), t.c.previous_low,
        t.c.previous_high).where(t.c.metric == "parallel_efficiency")
    if workload:
        query = query.where(t.c.workload == workload)
    if since:
        query = query.where(t.c.measured_at >= since)
    with store_engine.connect(store) as conn:
        frame = _frame(conn, query)
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    frame["trend"] = _trends(frame)
    frame["change"] = pd.to_numeric(frame["efficiency"]) - pd.to_numeric(frame["previous"])
    frame = frame.astype({"previous": object, "change": object})
    frame = frame.where(frame.notna(), None)
    return frame[COLUMNS].sort_values(["workload", "mode", "variant", "problem", "scale",
                                       "kind", "machine"], ignore_index=True)


def alerted(store: sa.Engine) -> dict[tuple, str]:
    """Where alerts were raised: ``(sweep_id, workload, mode, variant, problem, cores,
    predicted)`` -> level (the most severe, P1 before P2)."""
    query = sa.select(alerts.c.sweep_id, alerts.c.workload, alerts.c.mode, alerts.c.variant,
                      alerts.c.problem, alerts.c.cores, alerts.c.predicted, alerts.c.level)
    out: dict[tuple, str] = {}
    with store_engine.connect(store) as conn:
        for *key, level in conn.execute(query):
            key[-1] = bool(key[-1])
            k = tuple(key)
            out[k] = min(out.get(k, level), level)
    return out
