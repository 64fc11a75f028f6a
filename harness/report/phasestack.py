"""The report's "Predicted phase breakdown": ``harness predict`` per group, laid out for a page.

The prediction is the ``harness.predict/1`` document (:func:`harness.predict_render.to_document`
over :func:`harness.predict.forecast` and :func:`harness.whatif.what_ifs`), read by field name
so fields added to it later are ignored. Per group it gives:

- ``stack``: one row per bar segment, measured (the report's phase breakdown: mean over ranks,
  median over repetitions, the untimed rest as ``other``) and predicted (each phase's predicted
  seconds per repetition at each target scale, the remainder as ``other``), with the total's
  95 % prediction interval and the extrapolation distance on predicted rows;
- ``phases``: each phase's chosen model (empirical, mechanistic or held) and its predicted
  seconds and share at the largest predicted scale;
- ``what_ifs``: each what-if's efficiency gain over the prediction at each scale (with a
  machine model only).

Scales count from each group's smallest measured core count, as ``harness predict`` counts
them. Nothing here is a measurement except rows whose ``series`` is ``measured``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from harness import machinefile, predict, predict_render, whatif
from harness.diagnosis import PHASE_NAMES
from harness.metrics import KEYS
from harness.phasechoice import EMPIRICAL
from harness.report import data, plots
from harness.targets import Targets

MEASURED, PREDICTED = "measured", "predicted"
#: the predicted remainder (total minus the phases) is the measured "other" segment's successor
OTHER = plots.OTHER
STACK_COLUMNS = ["series", "scale", "cores", "phase", "seconds", "bottom", "model", "total",
                 "total_pi95_low", "total_pi95_high", "extrapolation", "far_extrapolated",
                 "label"]
PHASE_COLUMNS = [*KEYS, "label", "phase", "model", "reason", "scale", "cores", "extrapolation",
                 "seconds", "pi95_low", "pi95_high", "share"]
WHATIF_COLUMNS = [*KEYS, "label", "what_if", "assumption", "scale", "cores", "efficiency",
                  "gain", "status"]


@dataclass
class GroupStack:
    """One group's measured and predicted phase stacks, model choices and what-ifs."""

    section: data.Section
    stack: pd.DataFrame
    phases: pd.DataFrame
    what_ifs: pd.DataFrame
    baseline_cores: int
    dominant: dict[str, Any] | None
    notes: list[str]
    plot: Any = None


@dataclass
class PhasePrediction:
    """The section: the machine model used (None: empirical fits only) and one entry per
    group that has phase timings."""

    machine: str | None
    groups: list[GroupStack] = field(default_factory=list)
    document: dict[str, Any] = field(default_factory=dict)
    #: the document as ``harness predict --format json`` writes it (``phase-prediction.json``)
    json_text: str = ""

    def table(self) -> pd.DataFrame:
        """Every group's phase rows (``phase-prediction.csv``)."""
        frames = [g.phases for g in self.groups if len(g.phases)]
        return pd.concat(frames, ignore_index=True) if frames else \
            pd.DataFrame(columns=PHASE_COLUMNS)

    def what_if_table(self) -> pd.DataFrame:
        """Every group's what-if gains (``phase-whatifs.csv``)."""
        frames = [g.what_ifs for g in self.groups if len(g.what_ifs)]
        return pd.concat(frames, ignore_index=True) if frames else \
            pd.DataFrame(columns=WHATIF_COLUMNS)


def _num(value: Any) -> float:
    return data.as_float(value) if value is not None else math.nan


def _measured(section: data.Section) -> list[dict[str, Any]]:
    frame = plots.phase_table(section)
    if frame.empty:
        return []
    p0 = float(section.group.get("baseline_cores", 1))
    totals = frame.groupby("cores")["seconds"].sum()
    return [{"series": MEASURED, "scale": r.cores / p0, "cores": int(r.cores), "phase": r.phase,
             "seconds": r.seconds, "bottom": r.bottom, "model": "",
             "total": float(totals[r.cores]), "label": MEASURED} for r in frame.itertuples()]


