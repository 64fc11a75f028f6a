"""Analysis results as text: a table for people, one JSON document, or the points as CSV.

The JSON document (``harness analyze --format json``) is::

    {"schema": "harness.analysis/1",
     "targets": {source, baseline_cores, p2_alert, rows[{scale, efficiency}]},
     "groups": [{workload, mode, variant, size, problem, machine, baseline_cores,
                 baseline_seconds, provenance{machine, hosts[], code[]},
                 points[{cores, scale, seconds, seconds_min, seconds_max, repetitions, runs,
                         rel_iqr, speedup, efficiency, karp_flatt, target, status,
                         model_efficiency, model_residual}],
                 fits{amdahl{status, reason, anchoring, serial_fraction, ci95, max_speedup,
                             at_bound[], noise, cv_error, ...},
                      amdahl-log{..., serial_fraction, ci95, c, ci95_c},
                      power{..., gamma, ci95_gamma},
                      usl{..., alpha, beta, ci95_alpha, ci95_beta, peak_scale},
                      gustafson{..., serial_fraction, ci95}},
                 model{chosen, runner_up, anchoring, reason},
                 predictions[{scale, cores, efficiency, pi95, model, label: "predicted",
                              extrapolation, far_extrapolated, uncertain, target,
                              status}],
                 bottleneck{phase, name, share_baseline, share_largest, load_imbalance},
                 alerts[{level, kind, cores, scale, efficiency, threshold, model,
                         extrapolation, message}],
                 notes[]}],
     "excluded": [{source, workload, mode, variant, cores, reason}]}

Numbers that are undefined or infinite are ``null`` (a ``max_speedup`` of null with
``serial_fraction`` 0 means no ceiling; a ``peak_scale`` of null with ``beta`` 0 means no peak).
``pi95`` is the 95 % prediction interval for one new run at that scale (run-to-run and fit
uncertainty); ``extrapolation`` is the scale over the largest measured scale. Predictions are
made only at scales that were not measured; a measured point's ``model_efficiency`` is the chosen
model's value there, and ``model_residual`` the measured over the modelled efficiency, minus 1.
In weak mode ``speedup`` is the scaled speedup ``r E``. A group is one scaling study: ``size``
is the named problem size and ``problem`` the key that adds the parameter overrides (both may be
empty for a CSV without a size column). The CSV format is the points, one row each, with the
group's columns first (``workload, mode, variant, size, problem``).
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from harness import models
from harness.analysis import Analysis
from harness.documents import ANALYSIS_SCHEMA
from harness.metrics import KEYS, POINT_COLUMNS, cores_text, label

SCHEMA = ANALYSIS_SCHEMA
FORMATS = ("table", "json", "csv")
_POINT_KEYS = [c for c in POINT_COLUMNS if c not in KEYS]


def _plain(value: Any) -> Any:
    """A JSON-safe scalar: numpy scalars unwrapped, NaN/inf as None, whole floats kept float."""
    if value is None:
        return None
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer, int)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if value is pd.NA or value is pd.NaT:
        return None
    return value


def _cores(value: Any) -> Any:
    value = _plain(value)
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _interval(low: Any, high: Any) -> list[float] | None:
    low, high = _plain(low), _plain(high)
    return None if low is None or high is None else [low, high]


def _records(frame: pd.DataFrame, columns: list[str]) -> list[dict[str, Any]]:
    return [{c: _plain(v) for c, v in zip(columns, row, strict=True)}
            for row in frame[columns].itertuples(index=False, name=None)]


def _keys(group: Any) -> tuple[str, ...]:
    """A group row's key values, in the order of ``KEYS``."""
    return tuple(getattr(group, k) for k in KEYS)


