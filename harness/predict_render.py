"""``harness predict`` output: a table for people, one JSON document, or CSV.

Every figure is a prediction and says so, with its extrapolation distance. The JSON document::

    {"schema": "harness.predict/1",
     "targets": {source, baseline_cores, p2_alert, rows[{scale, efficiency}]},
     "machine": {name, cores_per_node, nodes, inter_measured, source, overrides[]} | null,
     "placement": str, "phase_times": "mean over ranks, averaged over repetitions",
     "groups": [{workload, mode, variant, size, problem, machine, baseline_cores,
                 baseline_seconds, measured_cores[],
                 phases[{phase, chosen: mechanistic | empirical | held | null, reason,
                         empirical{formula, c0, c1, a, b, holdout_error, noise, points} | null,
                         mechanistic{terms[], factor, rate, spread, spread_assumed,
                                     holdout_error, points, calibration_runs} | null}],
                 remainder{formula | null, constant | null},
                 total{method: phases | whole, held, phase_error, whole_error, reason} | null,
                 predictions[{scale, cores, label: "predicted" | "infeasible", infeasible,
                              extrapolation, far_extrapolated, seconds, pi95, efficiency,
                              efficiency_pi95, speedup, target, status, uncertain, alert,
                              interval_assumed, total_method: phases | whole, phase_sum,
                              phases{name: {seconds, pi95, model}}, remainder}],
                 dominant{scale, cores, phase, name, share, shares{}} | null,
                 what_ifs[{name, assumption, changes[], applicable,
                           rows[{scale, cores, seconds, efficiency, status, gain}]}],
                 notes[]}],
     "excluded": [{source, workload, mode, variant, cores, reason}]}

``pi95`` is the 95 % interval for one new run; ``status`` is ``pass``, ``fail``, ``no-target``
or ``uncertain`` (interval unknown or wider than a factor 10: never judged);
``interval_assumed`` says a phase's interval is an assumed factor 2, not measured spread;
``total_method`` says whether ``seconds`` is the phase sum (``phase_sum``: the phases and the
remainder) or the whole-curve model's total (``harness.totalchoice``); the phases are each
phase's own prediction either way; ``gain`` the efficiency a what-if adds to the prediction
at that scale. NaN and infinities are ``null``.
The CSV has one row per group, scale and quantity (each phase, ``remainder``, ``total``, and a
``total`` row per what-if, ``scenario`` naming it).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from harness.documents import PREDICT_FAMILY
from harness.machine import MachineModel
from harness.metrics import cores_text, label
from harness.phasechoice import EMPIRICAL
from harness.phasemodel import PLACEMENT
from harness.predict import GroupForecast
from harness.render import _grid, _plain, csv_cell
from harness.targets import Targets

SCHEMA = f"{PREDICT_FAMILY}1"
FORMATS = ("table", "json", "csv")
PHASE_TIMES = "mean over ranks, averaged over repetitions"


def _pair(low: Any, high: Any) -> list[float] | None:
    low, high = _plain(low), _plain(high)
    return None if low is None or high is None else [low, high]


def _empirical(fit: Any, holdout_error: float) -> dict[str, Any] | None:
    if fit is None:
        return None
    return {"formula": fit.describe(), "c0": _plain(fit.c0), "c1": _plain(fit.c1),
            "a": _plain(fit.a), "b": _plain(fit.b), "holdout_error": _plain(holdout_error),
            "noise": _plain(fit.noise), "points": int(fit.points)}


def _mechanistic(model: Any) -> dict[str, Any] | None:
    if model is None:
        return None
    cal = model.calibration
    return {"terms": list(model.terms), "factor": _plain(cal.factor), "rate": _plain(cal.rate),
            "spread": _plain(cal.spread), "spread_assumed": model.spread_assumed,
            "holdout_error": _plain(model.holdout_error), "points": int(model.points),
            "calibration_runs": int(cal.runs)}


def _prediction(row: Any, forecast: GroupForecast) -> dict[str, Any]:
    out = {"scale": _plain(row.scale), "cores": int(row.cores), "label": row.label,
           "infeasible": row.infeasible or None}
    if not row.feasible:
        return out
    phases = {c.phase: {"seconds": _plain(getattr(row, f"phase_{c.phase}")),
                        "pi95": _pair(getattr(row, f"low_{c.phase}"),
                                      getattr(row, f"high_{c.phase}")),
                        "model": c.chosen} for c in forecast.phases}
    out.update(extrapolation=_plain(row.extrapolation),
               far_extrapolated=bool(row.far_extrapolated), seconds=_plain(row.seconds),
               pi95=_pair(row.pi95_low, row.pi95_high), efficiency=_plain(row.efficiency),
               efficiency_pi95=_pair(row.efficiency_pi95_low, row.efficiency_pi95_high),
               speedup=_plain(row.speedup), target=_plain(row.target), status=row.status,
               uncertain=bool(row.uncertain), alert=bool(row.alert),
               interval_assumed=bool(row.interval_assumed),
               total_method=str(row.total_method), phase_sum=_plain(row.phase_sum),
               phases=phases,
               remainder=_plain(row.remainder))
    return out


def machine_document(machine: MachineModel | None) -> dict[str, Any] | None:
    """What the JSON says about the machine model (None without one)."""
    if machine is None:
        return None
    return {"name": machine.name, "cores_per_node": machine.cores_per_node,
            "nodes": machine.nodes, "inter_measured": machine.inter_measured,
            "source": {k: v for k, v in machine.source.items() if k != "overrides"},
            "overrides": list(machine.source.get("overrides", []))}


def to_document(forecasts: list[GroupForecast], targets: Targets,
                machine: MachineModel | None, excluded: pd.DataFrame) -> dict[str, Any]:
    """The prediction as the ``harness.predict/1`` document (module docstring)."""
    groups = []
    for f in forecasts:
        rest = f.remainder
        groups.append({
            **f.keys, "baseline_cores": f.baseline_cores,
            "baseline_seconds": _plain(f.baseline_seconds), "measured_cores": f.measured_cores,
            "phases": [{"phase": c.phase, "chosen": c.chosen, "reason": c.reason,
                        "empirical": _empirical(c.empirical, c.empirical_error),
                        "mechanistic": _mechanistic(c.mechanistic)} for c in f.phases],
            "remainder": {"formula": rest.fit.describe() if rest.fit else None,
                          "constant": None if rest.fit else _plain(rest.constant)},
            "total": _total_document(f),
            "predictions": [_prediction(r, f) for r in f.rows.itertuples(index=False)],
            "dominant": f.dominant, "what_ifs": f.what_ifs, "notes": list(f.notes),
        })
    return {"schema": SCHEMA, "targets": targets.to_dict(),
            "machine": machine_document(machine), "placement": PLACEMENT,
            "phase_times": PHASE_TIMES, "groups": groups,
            "excluded": [{k: _plain(v) for k, v in row.items()}
                         for row in excluded.to_dict(orient="records")]}


def _total_document(f: GroupForecast) -> dict[str, Any] | None:
    t = f.total
    if t is None:
        return None
    return {"method": t.method, "held": t.held, "phase_error": _plain(t.phase_error),
            "whole_error": _plain(t.whole_error), "reason": t.reason}


def to_json(forecasts: list[GroupForecast], targets: Targets, machine: MachineModel | None,
            excluded: pd.DataFrame) -> str:
    """One JSON document; NaN and infinities never appear (they are null)."""
    return json.dumps(to_document(forecasts, targets, machine, excluded), indent=2,
                      allow_nan=False, default=_plain) + "\n"


CSV_COLUMNS = ["workload", "mode", "variant", "size", "problem", "machine", "scenario", "scale",
               "cores", "label", "extrapolation", "far_extrapolated", "quantity", "model",
               "seconds", "pi95_low", "pi95_high", "efficiency", "efficiency_pi95_low",
               "efficiency_pi95_high", "target", "status"]


def _csv_rows(f: GroupForecast) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for r in f.rows.itertuples(index=False):
        common = {**f.keys, "scenario": "prediction", "scale": r.scale, "cores": int(r.cores),
                  "label": r.label}
        if not r.feasible:
            rows.append({**common, "quantity": "total", "status": "infeasible"})
            continue
        common.update(extrapolation=r.extrapolation, far_extrapolated=bool(r.far_extrapolated))
        for c in f.phases:
            rows.append({**common, "quantity": c.phase, "model": c.chosen,
                         "seconds": getattr(r, f"phase_{c.phase}"),
                         "pi95_low": getattr(r, f"low_{c.phase}"),
                         "pi95_high": getattr(r, f"high_{c.phase}")})
        rows.append({**common, "quantity": "remainder", "model": EMPIRICAL,
                     "seconds": r.remainder})
        rows.append({**common, "quantity": "total", "model": r.total_method,
                     "seconds": r.seconds,
                     "pi95_low": r.pi95_low, "pi95_high": r.pi95_high,
                     "efficiency": r.efficiency, "efficiency_pi95_low": r.efficiency_pi95_low,
                     "efficiency_pi95_high": r.efficiency_pi95_high, "target": r.target,
                     "status": r.status})
        for w in f.what_ifs:
            for wr in w["rows"]:
                if wr["cores"] == int(r.cores):
                    rows.append({**common, "scenario": w["name"], "quantity": "total",
                                 "seconds": wr["seconds"], "efficiency": wr["efficiency"],
                                 "status": wr["status"]})
    return rows


def to_csv(forecasts: list[GroupForecast]) -> str:
    """One row per group, scale and quantity (module docstring); text cells made safe."""
    frame = pd.DataFrame([row for f in forecasts for row in _csv_rows(f)],
                         columns=CSV_COLUMNS)
    for column in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[column]):
            frame[column] = frame[column].map(csv_cell)
    return frame.to_csv(index=False, lineterminator="\n")


def _num(value: Any, spec: str) -> str:
    value = _plain(value)
    return "-" if value is None else format(value, spec)


def _percent(value: Any) -> str:
    value = _plain(value)
    return "-" if value is None else f"{100 * value:.1f} %"


def _eff(value: Any) -> str:
    """An efficiency: three decimals, or two significant digits below 0.01."""
    value = _plain(value)
    if value is None:
        return "-"
    return f"{value:.3f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"


def _phase_table(f: GroupForecast) -> list[str]:
    rows = []
    for c in f.phases:
        emp = c.empirical.describe() if c.empirical else "-"
        mech = c.mechanistic.describe() if c.mechanistic else "-"
        rows.append((c.phase, c.chosen or "-", emp,
                     _percent(c.empirical_error if c.empirical else None), mech,
                     _percent(c.mechanistic.holdout_error if c.mechanistic else None)))
    headers = ("phase", "chosen", "empirical t(x), x = p/p0", "hold-out",
               "mechanistic: terms x calibration factor", "hold-out")
    out = _grid(headers, rows, left=(headers[0], headers[1], headers[2], headers[4]),
                indent="    ")
    return out + [f"    {c.phase}: {c.reason}" for c in f.phases]


def _prediction_table(f: GroupForecast) -> list[str]:
    phases = [c.phase for c in f.phases]
    rows = []
    for r in f.rows.itertuples(index=False):
        if not r.feasible:
            rows.append((f"{r.scale:g}x", str(int(r.cores)), "infeasible", "-", "-", "-", "-",
                         "-", "-", *("-" for _ in phases), "-"))
            continue
        distance = (f"{r.extrapolation:.3g}x" + (" far" if r.far_extrapolated else "")
                    if r.extrapolation > 1 else "within data")
        rows.append((f"{r.scale:g}x", str(int(r.cores)),
                     f"{r.seconds:.4g}" + ("" if r.total_method == "phases" else " W"),
                     _interval_text(r.pi95_low, r.pi95_high, ".3g"), _eff(r.efficiency),
                     _eff_interval(r.efficiency_pi95_low, r.efficiency_pi95_high),
                     "-" if _plain(r.target) is None else f"> {r.target:.2f}",
                     f"{r.status} (predicted" + (", assumed interval)" if r.interval_assumed
                                                 else ")") + (" P2" if r.alert else ""),
                     distance,
                     *(_num(getattr(r, f"phase_{p}"), ".3g") for p in phases),
                     _num(r.remainder, ".3g")))
    out = _grid(("scale", "cores", "T s", "95 % PI", "E", "95 % PI", "target", "status",
                 "extrapolation", *(f"{p} s" for p in phases), "rest s"), rows,
                left=("status",), indent="    ")
    if "total_method" in f.rows and (f.rows["total_method"] == "whole").any():
        out.append("    W: the total by the whole-curve model (harness analyze); the phases "
                   "are their own predictions and add up to the phase sum")
    return out + [f"    {r.scale:g}x ({int(r.cores)} cores) is infeasible: {r.infeasible}"
                  for r in f.rows.itertuples(index=False) if not r.feasible]


def _interval_text(low: Any, high: Any, spec: str) -> str:
    pair = _pair(low, high)
    return "-" if pair is None else f"{format(pair[0], spec)}-{format(pair[1], spec)}"


def _eff_interval(low: Any, high: Any) -> str:
    pair = _pair(low, high)
    return "-" if pair is None else f"{_eff(pair[0])}-{_eff(pair[1])}"


def _what_if_lines(f: GroupForecast) -> list[str]:
    shown = [w for w in f.what_ifs if w["applicable"]]
    if not shown:
        return []
    scales = [row["scale"] for row in shown[0]["rows"]]
    rows = [(w["name"], *(f"{_eff(row['efficiency'])} ({row['gain']:+.3g})" for row in w["rows"]))
            for w in shown]
    out = ["  What-ifs (predicted E, and the change it buys over the prediction above):"]
    out += _grid(("what-if", *(f"{s:g}x" for s in scales)), rows, left=("what-if",),
                 indent="    ")
    out += [f"    {w['name']}: {w['assumption']}" for w in shown]
    out += [f"    {w['name']}: no phase it changes" for w in f.what_ifs if not w["applicable"]]
    return out


def _group_lines(f: GroupForecast) -> list[str]:
    k = f.keys
    measured = ", ".join(map(str, f.measured_cores))
    out = ["", f"== {label(k['workload'], k['mode'], k['variant'], k['problem'])}: baseline "
               f"{cores_text(f.baseline_cores)}, T0 = {f.baseline_seconds:.4g} s measured "
               f"(core counts measured: {measured}) =="]
    if k["machine"]:
        out.append(f"  Runs made on: {k['machine']}")
    out.append("  Phase models (seconds per repetition):")
    out += _phase_table(f)
    rest = f.remainder
    out.append("  Remainder (total - phases): " + (rest.fit.describe() if rest.fit else
                                                   f"{rest.constant:.3g} s, held constant"))
    if f.total is not None:
        out.append(f"  Total: {f.total.reason}")
    out.append("  Predicted, not measured (extrapolation = scale / largest measured scale):")
    out += _prediction_table(f)
    if f.dominant:
        d = f.dominant
        name = f" ({d['name']})" if d["name"] != d["phase"] else ""
        out.append(f"  Dominant at {d['scale']:g}x (predicted): {d['phase']}{name}, "
                   f"{100 * d['share']:.0f} % of the predicted phase sum")
    out += _what_if_lines(f)
    out += [f"  Note: {note}" for note in f.notes]
    return out


def to_table(forecasts: list[GroupForecast], targets: Targets, machine: MachineModel | None,
             excluded: pd.DataFrame) -> str:
    """The prediction for people: per group the phase models, predictions and what-ifs."""
    out = ["Every figure below is a PREDICTION, not a measurement. Phase times: "
           f"{PHASE_TIMES}.",
           f"Targets: {targets.source} (P2 alert below {targets.p2_alert:.2f}); "
           f"uncertain = interval unknown or wider than a factor 10: not judged"]
    if machine is None:
        out.append("Machine model: none (--machine): every phase fitted empirically")
    else:
        inter = ("inter-node level measured" if machine.inter_measured else
                 "inter-node level not probed: intra-node figures used beyond one node")
        overrides = machine.source.get("overrides")
        out.append(f"Machine model: {machine.name or 'unnamed'}, {machine.cores_per_node} "
                   f"cores per node, {inter}"
                   + (f"; --set {' '.join(overrides)}" if overrides else ""))
        out.append(f"Placement assumed: {PLACEMENT}")
        notes = machine.source.get("notes", [])
        if machine.source.get("contended"):
            out.append("Machine model: probed while other work ran (contended): its figures "
                       "are not the machine's alone")
        out += [f"Machine model note: {note}" for note in notes if isinstance(note, str)
                and not note.startswith("contended")]
    for f in forecasts:
        out += _group_lines(f)
    if len(excluded):
        out += ["", f"Excluded ({len(excluded)}):"]
        out += [f"  {row.source}: {row.reason}" for row in excluded.itertuples(index=False)]
    return "\n".join(out) + "\n"


def render(forecasts: list[GroupForecast], targets: Targets, machine: MachineModel | None,
           excluded: pd.DataFrame, fmt: str) -> str:
    """``forecasts`` as ``table``, ``json`` or ``csv``."""
    if fmt == "json":
        return to_json(forecasts, targets, machine, excluded)
    if fmt == "csv":
        return to_csv(forecasts)
    return to_table(forecasts, targets, machine, excluded)

