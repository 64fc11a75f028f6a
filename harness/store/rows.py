"""Rows for the store's tables, from run records and the analyzer's result (pure: no I/O).

- ``sweeps``: created is the earliest record's ``created_at``; the machine is the Slurm
  partition (``slurm:<partition>``) or else the host of the first record, with its CPU model
  beside it; the code version is the git sha (12 digits, ``-dirty`` when the tree was dirty),
  else the harness version.
- ``runs``: one per record; ``median_seconds`` is the median over its repetitions, ``verified``
  whether its verification passed, ``cores`` is ranks x threads per rank.
- ``kpi``, measured (from :attr:`Analysis.points`): ``parallel_efficiency`` with target and
  status, ``speedup`` and, above the baseline, ``karp_flatt``. The interval of a measured
  efficiency is the range over the point's repetitions: ``E * T_median / T_max`` to
  ``E * T_median / T_min`` (the baseline time held fixed). ``serial_fraction`` is the fitted
  ``f`` of Amdahl's law (strong mode) or Gustafson's (weak), whichever model the analyzer chose
  to predict with, with its 95 % confidence interval, at the group's largest measured core
  count.
- ``kpi``, predicted (from :attr:`Analysis.predictions`, scales not measured only):
  ``parallel_efficiency`` with the model's 95 % interval (``pi95_*``, or ``ci95_*`` from older
  analyzers), extrapolation (target scale / largest measured scale), target and status.
- ``alerts``: one per analyzer alert, ``predicted`` true for a model's prediction.

Non-finite floats become NULL; timestamps are UTC ISO 8601 to the second.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

import pandas as pd

from harness import records
from harness.analysis import Analysis
from harness.inputs import problem_key

GROUP = ("workload", "mode", "variant", "problem")
#: the models whose parameter ``f`` is the serial fraction (strong and weak scaling)
SERIAL_MODELS = ("amdahl", "gustafson")


def timestamp(text: str | None) -> str:
    """``text`` (ISO 8601) as UTC to the second, ``YYYY-MM-DDTHH:MM:SS+00:00``; now if absent
    or not ISO 8601."""
    known = _utc(str(text)) if text else None
    return known if known is not None else _utc_text(datetime.now(timezone.utc))


@functools.lru_cache(maxsize=4096)  # a sweep's records share a handful of times
def _utc(text: str) -> str | None:
    try:
        return _utc_text(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def number(value: Any) -> float | None:
    """A finite float, or None for NaN, infinities, None and non-numbers."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def json_safe(value: Any) -> Any:
    """``value`` with non-finite floats as None, so that every database's JSON accepts it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def machine(rec: records.RunRecord) -> str:
    """Where a run was made: ``slurm:<partition>`` on Slurm, else the host name."""
    prov = rec.provenance or {}
    slurm = prov.get("slurm") or {}
    if isinstance(slurm, dict) and slurm.get("partition"):
        return f"slurm:{slurm['partition']}"
    return str(prov.get("host") or "unknown")


def code_version(rec: records.RunRecord) -> str | None:
    prov = rec.provenance or {}
    sha = prov.get("git_sha")
    if sha:
        return str(sha)[:12] + ("-dirty" if prov.get("git_dirty") else "")
    version = prov.get("harness")
    return str(version) if version else None


def sweep_row(sweep_id: str, recs: list[records.RunRecord], spec_name: str | None,
              pushed_at: str) -> dict[str, Any]:
    """The ``sweeps`` row of a sweep from its records (at least one)."""
    first = min(recs, key=lambda r: timestamp(r.created_at))
    return {
        "sweep_id": sweep_id, "spec_name": spec_name,
        "created_at": timestamp(first.created_at), "machine": machine(first)[:255],
        "cpu_model": (str((first.provenance or {}).get("cpu_model") or "") or None),
        "code_version": code_version(first), "pushed_at": pushed_at,
    }


def run_row(rec: records.RunRecord, data: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``runs`` row of one record; ``record`` holds ``data`` (its JSON as read) or else the
    record's fields, as they are: the store's JSON serializer
    (:func:`harness.store.engine.json_dumps`) writes non-finite floats as null."""
    fom = rec.fom or {}
    seconds = [s for s in rec.seconds if math.isfinite(s)]
    return {
        "run_id": rec.run_id, "sweep_id": rec.sweep_id, "workload": rec.workload,
        "variant": rec.variant, "mode": rec.mode,
        "problem": problem_key(rec.size, rec.overrides or {}),
        "ranks": rec.ranks, "nodes": rec.nodes, "cores": rec.ranks * rec.threads_per_rank,
        "median_seconds": statistics.median(seconds) if seconds else None,
        "status": rec.status,
        "verified": bool((rec.verification or {}).get("passed") is True),
        "fom_value": number(fom.get("value")), "fom_unit": fom.get("unit"),
        "created_at": timestamp(rec.created_at),
        "record": data if data is not None else rec.to_dict(),
    }