def _select(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.DataFrame:
    if frame.empty:
        return frame
    mask = np.ones(len(frame), dtype=bool)
    for column, value in zip(KEYS, keys, strict=True):
        mask &= (frame[column] == value).to_numpy()
    return frame.loc[mask]


def _fits(fits: pd.DataFrame) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in fits.itertuples(index=False):
        common = {"status": row.status, "reason": row.reason or None,
                  "anchoring": row.anchoring,
                  "at_bound": [b for b in str(row.at_bound or "").split(",") if b],
                  "noise": _plain(row.noise), "rms_residual": _plain(row.rms_residual),
                  "cv_error": _plain(row.cv_error),
                  "points": int(row.points), "observations": int(row.observations),
                  "dof": int(row.dof), "chosen": bool(getattr(row, "chosen", False))}
        model = models.REGISTRY[row.model]
        entry: dict[str, Any] = {}
        for p in model.reported:
            entry[p.key] = _plain(getattr(row, p.name))
            entry[p.ci_key] = _interval(getattr(row, f"{p.name}_ci95_low"),
                                        getattr(row, f"{p.name}_ci95_high"))
        for column in model.derived:
            entry[column] = _plain(getattr(row, column))
        name = row.model if row.anchoring == "baseline" else f"{row.model}-trend"
        out[name] = {**entry, **common}
    return out


def to_document(result: Analysis, excluded: pd.DataFrame) -> dict[str, Any]:
    """The analysis as the JSON document described in the module docstring."""
    groups = []
    for g in result.groups.itertuples(index=False):
        keys = _keys(g)
        predictions = _select(result.predictions, keys)
        groups.append({
            "workload": g.workload, "mode": g.mode, "variant": g.variant, "size": g.size,
            "problem": g.problem, "machine": g.machine,
            "provenance": {k: v for k, v in (g.provenance or {}).items()},
            "baseline_cores": int(g.baseline_cores),
            "baseline_seconds": _plain(g.baseline_seconds),
            "points": [{**p, "cores": _cores(p["cores"])}
                       for p in _records(_select(result.points, keys), _POINT_KEYS)],
            "fits": _fits(_select(result.fits, keys)) if not result.fits.empty else {},
            "model": {"chosen": g.model if isinstance(g.model, str) else None,
                      "runner_up": g.runner_up if isinstance(g.runner_up, str) else None,
                      "anchoring": g.anchoring if isinstance(g.anchoring, str) else None,
                      "reason": g.model_choice or None},
            "predictions": [
                {"scale": _plain(p.scale), "cores": _cores(p.cores),
                 "efficiency": _plain(p.efficiency), "pi95": _interval(p.pi95_low, p.pi95_high),
                 "model": p.model, "label": p.label, "extrapolation": _plain(p.extrapolation),
                 "far_extrapolated": bool(p.far_extrapolated),
                 "uncertain": bool(p.uncertain), "target": _plain(p.target),
                 "status": p.status if _plain(p.target) is not None else "no-target"}
                for p in predictions.itertuples(index=False)
            ] if not predictions.empty else [],
            "bottleneck": {"phase": _plain(g.bottleneck_phase), "name": _plain(g.bottleneck_name),
                           "share_baseline": _plain(g.share_baseline),
                           "share_largest": _plain(g.share_largest),
                           "load_imbalance": _plain(g.load_imbalance)},
            "alerts": [{**a, "cores": _cores(a["cores"])} for a in _records(
                _select(result.alerts, keys),
                ["level", "kind", "cores", "scale", "efficiency", "threshold", "model",
                 "extrapolation", "message"])],
            "notes": list(g.notes),
        })
    return {"schema": SCHEMA, "targets": result.targets.to_dict(), "groups": groups,
            "excluded": _records(excluded, list(excluded.columns))}


def to_json(result: Analysis, excluded: pd.DataFrame) -> str:
    """One JSON document; NaN and infinities never appear (they are null)."""
    return json.dumps(to_document(result, excluded), indent=2, allow_nan=False)


#: first characters that make a spreadsheet read a cell as a formula (OWASP "CSV injection")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A text cell made safe for spreadsheets: one that starts like a formula gets a leading
    ``'`` (OWASP's advice), so ``=cmd|calc`` is shown, never run. Numbers pass unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(result: Analysis) -> str:
    """The measured points, one row each, columns as in ``POINT_COLUMNS`` (empty = undefined);
    text cells escaped by :func:`csv_cell`."""
    frame = result.points[POINT_COLUMNS].copy()
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(csv_cell)
    return frame.to_csv(index=False, lineterminator="\n")


def _num(value: Any, spec: str, missing: str = "-") -> str:
    value = _plain(value)
    return missing if value is None else format(value, spec)


def _ci(low: Any, high: Any, spec: str) -> str:
    pair = _interval(low, high)
    return "" if pair is None else f" (95 % CI {format(pair[0], spec)} to {format(pair[1], spec)})"




def _bound(row: Any, name: str, text: str) -> str:
    return f"{text} (at its bound)" if name in str(row.at_bound or "").split(",") else text


def _fit_lines(fits: pd.DataFrame, baseline: int) -> list[str]:
    applicable = fits.loc[fits["status"] != "not-applicable"]
    if len(applicable) and (applicable["status"] == "refused").all():
        return [f"Models: none fitted ({', '.join(applicable['model'])}): too few core counts; "
                "see the notes"]
    lines = []
    for row in fits.itertuples(index=False):
        if row.status == "not-applicable":
            continue
        name = models.REGISTRY[row.model].title or row.model
        if row.anchoring == "trend":
            name += " (trend above the baseline)"
        if row.status == "refused":
            lines.append(f"{name}: not fitted: {row.reason}")
            continue
        model = models.REGISTRY[row.model]
        values = ", ".join(
            _bound(row, p.name, f"{p.name} = {format(getattr(row, p.name), p.fmt)}")
            + _ci(getattr(row, f"{p.name}_ci95_low"), getattr(row, f"{p.name}_ci95_high"), p.fmt)
            for p in model.reported)
        text = f"{name}: {values}{model.remark(row, baseline, cores_text)}"
        quality = f"RMS residual {100 * row.rms_residual:.2f} %"
        if _plain(row.noise) is not None:
            quality += f", scatter about this model {100 * row.noise:.1f} %"
        if _plain(row.cv_error) is not None:
            quality += f", hold-out error {100 * row.cv_error:.1f} %"
        reason = f"; {row.reason}" if row.reason else ""
        chosen = " [chosen]" if bool(getattr(row, "chosen", False)) else ""
        lines.append(f"{text}; {quality}{reason}{chosen}")
    return lines


