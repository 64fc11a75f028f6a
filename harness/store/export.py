"""Exports of the latest KPIs: the scalability dashboard's JSON document, and CSV.

The dashboard document (schema ``harness/store/dashboard.schema.json``, ``harness.dashboard/1``)
is the platform's ``ScalabilityDashboard.parallel_efficiency``::

    {"schema": "harness.dashboard/1", "generated_at": ISO time, "store": masked URL,
     "parallel_efficiency": {"target": number, "scales": [ScaleEfficiencyMetrics, ...]}}

One ``ScaleEfficiencyMetrics`` per scale (``scale`` label such as ``"10x"``): at each scale every
group's latest efficiency, measured where it was measured and else predicted, forms the
``workloads`` breakdown (with target, status, trend, bottleneck and whether it is predicted);
the scale's ``efficiency`` is the lowest of them (the dashboard shows the worst workload), its
``status`` is ``fail`` when any fails, else ``uncertain`` when a prediction could not be judged,
else ``pass`` when any passes, its ``trend`` is that of the lowest, and ``measured_at``
the latest. The document's ``target`` is the highest target of the table (the headline goal).
"""

from __future__ import annotations

import csv
import io
import math
from typing import Any

import pandas as pd

from harness.store.rows import timestamp
from harness.targets import Targets

SCHEMA = "harness.dashboard/1"
#: a scale's status is the first of these that one of its workloads has
STATUS_ORDER = ("fail", "uncertain", "pass", "no-target", "below-baseline")
#: first characters that make a spreadsheet read a cell as a formula
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _num(value: Any) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def scale_label(scale: float) -> str:
    """``10x``, ``2.5x``."""
    return f"{scale:g}x"


def preferred(latest: pd.DataFrame) -> pd.DataFrame:
    """Per group and scale the measured row when there is one, else the predicted one; of
    several machines the most recent."""
    if latest.empty:
        return latest
    order = latest.assign(_predicted=(latest["kind"] == "predicted").astype(int))
    order = order.sort_values(["_predicted", "measured_at"], ascending=[True, False],
                              kind="stable")
    keep = order.drop_duplicates(["workload", "mode", "variant", "problem", "scale"])
    return keep.drop(columns="_predicted").sort_values(
        ["scale", "workload", "mode", "variant", "problem"], ignore_index=True)


def _workload(row: pd.Series) -> dict[str, Any]:
    return {
        "workload": row["workload"], "mode": row["mode"], "variant": row["variant"],
        "problem": row["problem"], "cores": int(row["cores"]),
        "efficiency": _num(row["efficiency"]), "target": _num(row["target"]),
        "status": row["status"] or "no-target", "trend": row["trend"],
        "predicted": row["kind"] == "predicted",
        "interval": [_num(row["interval_low"]), _num(row["interval_high"])],
        "bottleneck": row["bottleneck"] if isinstance(row["bottleneck"], str) else None,
        "sweep_id": row["sweep_id"], "machine": row["machine"],
        "measured_at": row["measured_at"],
    }


def dashboard(latest: pd.DataFrame, targets: Targets, store: str) -> dict[str, Any]:
    """The dashboard document from :func:`harness.store.queries.show`'s frame."""
    scales = []
    rows = preferred(latest)
    for scale, group in rows.groupby("scale", sort=True):
        worst = group.loc[group["efficiency"].idxmin()]
        statuses = set(group["status"].fillna("no-target"))
        status = next((s for s in STATUS_ORDER if s in statuses), "no-target")
        scales.append({
            "scale": scale_label(float(scale)), "scale_factor": float(scale),
            "cores": int(worst["cores"]), "efficiency": _num(worst["efficiency"]),
            "target": _num(worst["target"]), "status": status, "trend": worst["trend"],
            "predicted": bool(worst["kind"] == "predicted"),
            "measured_at": max(group["measured_at"]),
            "workloads": [_workload(r) for _, r in group.iterrows()],
        })
    headline = max((t for t in targets.efficiencies if math.isfinite(t)), default=None)
    return {"schema": SCHEMA, "generated_at": timestamp(None), "store": store,
            "parallel_efficiency": {"target": _num(headline), "scales": scales}}


def safe_cell(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text starting with = + - @ (or a tab or carriage
    return) gets a leading apostrophe; numbers are left alone."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(latest: pd.DataFrame) -> str:
    """The latest-KPI frame as CSV, formula-like text cells escaped (:func:`safe_cell`)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(list(latest.columns))
    for row in latest.itertuples(index=False):
        writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v))
                         else safe_cell(v) for v in row])
    return buffer.getvalue()