def _group(row: Any) -> dict[str, str]:
    return {k: str(row[k]) for k in GROUP}


def _key(row: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(row[k]) for k in GROUP)


def _rows(frame: pd.DataFrame | None, *columns: str) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of ``columns`` (those it has, the group's always): the
    values ``iterrows`` gives, at a fraction of its cost."""
    if frame is None:
        return []
    names = [c for c in (*GROUP, *columns) if c in frame]
    values = [frame[c].tolist() for c in names]  # column by column: categoricals at once
    return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _bottlenecks(result: Analysis) -> dict[tuple[str, ...], str | None]:
    groups = result.groups
    if groups is None or groups.empty or "bottleneck_name" not in groups:
        return {}
    # no verdict is NaN in the frame: NULL in the store (PostgreSQL would keep the text 'NaN')
    return {_key(g): (None if _missing(g["bottleneck_name"]) else g["bottleneck_name"] or None)
            for g in _rows(groups, "bottleneck_name")}


def _measured(result: Analysis, sweep_id: str, at: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    neck = _bottlenecks(result)
    for p in _rows(result.points, "cores", "scale", "efficiency", "seconds", "seconds_min",
                   "seconds_max", "target", "status", "speedup", "karp_flatt"):
        base = {"sweep_id": sweep_id, **_group(p), "cores": int(p["cores"]),
                "scale": float(p["scale"]), "kind": "measured", "model": None,
                "extrapolation": None, "measured_at": at,
                "bottleneck": neck.get(_key(p))}
        eff, t = number(p["efficiency"]), number(p["seconds"])
        t_min, t_max = number(p.get("seconds_min")), number(p.get("seconds_max"))
        low = eff * t / t_max if eff is not None and t and t_max else None
        high = eff * t / t_min if eff is not None and t and t_min else None
        out.append({**base, "metric": "parallel_efficiency", "value": eff,
                    "interval_low": low, "interval_high": high,
                    "target": number(p.get("target")), "status": str(p.get("status") or "")})
        out.append({**base, "metric": "speedup", "value": number(p["speedup"]),
                    "interval_low": None, "interval_high": None, "target": None,
                    "status": None})
        karp_flatt = number(p.get("karp_flatt"))
        if karp_flatt is not None:
            out.append({**base, "metric": "karp_flatt", "value": karp_flatt,
                        "interval_low": None, "interval_high": None, "target": None,
                        "status": None})
    return out


def _serial_fractions(result: Analysis, sweep_id: str, at: str) -> list[dict[str, Any]]:
    fits, points = result.fits, result.points
    if fits is None or fits.empty or "f" not in fits or points.empty:
        return []
    fitted = [fit for fit in _rows(fits, "model", "f", "f_ci95_low", "f_ci95_high", "status",
                                   "chosen")
              if not _missing(fit["f"]) and fit["model"] in SERIAL_MODELS
              and fit.get("status", "fitted") == "fitted"]
    # the chosen model first, when it has a serial fraction (a stable sort, as pandas' with
    # missing values last); then the first fit per group
    fitted.sort(key=lambda fit: 1 if _missing(fit.get("chosen")) else -float(fit["chosen"]))
    first: dict[tuple[Any, ...], dict[str, Any]] = {}
    for fit in fitted:
        first.setdefault(tuple(fit[k] for k in GROUP), fit)
    largest: dict[tuple[str, ...], dict[str, Any]] = {}  # per group, its first largest scale
    for p in _rows(points, "cores", "scale"):
        key = _key(p)
        if key not in largest or p["scale"] > largest[key]["scale"]:
            largest[key] = p
    out = []
    for fit in first.values():
        if _key(fit) not in largest:
            continue
        point = largest[_key(fit)]
        out.append({"sweep_id": sweep_id, **_group(fit), "metric": "serial_fraction",
                    "cores": int(point["cores"]), "scale": float(point["scale"]),
                    "value": number(fit["f"]), "interval_low": number(fit.get("f_ci95_low")),
                    "interval_high": number(fit.get("f_ci95_high")), "target": None,
                    "status": None, "kind": "measured", "model": str(fit["model"]),
                    "extrapolation": None, "bottleneck": None, "measured_at": at})
    return out


def _predicted(result: Analysis, sweep_id: str, at: str) -> list[dict[str, Any]]:
    pred = result.predictions
    if pred is None or pred.empty or "efficiency" not in pred:
        return []
    if "measured" in pred:  # older analyzers list measured scales too
        pred = pred.loc[~pred["measured"].astype(bool)]
    largest = {}
    if result.groups is not None and "largest_scale" in result.groups:
        largest = {_key(g): float(g["largest_scale"])
                   for g in _rows(result.groups, "largest_scale")}
    low_col = "pi95_low" if "pi95_low" in pred else "ci95_low"
    high_col = "pi95_high" if "pi95_high" in pred else "ci95_high"
    neck = _bottlenecks(result)
    out = []
    for p in _rows(pred, "cores", "scale", "efficiency", low_col, high_col, "target", "status",
                   "model", "extrapolation"):
        key = _key(p)
        extrapolation = number(p.get("extrapolation"))
        if extrapolation is None and largest.get(key):
            extrapolation = float(p["scale"]) / largest[key]
        out.append({"sweep_id": sweep_id, **_group(p), "metric": "parallel_efficiency",
                    "cores": round(float(p["cores"])), "scale": float(p["scale"]),
                    "value": number(p["efficiency"]), "interval_low": number(p.get(low_col)),
                    "interval_high": number(p.get(high_col)),
                    "target": number(p.get("target")), "status": str(p.get("status") or ""),
                    "kind": "predicted", "model": str(p.get("model") or "") or None,
                    "extrapolation": extrapolation, "bottleneck": neck.get(key),
                    "measured_at": at})
    return out


def kpi_rows(result: Analysis | None, sweep_id: str, at: str) -> list[dict[str, Any]]:
    """Every ``kpi`` row of one sweep's analysis (none when there is no analysis)."""
    if result is None:
        return []
    return [*_measured(result, sweep_id, at), *_serial_fractions(result, sweep_id, at),
            *_predicted(result, sweep_id, at)]


def alert_rows(result: Analysis | None, sweep_id: str, at: str) -> list[dict[str, Any]]:
    """Every ``alerts`` row of one sweep's analysis."""
    if result is None or result.alerts is None or result.alerts.empty:
        return []
    out = []
    for a in _rows(result.alerts, "level", "cores", "scale", "efficiency", "threshold", "kind",
                   "message"):
        out.append({"sweep_id": sweep_id, "level": str(a["level"]),
                    "metric": "parallel_efficiency", **_group(a),
                    "cores": round(float(a["cores"])), "scale": float(a["scale"]),
                    "value": float(a["efficiency"]), "threshold": float(a["threshold"]),
                    "predicted": str(a["kind"]) == "predicted", "message": str(a["message"]),
                    "raised_at": at})
    return out


def distinct(rows: Iterable[dict[str, Any]], key: tuple[str, ...]) -> list[dict[str, Any]]:
    """``rows`` without repeats of ``key`` (the first one kept)."""
    seen, out = set(), []
    for row in rows:
        k = tuple(row[c] for c in key)
        if k not in seen:
            seen.add(k)
            out.append(row)
    return out

