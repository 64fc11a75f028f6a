"""One report section per group: its frames, and the sentences a planner reads.

The "Amdahl analysis" paragraph states the fitted serial fraction with its 95 % interval and the
ceiling ``1/f``, then redoes the arithmetic from the largest measured point
(:mod:`harness.report.amdahl`), so a reader can check it by hand. The bottleneck sentence names
the phase whose share grows most, both shares, and the load imbalance.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from harness.analysis import Analysis
from harness.metrics import label
from harness.report import amdahl, data, sources


def _fit_row(fits: pd.DataFrame, model: str) -> pd.Series | None:
    if fits.empty or "model" not in fits:
        return None
    rows = fits.loc[fits["model"] == model]
    return rows.iloc[0] if len(rows) else None


def _interval(low: float, high: float, fmt) -> str:
    if math.isfinite(low) and math.isfinite(high):
        return f" (95 % CI {fmt(low)} to {fmt(high)})"
    return ""


def amdahl_text(mode: str, points: pd.DataFrame, fits: pd.DataFrame) -> str:
    """The "Amdahl analysis" paragraph (Gustafson's form in weak mode)."""
    model = "amdahl" if mode == "strong" else "gustafson"
    fit = _fit_row(fits, model)
    parts = []
    if fit is not None and fit["status"] == "fitted":
        f = float(fit["f"])
        low, high = float(fit["f_ci95_low"]), float(fit["f_ci95_high"])
        text = f"The {model.title()} fit gives a serial fraction f = {amdahl.percent(f)}"
        text += _interval(low, high, amdahl.percent)
        if mode == "strong" and not math.isfinite(amdahl.ceiling(f)):
            text += ", so Amdahl's law sets no speedup ceiling"
        elif mode == "strong":
            text += (f", so the speedup can never exceed 1/f = "
                     f"{amdahl.times(amdahl.ceiling(f))}")
            if math.isfinite(low) and math.isfinite(high):
                text += (f" ({amdahl.times(amdahl.ceiling(high))} to "
                         f"{amdahl.times(amdahl.ceiling(low))} over the interval)")
        else:
            text += "; weak scaling has no speedup ceiling"
        parts.append(text + ".")
    elif fit is not None and isinstance(fit.get("reason"), str) and fit["reason"]:
        parts.append(f"No {model.title()} fit: {fit['reason']}.")
    above = points.loc[points["scale"] > 1] if not points.empty else points
    if len(above):
        top = above.loc[above["scale"].idxmax()]
        e, r = float(top["efficiency"]), float(top["scale"])
        if mode == "strong" and e * r <= 1:
            text = (f"From the largest measurement: E = {e:.3f} at {r:g}× is a speedup of "
                    f"{e * r:.3g}×: more cores made the run slower, which no serial fraction "
                    "explains (Amdahl's law needs f ≤ 100 %); an overhead grows with the core "
                    "count — see the phase breakdown")
        elif mode == "strong":
            f = amdahl.amdahl_fraction(e, r)
            text = (f"From the largest measurement: E = {e:.3f} at {r:g}× gives "
                    f"f = (1/E − 1)/(r − 1) = (1/{e:.3f} − 1)/{r - 1:g} = {amdahl.percent(f)}")
            if f > 0:
                text += (f", a ceiling of 1/f = {amdahl.times(amdahl.ceiling(f))}; at 500× "
                         f"Amdahl's law would then give E = 1/(1 + f·499) = "
                         f"{amdahl.amdahl_efficiency(f, 500.0):.3f}")
            else:
                text += " (superlinear: no serial fraction shows)"
        else:
            f = amdahl.gustafson_fraction(e, r)
            text = (f"From the largest measurement: E = {e:.3f} at {r:g}× gives "
                    f"f = (1 − E)·r/(r − 1) = {amdahl.percent(f)}")
        parts.append(text + ".")
    return " ".join(parts) or "No point above the baseline: no serial fraction can be estimated."


def bottleneck_text(group: dict[str, Any]) -> str:
    name, phase = group.get("bottleneck_name"), group.get("bottleneck_phase")
    imbalance = data.as_float(group.get("load_imbalance"))
    tail = (f"; load imbalance (max/mean compute over ranks) {imbalance:.2f} at the largest scale"
            if math.isfinite(imbalance) else "; load imbalance unknown")
    if not isinstance(name, str) or not name:
        return "No bottleneck found" + tail + "."
    share0 = data.as_float(group.get("share_baseline"))
    share1 = data.as_float(group.get("share_largest"))
    largest = data.as_float(group.get("largest_scale"))
    return (f"Bottleneck: {name} — the {phase} phase grows from {100 * share0:.1f} % of the time "
            f"at the baseline to {100 * share1:.1f} % at {largest:g}×{tail}.")


def build(result: Analysis, loaded: sources.Loaded, preds: pd.DataFrame) -> list[data.Section]:
    """One :class:`~harness.report.data.Section` per group, in the analyzer's order."""
    out = []
    alerts = result.alerts
    for group in result.groups.to_dict("records"):
        key = {k: str(group[k]) for k in data.KEYS}
        name = label(key["workload"], key["mode"], key["variant"], key["problem"])
        fits = data.select(result.fits, key)
        chosen = group.get("model") if isinstance(group.get("model"), str) else None
        points = data.select(result.points, key).reset_index(drop=True)
        # the records' own facts (hosts, CPU, MPI, commit, Slurm jobs, dates), with what the
        # analyzer says of the group on top: its summary alone names no Slurm job or date
        prov = sources.provenance(loaded.repetitions, key) \
            if loaded.repetitions is not None else {}
        if isinstance(group.get("provenance"), dict):
            prov = {**prov, **group["provenance"]}
        prov = prov or None
        group_alerts = data.select(alerts, key)
        notes = group.get("notes")
        warnings = group.get("warnings")
        section = data.Section(
            key=key, name=name, slug=data.slug(name), group=group, points=points,
            predictions=data.select(preds, key).reset_index(drop=True), fits=fits,
            chosen=chosen, runner_up=data.runner_up(group, fits, chosen),
            alerts=[str(m) for m in group_alerts.get("message", [])],
            notes=[*(notes if isinstance(notes, list) else []),
                   *(warnings if isinstance(warnings, list) else [])],
            excluded=sources.excluded_for(loaded.excluded, key), provenance=prov or {})
        section.amdahl_text = amdahl_text(key["mode"], points, fits)
        section.bottleneck_text = bottleneck_text(group)
        out.append(section)
    return out
