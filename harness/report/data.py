"""Assemble what a report shows from an analysis: KPI table, workload table, one section per group.

Pure pandas/Python over :class:`harness.analysis.Analysis` (no I/O, no plotting). Every value at a
target scale is either *measured* (a point at that scale) or *predicted* (the chosen model's value,
with its 95 % prediction interval and its extrapolation distance: target scale / largest measured
scale, "far" beyond 8x); a measured value always wins over a prediction (the analyzer predicts
only at scales that were not measured).

Per measured point the efficiency spread is the efficiency at the slowest and fastest repetition
(``E * T/T_max`` to ``E * T/T_min``, the baseline held at its median).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness.analysis import Analysis
from harness.diagnosis import COMPUTE_PHASES
from harness.metrics import KEYS, PHASE, label
from harness.modelpredict import FAR_EXTRAPOLATION
from harness.report import amdahl

#: the scale of the workload table's efficiency column
HEADLINE_SCALE = 100.0
POINTS_CSV_COLUMNS = [*KEYS, "kind", "cores", "scale", "seconds", "seconds_min", "seconds_max",
                      "repetitions", "rel_iqr", "speedup", "efficiency", "efficiency_low",
                      "efficiency_high", "karp_flatt", "extrapolation", "target", "status",
                      "model"]


@dataclass
class Value:
    """One efficiency at one scale for one group: measured, or predicted by a model."""

    group: str
    kind: str  # "measured" | "predicted"
    scale: float
    cores: float
    efficiency: float
    low: float = math.nan  # measured: slowest repetition; predicted: 95 % PI
    high: float = math.nan
    target: float = math.nan
    extrapolation: float = math.nan
    model: str = ""
    #: a prediction whose interval is too wide to judge against a target (the analyzer's
    #: ``uncertain``): no pass or fail
    uncertain: bool = False

    @property
    def status(self) -> str:
        if self.uncertain:
            return "uncertain"
        if not math.isfinite(self.target):
            return "no-target"
        return "pass" if self.efficiency > self.target else "fail"

    @property
    def far(self) -> bool:
        return self.kind == "predicted" and self.extrapolation > FAR_EXTRAPOLATION

    def detail(self) -> str:
        """For a prediction: ``95 % PI 0.55–0.70; extrapolated 50× (far)``; empty for a
        measurement. Extrapolated N× means N times the largest measured scale."""
        if self.kind == "measured":
            return ""
        interval = (f"95 % PI {self.low:.2f}–{self.high:.2f}"
                    if math.isfinite(self.low) and math.isfinite(self.high) else "no interval")
        if not math.isfinite(self.extrapolation):
            distance = "extrapolation unknown"
        elif self.extrapolation <= 1:
            distance = "interpolated"
        else:
            distance = f"extrapolated {self.extrapolation:.3g}×" + (" (far)" if self.far else "")
        return f"{interval}; {distance}"

    def text(self) -> str:
        """``0.781 measured`` or ``0.620 predicted (95 % PI 0.55–0.70; extrapolated 50×
        (far))``."""
        if self.kind == "measured":
            return f"{self.efficiency:.3f} measured"
        return f"{self.efficiency:.3f} predicted ({self.detail()})"


@dataclass
class Section:
    """Everything shown for one group (workload/mode/variant/problem)."""

    key: dict[str, str]
    name: str
    slug: str
    group: dict[str, Any]
    points: pd.DataFrame
    predictions: pd.DataFrame
    fits: pd.DataFrame
    chosen: str | None
    runner_up: str | None
    alerts: list[str]
    notes: list[str]
    excluded: pd.DataFrame
    provenance: dict[str, Any]
    amdahl_text: str = ""
    bottleneck_text: str = ""
    plots: list[Any] = field(default_factory=list)
    #: where the numbers come from when they are reference data, not measured by the harness
    reference: str = ""


def slug(text: str) -> str:
    """A file-name-safe form of a group label: ``cfd/strong/blocking [small]`` ->
    ``cfd-strong-blocking-small``."""
    return re.sub(r"[^A-Za-z0-9._]+", "-", text).strip("-")[:120] or "group"


def as_float(value: Any) -> float:
    """``value`` as a float; NaN for None, a missing value or anything not a number."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return math.nan
    return value


