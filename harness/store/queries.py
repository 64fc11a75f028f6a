"""Reading the store: efficiency history, the latest value per workload and scale, and its trend.

A *series* is one efficiency over time: the same group (workload, mode, variant, problem), scale
and kind (measured or predicted) on the same machine. The latest row of a series is compared
with the one before it (the previous sweep that measured it): ``stable`` when either value lies
inside the other's interval (the range over repetitions for a measured efficiency, the 95 %
prediction interval for a predicted one), else ``up`` or ``down``; ``new`` when there is no
earlier sweep, and ``stable`` for equal values without intervals.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import sqlalchemy as sa

from harness.store import engine as store_engine
from harness.store.schema import alerts, kpi, sweeps

SERIES = ["workload", "mode", "variant", "problem", "scale", "kind", "machine"]
COLUMNS = ["workload", "mode", "variant", "problem", "scale", "cores", "kind", "efficiency",
           "interval_low", "interval_high", "target", "status", "model", "extrapolation",
           "bottleneck", "trend", "previous", "change", "sweep_id", "machine", "measured_at"]


def history(store: sa.Engine, workload: str | None = None, since: str | None = None,
            metric: str = "parallel_efficiency") -> pd.DataFrame:
    """Every row of ``metric`` (optionally one workload, measured at or after ``since``, an ISO
    date or time in UTC), with the sweep's machine, oldest first.

    Raises
    ------
    StoreError
        When the store cannot be reached.
    """
    query = (sa.select(kpi.c.workload, kpi.c.mode, kpi.c.variant, kpi.c.problem, kpi.c.scale,
                       kpi.c.cores, kpi.c.kind, kpi.c.value.label("efficiency"),
                       kpi.c.interval_low, kpi.c.interval_high, kpi.c.target, kpi.c.status,
                       kpi.c.model, kpi.c.extrapolation, kpi.c.bottleneck, kpi.c.sweep_id,
                       sweeps.c.machine, kpi.c.measured_at)
             .join(sweeps, sweeps.c.sweep_id == kpi.c.sweep_id)
             .where(kpi.c.metric == metric))
    if workload:
        query = query.where(kpi.c.workload == workload)
    if since:
        query = query.where(kpi.c.measured_at >= since)
    query = query.order_by(kpi.c.measured_at, kpi.c.sweep_id)
    with store_engine.connect(store) as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))


def _inside(value: float, low: Any, high: Any) -> bool:
    try:
        lo, hi = float(low), float(high)
    except (TypeError, ValueError):
        return False
    return math.isfinite(lo) and math.isfinite(hi) and lo <= value <= hi


def trend(latest: pd.Series, previous: pd.Series | None) -> str:
    """``new``, ``stable``, ``up`` or ``down`` (see the module docstring)."""
    if previous is None:
        return "new"
    now, before = float(latest["efficiency"]), float(previous["efficiency"])
    if now == before or _inside(now, previous["interval_low"], previous["interval_high"]) \
            or _inside(before, latest["interval_low"], latest["interval_high"]):
        return "stable"
    return "up" if now > before else "down"


def latest(frame: pd.DataFrame) -> pd.DataFrame:
    """The latest row of every series in ``frame`` (from :func:`history`) with its trend against
    the previous one; sorted by workload, mode, variant, problem, scale."""
    rows = []
    frame = frame.loc[frame["efficiency"].notna()]
    for _, series in frame.groupby(SERIES, sort=False, dropna=False):
        last = series.iloc[-1]
        before = series.iloc[-2] if len(series) > 1 else None
        row = last.to_dict()
        row["trend"] = trend(last, before)
        row["previous"] = None if before is None else float(before["efficiency"])
        row["change"] = None if before is None else float(last["efficiency"]) - row["previous"]
        rows.append(row)
    out = pd.DataFrame(rows, columns=COLUMNS)
    return out.sort_values(["workload", "mode", "variant", "problem", "scale", "kind"],
                           ignore_index=True)


def show(store: sa.Engine, workload: str | None = None, since: str | None = None
         ) -> pd.DataFrame:
    """Latest efficiency per group x scale x kind x machine, with its trend (``kpi show``).

    ``since`` keeps the series whose latest row was measured at or after it; the trend still
    compares with the sweep before, however old.
    """
    out = latest(history(store, workload))
    if since:
        out = out.loc[out["measured_at"] >= since].reset_index(drop=True)
    return out


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