def _grid(headers: tuple[str, ...], rows: list[tuple[str, ...]], left: tuple[str, ...] = (),
          indent: str = "  ") -> list[str]:
    """A plain text table: columns right-aligned (``left`` ones left-aligned), a rule below."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return indent + "  ".join(
            c.ljust(w) if h in left else c.rjust(w)
            for c, w, h in zip(cells, widths, headers, strict=True)).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths)] + [line(r) for r in rows]


def _points_table(points: pd.DataFrame) -> list[str]:
    rows = [
        (str(p.cores), f"{p.scale:g}", f"{p.seconds:.4g}", f"{p.seconds_min:.4g}",
         f"{p.seconds_max:.4g}", str(p.repetitions), _num(100 * p.rel_iqr, ".1f") + " %",
         f"{p.speedup:.3f}", f"{p.efficiency:.3f}", _num(p.karp_flatt, ".4f"),
         "-" if _plain(p.target) is None else f"> {p.target:.2f}", p.status)
        for p in points.itertuples(index=False)
    ]
    return _grid(("cores", "scale", "median s", "min s", "max s", "reps", "rIQR", "speedup",
                  "efficiency", "Karp-Flatt", "target", "status"), rows, left=("status",))


def _short(value: float) -> str:
    return f"{value:.3f}" if value < 100 else f"{value:.3g}"


def _predictions_table(predictions: pd.DataFrame) -> list[str]:
    rows = []
    for p in predictions.itertuples(index=False):
        pair = _interval(p.pi95_low, p.pi95_high)
        status = p.status if _plain(p.target) is not None else "no-target"
        distance = ("within data" if p.extrapolation <= 1 else
                    f"{p.extrapolation:.3g}x" + (" far" if p.far_extrapolated else ""))
        rows.append((f"{p.scale:g}x", f"{p.cores:g}", f"{p.efficiency:.3f}",
                     "-" if pair is None else f"{_short(pair[0])} to {_short(pair[1])}",
                     distance, "-" if _plain(p.target) is None else f"> {p.target:.2f}",
                     f"{status} (predicted)", p.model))
    return _grid(("scale", "cores", "predicted E", "95 % PI, new run", "extrapolation",
                  "target", "status", "model"), rows, left=("status", "model"), indent="    ")


def to_table(result: Analysis, excluded: pd.DataFrame) -> str:
    """The analysis for people: per group the points, fits, predictions, bottleneck, alerts."""
    targets = result.targets
    out = [f"Targets: {targets.source} (P2 alert below {targets.p2_alert:.2f})"]
    for g in result.groups.itertuples(index=False):
        keys = _keys(g)
        name = label(g.workload, g.mode, g.variant, g.problem)
        out += ["", f"== {name}: baseline {cores_text(g.baseline_cores)}, "
                    f"T0 = {g.baseline_seconds:.4g} s =="]
        if g.machine:
            out.append(f"  Machine: {g.machine}")
        points = _select(result.points, keys)
        if not points.empty:
            out += _points_table(points)
            out += [f"  {line}" for line in _fit_lines(_select(result.fits, keys),
                                                       int(g.baseline_cores))]
            if isinstance(g.model, str):
                out.append(f"  Model: {g.model_choice}")
            predictions = _select(result.predictions, keys)
            if not predictions.empty:
                out.append("  Predicted by the model, not measured (interval: where 95 % of "
                           "new runs would fall):")
                out += _predictions_table(predictions)
        if isinstance(g.bottleneck_name, str):
            imbalance = _num(g.load_imbalance, ".3f", "unknown")
            out.append(f"  Bottleneck: {g.bottleneck_name} ({g.bottleneck_phase}: "
                       f"{100 * g.share_baseline:.1f} % of the time at the baseline -> "
                       f"{100 * g.share_largest:.1f} % at {g.largest_scale:g}x); "
                       f"load imbalance (max/mean compute) {imbalance}")
        out += [f"  ALERT {a.message}" for a in _select(result.alerts, keys).itertuples()]
        out += [f"  Note: {note}" for note in g.notes]
    if len(excluded):
        out += ["", f"Excluded ({len(excluded)}):"]
        out += [f"  {row.source}: {row.reason}" for row in excluded.itertuples(index=False)]
    return "\n".join(out) + "\n"


def render(result: Analysis, excluded: pd.DataFrame, fmt: str) -> str:
    """``result`` in format ``table``, ``json`` or ``csv``."""
    if fmt == "json":
        return to_json(result, excluded) + "\n"
    if fmt == "csv":
        return to_csv(result)
    return to_table(result, excluded)