def select(frame: pd.DataFrame, key: dict[str, str]) -> pd.DataFrame:
    """The rows of ``frame`` that belong to the group ``key`` (all of KEYS present in frame)."""
    if frame.empty:
        return frame
    mask = np.ones(len(frame), dtype=bool)
    for column, value in key.items():
        if column in frame:
            mask &= (frame[column].astype(str) == value).to_numpy()
    return frame.loc[mask]


def predictions(result: Analysis) -> pd.DataFrame:
    """The analyzer's predictions (target scales that were not measured) in the report's
    columns; status, ``uncertain`` and ``far_extrapolated`` are the analyzer's
    (``harness.analysis``), never recomputed here."""
    p = result.predictions
    columns = [*KEYS, "scale", "cores", "efficiency", "pi95_low", "pi95_high", "model",
               "extrapolation", "far_extrapolated", "uncertain", "target", "status"]
    if p.empty or "scale" not in p:
        return pd.DataFrame(columns=columns)
    return p.reindex(columns=columns).reset_index(drop=True)


def spread(points: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Efficiency at the slowest and fastest repetition of each measured point."""
    e = points["efficiency"].to_numpy(dtype=float)
    t = points["seconds"].to_numpy(dtype=float)
    return (e * t / points["seconds_max"].to_numpy(dtype=float),
            e * t / points["seconds_min"].to_numpy(dtype=float))


def value_at(points: pd.DataFrame, preds: pd.DataFrame, name: str, scale: float,
             target: float) -> Value | None:
    """The group's efficiency at ``scale``: the measured point, else the prediction, else None."""
    at = points.loc[np.isclose(points["scale"].to_numpy(dtype=float), scale)] \
        if not points.empty else points
    if len(at):
        row = at.iloc[0]
        low, high = spread(at.iloc[:1])
        return Value(name, "measured", scale, float(row["cores"]), float(row["efficiency"]),
                     float(low[0]), float(high[0]), target)
    at = preds.loc[np.isclose(preds["scale"].to_numpy(dtype=float), scale)] \
        if not preds.empty else preds
    if len(at):
        row = at.iloc[0]
        return Value(name, "predicted", scale, float(row["cores"]), float(row["efficiency"]),
                     as_float(row["pi95_low"]), as_float(row["pi95_high"]), target,
                     as_float(row["extrapolation"]), str(row["model"]),
                     bool(row.get("uncertain", False)))
    return None


def group_keys(result: Analysis) -> list[dict[str, str]]:
    return [{k: str(row[k]) for k in KEYS} for _, row in result.groups.iterrows()]


def kpi_rows(result: Analysis, preds: pd.DataFrame) -> list[dict[str, Any]]:
    """The KPI table: per target scale, the worst group's value (measured or predicted).

    Each row: ``scale, target, value`` (:class:`Value` or None), ``status`` (``pass``, ``fail``,
    ``pass (predicted)``, ``fail (predicted)``, ``no data``), ``failing`` (groups below target)
    and ``missing`` (groups with neither a measurement nor a prediction at that scale).
    """
    targets = result.targets
    rows = []
    keys = group_keys(result)
    for scale, target in zip(targets.scales, targets.efficiencies, strict=True):
        values, missing = [], 0
        for key in keys:
            name = label(key["workload"], key["mode"], key["variant"], key["problem"])
            v = value_at(select(result.points, key), select(preds, key), name, scale, target)
            if v is None:
                missing += 1
            else:
                values.append(v)
        worst = min(values, key=lambda v: v.efficiency) if values else None
        status = "no data"
        if worst is not None:
            status = worst.status + (" (predicted)" if worst.kind == "predicted" else "")
        rows.append({"scale": scale, "target": target, "value": worst, "status": status,
                     "failing": sum(v.status == "fail" for v in values), "groups": len(keys),
                     "missing": missing})
    return rows


def _margin(points: pd.DataFrame, headline: Value | None) -> float:
    """How far a group is above (+) or below (-) its target: at 100x when known, else at its
    largest measured scale that has a target; +inf when neither is known (ranked last)."""
    if headline is not None and math.isfinite(headline.target):
        return headline.efficiency - headline.target
    return _measured_margin(points)


def _measured_margin(points: pd.DataFrame) -> float:
    """Efficiency minus target at the largest measured scale that has a target (+inf: none)."""
    with_target = points.loc[points["target"].astype(float).notna()] if not points.empty \
        else points
    if len(with_target):
        row = with_target.loc[with_target["scale"].idxmax()]
        return float(row["efficiency"] - row["target"])
    return math.inf


def workload_rows(result: Analysis, preds: pd.DataFrame, sections: list[Section]
                  ) -> list[dict[str, Any]]:
    """The workload table, worst to best against target: ``name, slug, headline`` (the 100x
    :class:`Value` or None), ``largest`` (text on the largest measured point), ``bottleneck``,
    ``mitigation``, ``margin`` (E - target at 100x, else at the largest measured scale) and
    ``measured_margin`` (at the largest measured scale: breaks ties)."""
    targets = result.targets
    target = float(targets.target_for(np.array([HEADLINE_SCALE]))[0])
    rows = []
    for s in sections:
        headline = value_at(s.points, s.predictions, s.name, HEADLINE_SCALE, target)
        largest = "only one core count measured"
        if not s.points.empty:
            top = s.points.loc[s.points["scale"].idxmax()]
            largest = f"largest measured: E = {top['efficiency']:.3f} at {top['scale']:g}×"
        name = s.group.get("bottleneck_name")
        phase = s.group.get("bottleneck_phase")
        name = name if isinstance(name, str) and name else None
        phase = phase if isinstance(phase, str) and phase else None
        serial = _fitted(s.fits, "amdahl", "f") if phase == "serial" else None
        mitigation = amdahl.mitigation(name, phase, serial)
        bottleneck = name or "none found"
        if name is None and not timed_overheads(s.points):
            bottleneck = "unknown: no phase timings"
            mitigation = "time the communication, I/O and synchronization phases to find it"
        rows.append({"name": s.name, "slug": s.slug, "headline": headline, "largest": largest,
                     "bottleneck": bottleneck, "mitigation": mitigation,
                     "margin": _margin(s.points, headline),
                     "measured_margin": _measured_margin(s.points)})
    return sorted(rows, key=lambda r: (r["margin"], r["measured_margin"]))


def timed_overheads(points: pd.DataFrame) -> bool:
    """Whether any phase other than local computation was timed (so a bottleneck could show)."""
    return any(c.startswith(PHASE) and c[len(PHASE):] not in COMPUTE_PHASES
               and points[c].notna().any() for c in points.columns)


def _fitted(fits: pd.DataFrame, model: str, param: str) -> float | None:
    if fits.empty or "model" not in fits:
        return None
    row = fits.loc[(fits["model"] == model) & (fits["status"] == "fitted")]
    return float(row.iloc[0][param]) if len(row) else None


def runner_up(group: dict[str, Any], fits: pd.DataFrame, chosen: str | None) -> str | None:
    """The fitted model that was not chosen (the analyzer's ``runner_up`` when it names one)."""
    named = group.get("runner_up")
    if isinstance(named, str) and named:
        return named
    if fits.empty or chosen is None:
        return None
    others = fits.loc[(fits["status"] == "fitted") & (fits["model"] != chosen), "model"]
    return str(others.iloc[0]) if len(others) else None


def points_csv(result: Analysis, preds: pd.DataFrame) -> pd.DataFrame:
    """``points.csv``: every measured point and every prediction, ``kind`` telling which.

    ``efficiency_low/high`` are the slowest/fastest repetition for a measured point and the
    95 % prediction interval for a predicted one.
    """
    measured = result.points.copy()
    if not measured.empty:
        measured["kind"] = "measured"
        measured["efficiency_low"], measured["efficiency_high"] = spread(measured)
    predicted = preds.rename(columns={"pi95_low": "efficiency_low",
                                      "pi95_high": "efficiency_high"})
    predicted = predicted.assign(kind="predicted",
                                 speedup=predicted["efficiency"] * predicted["scale"])
    parts = [f.reindex(columns=POINTS_CSV_COLUMNS) for f in (measured, predicted) if not f.empty]
    if not parts:
        return pd.DataFrame(columns=POINTS_CSV_COLUMNS)
    frame = pd.concat(parts, ignore_index=True)
    return frame.sort_values([*KEYS, "scale", "kind"], kind="stable", ignore_index=True)