def _predicted(group: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for p in group.get("predictions", []):
        common = {"series": PREDICTED, "scale": _num(p.get("scale")), "cores": int(p["cores"]),
                  "label": p.get("label", PREDICTED)}
        if p.get("label") != PREDICTED:  # infeasible: no bar, the reason in the table
            rows.append({**common, "phase": "", "seconds": math.nan, "bottom": 0.0,
                         "model": p.get("infeasible") or ""})
            continue
        interval = p.get("pi95") or [None, None]
        common.update(total=_num(p.get("seconds")), total_pi95_low=_num(interval[0]),
                      total_pi95_high=_num(interval[1]),
                      extrapolation=_num(p.get("extrapolation")),
                      far_extrapolated=bool(p.get("far_extrapolated")))
        bottom = 0.0
        parts = [(name, _num(v.get("seconds")), v.get("model") or "")
                 for name, v in (p.get("phases") or {}).items()]
        parts.append((OTHER, _num(p.get("remainder")), EMPIRICAL))
        for name, seconds, model in parts:
            # a segment below zero (the phases' sum above the total) cannot be stacked: it is
            # drawn as nothing and kept, signed, in the table
            drawn = seconds if math.isfinite(seconds) and seconds > 0 else 0.0
            rows.append({**common, "phase": name, "seconds": seconds, "bottom": bottom,
                         "model": model})
            bottom += drawn
    return rows


def _phases(group: dict[str, Any], keys: dict[str, str]) -> pd.DataFrame:
    """Per phase: its chosen model, and its predicted seconds and share at each scale."""
    rows = []
    chosen = {p["phase"]: (p.get("chosen"), p.get("reason") or "")
              for p in group.get("phases", [])}
    for p in group.get("predictions", []):
        if p.get("label") != PREDICTED:
            continue
        total = _num(p.get("seconds"))
        for name, v in (p.get("phases") or {}).items():
            interval = v.get("pi95") or [None, None]
            seconds = _num(v.get("seconds"))
            model, reason = chosen.get(name, (v.get("model"), ""))
            rows.append({**keys, "label": PREDICTED, "phase": name, "model": model or "none",
                         "reason": reason, "scale": _num(p.get("scale")),
                         "cores": int(p["cores"]), "extrapolation": _num(p.get("extrapolation")),
                         "seconds": seconds, "pi95_low": _num(interval[0]),
                         "pi95_high": _num(interval[1]),
                         "share": seconds / total if total > 0 else math.nan})
    return pd.DataFrame(rows, columns=PHASE_COLUMNS)


def _what_ifs(group: dict[str, Any], keys: dict[str, str]) -> pd.DataFrame:
    rows = [{**keys, "label": PREDICTED, "what_if": w.get("name", ""),
             "assumption": w.get("assumption", ""),
             "scale": _num(r.get("scale")), "cores": int(r["cores"]),
             "efficiency": _num(r.get("efficiency")), "gain": _num(r.get("gain")),
             "status": r.get("status", "")}
            for w in group.get("what_ifs") or [] if w.get("applicable")
            for r in w.get("rows") or []]
    return pd.DataFrame(rows, columns=WHATIF_COLUMNS)


def group_stack(section: data.Section, group: dict[str, Any]) -> GroupStack:
    """One group's stacks and tables from its ``harness.predict/1`` group entry."""
    keys = {k: str(group.get(k, section.key.get(k, ""))) for k in KEYS}
    stack = pd.DataFrame(_measured(section) + _predicted(group), columns=STACK_COLUMNS)
    dominant = group.get("dominant")
    if isinstance(dominant, dict) and dominant.get("phase") == predict.REMAINDER:
        dominant = {**dominant, "name": OTHER}
    elif isinstance(dominant, dict):
        dominant = {**dominant, "name": PHASE_NAMES.get(dominant.get("phase"),
                                                         dominant.get("name"))}
    return GroupStack(section, stack, _phases(group, keys), _what_ifs(group, keys),
                      int(group.get("baseline_cores", 1)), dominant,
                      [str(n) for n in group.get("notes") or []])


def build(repetitions: pd.DataFrame, excluded: pd.DataFrame, sections: list[data.Section],
          targets: Targets, machine_file: Path | None) -> PhasePrediction:
    """Predict every group's phases at the targets' scales and lay them out per section.

    Parameters
    ----------
    repetitions, excluded
        The report's inputs (:func:`harness.report.sources.load`).
    sections
        The report's group sections; a group without phase timings gets no entry.
    machine_file
        A machine model TOML (``harness probe``); None: empirical fits only, no what-ifs.

    Raises
    ------
    MachineModelError
        The machine model cannot be read.
    BadInputError
        Runs ``harness predict`` refuses to pool.
    """
    model = machinefile.load(machine_file) if machine_file is not None else None
    forecasts = predict.forecast(repetitions, targets, machine=model)
    for f in forecasts:
        f.what_ifs = whatif.what_ifs(f, targets, model, [], False)
    document = predict_render.to_document(forecasts, targets, model, excluded)
    by_key = {tuple(str(g.get(k, "")) for k in KEYS): g for g in document["groups"]}
    out = PhasePrediction(model.name if model is not None else None, document=document,
                          json_text=predict_render.to_json(forecasts, targets, model, excluded))
    for section in sections:
        group = by_key.get(tuple(section.key[k] for k in KEYS))
        if group is None or not group.get("phases"):
            continue
        out.groups.append(group_stack(section, group))
    return out
