"""``summary.md``: the first screen of the report as GitHub-flavoured Markdown.

Small enough for a CI job summary (``$GITHUB_STEP_SUMMARY`` takes up to 1 MiB): the KPI table,
the workload table, the alert count and what was left out. Numbers are the same as in
``points.csv`` (efficiency to three decimals).
"""

from __future__ import annotations

from typing import Any

from harness.report.data import Value

#: runs left out listed by name; the rest are counted
MAX_EXCLUDED = 20
#: comparison and history rows listed; the rest are in comparison.csv / history.csv
MAX_ROWS = 40


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(v: Value | None) -> str:
    if v is None:
        return "no measurement, no model"
    return v.text() if v.kind == "predicted" else f"**{v.efficiency:.3f}** measured"


def _status(word: str) -> str:
    return {"pass": "✅ pass", "fail": "❌ **FAIL**"}.get(word, word.replace("fail", "❌ FAIL")
                                                            .replace("pass", "✅ pass"))


def _num(value: Any, spec: str) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "–"
    return format(number, spec) if number == number else "–"


def comparison(c: Any) -> list[str]:
    """The "Compared with BASE" lines: the count sentence and one row per shared point."""
    lines = ["", f"### Compared with {_cell(c.base)}", "", c.summary()]
    rows = c.rows()
    if rows:
        lines += ["", "| Workload | Cores | Time ratio | E base → new | ΔE | p | Verdict |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for r in rows[:MAX_ROWS]:
            verdict = "❌ **REGRESSION**" if r["regression"] else r["verdict"]
            lines.append(f"| {_cell(r['name'])} | {r['cores']} | ×{_num(r['ratio'], '.3f')} | "
                         f"{_num(r['base_efficiency'], '.3f')} → "
                         f"{_num(r['new_efficiency'], '.3f')} | "
                         f"{_num(r['efficiency_change'], '+.3f')} | {_num(r['p_value'], '.3g')} "
                         f"| {verdict} |")
        if len(rows) > MAX_ROWS:
            lines.append(f"\nand {len(rows) - MAX_ROWS} more points in `comparison.csv`.")
    return lines


def history(h: Any) -> list[str]:
    """The history lines: first and latest stored sweep per workload and target scale."""
    lines = ["", f"### History in the KPI store ({_cell(h.store)})", ""]
    if h.message:
        return [*lines, h.message]
    lines += ["| Workload | Machine | Scale | Sweeps | First | Latest | Change |",
              "|---|---|---:|---:|---:|---:|---:|"]
    for r in h.rows[:MAX_ROWS]:
        first, last = (f"{_num(v['efficiency'], '.3f')}"
                       + (" predicted" if v["kind"] == "predicted" else "")
                       + f" ({_cell(v['sweep_id'])})" for v in (r["first"], r["latest"]))
        lines.append(f"| {_cell(r['name'])} | {_cell(r['machine'])} | {r['scale']:g}× | "
                     f"{r['sweeps']} | {first} | {last} | {_num(r['change'], '+.3f')} |")
    if len(h.rows) > MAX_ROWS:
        lines.append(f"\nand {len(h.rows) - MAX_ROWS} more rows; every value in `history.csv`.")
    return lines


def phase_prediction(pp: Any) -> list[str]:
    """The "Predicted phase breakdown" lines: per group, measured and predicted seconds per
    phase (the chart's numbers), each phase's model, the dominant phase and the what-ifs."""
    basis = f"machine model {_cell(pp.machine)}" if pp.machine else \
        "empirical fits only, no machine model"
    lines = ["", "### Predicted phase breakdown", "",
             f"Seconds per repetition (mean over ranks); predicted ({basis}) values are "
             "predictions, not measurements, with the total's 95 % prediction interval and the "
             "extrapolation distance. Numbers: `phase-prediction.csv`, `phase-whatifs.csv`."]
    for g in pp.groups:
        lines += ["", f"#### {_cell(g.section.name)}", ""]
        points = g.stack.drop_duplicates(["series", "cores"])
        phases = [p for p in dict.fromkeys(g.stack["phase"]) if p]
        lines += ["| Bar | Cores | " + " | ".join(map(_cell, phases)) + " | Total (95 % PI) |",
                  "|---|---:|" + "---:|" * len(phases) + "---|"]
        for pt in points.itertuples():
            lines.append(_stack_row(g.stack, pt, phases))
        if g.dominant:
            d = g.dominant
            lines += ["", f"Dominant phase at {d['scale']:g}× (predicted): **{_cell(d['phase'])}**"
                          f", {100 * float(d['share']):.0f} % of the predicted time."]
        models = g.phases.drop_duplicates("phase")
        if len(models):
            lines += ["", "Models: " + "; ".join(f"{_cell(m.phase)}: {_cell(m.model)}"
                                                 for m in models.itertuples()) + "."]
        if len(g.what_ifs):
            lines += ["", "| What-if | Scale | Predicted E | Gain |", "|---|---:|---:|---:|"]
            lines += [f"| {_cell(w.what_if)} | {w.scale:g}× | {_num(w.efficiency, '.3f')} | "
                      f"{_num(w.gain, '+.3f')} |" for w in g.what_ifs.itertuples()]
    return lines


def _stack_row(stack: Any, pt: Any, phases: list[str]) -> str:
    """One bar as a table row: which bar (measured, or predicted with its distance), cores,
    seconds per phase, total."""
    if pt.series == "measured":
        bar, total = "measured", f"**{_num(pt.total, '.3g')}** s"
    elif pt.label != "predicted":
        cells = " | ".join("–" for _ in phases)
        return f"| {pt.scale:g}× infeasible | {pt.cores} | {cells} | {_cell(pt.model)} |"
    else:
        distance = "interpolated" if pt.extrapolation <= 1 else \
            f"extrapolated {pt.extrapolation:.3g}×" + (" (far)" if pt.far_extrapolated else "")
        bar = f"{pt.scale:g}× *predicted*, {distance}"
        total = (f"*{_num(pt.total, '.3g')} predicted* ({_num(pt.total_pi95_low, '.3g')} to "
                 f"{_num(pt.total_pi95_high, '.3g')}) s")
    rows = stack.loc[(stack["series"] == pt.series) & (stack["cores"] == pt.cores)]
    seconds = dict(zip(rows["phase"], rows["seconds"], strict=True))
    cells = " | ".join(_num(seconds.get(p), ".3g") for p in phases)
    return f"| {bar} | {pt.cores} | {cells} | {total} |"


def render(report: Any) -> str:
    """The Markdown summary of a :class:`harness.report.build.Report`."""
    lines = [f"## {report.title}", "", report.headline, "",
             "| Scale | Target | Current | Status |", "|---:|---:|---|---|"]
    for row in report.kpi:
        v = row["value"]
        where = f" ({_cell(v.group)})" if v is not None else ""
        lines.append(f"| {row['scale']:g}× | > {row['target']:.2f} | {_value(v)}{where} | "
                     f"{_status(row['status'])} |")
    lines += ["", "| Workload | 100× efficiency | Bottleneck | Mitigation |",
              "|---|---|---|---|"]
    for row in report.workloads:
        v = row["headline"]
        cell = _value(v) + (f" {_status(v.status)}" if v is not None else "")
        if v is None and row["largest"]:
            cell += f"; {row['largest']}"
        lines.append(f"| {_cell(row['name'])} | {_cell(cell)} | {_cell(row['bottleneck'])} | "
                     f"{_cell(row['mitigation'])} |")
    if report.comparison is not None:
        lines += comparison(report.comparison)
    if report.history is not None:
        lines += history(report.history)
    if report.phase_prediction is not None:
        lines += phase_prediction(report.phase_prediction)
    lines += ["", f"Alerts: {report.alert_count} (P2: efficiency below "
                  f"{report.targets.p2_alert:.2f}). Runs left out: {len(report.excluded)}."]
    if report.notice:
        lines += ["", report.notice]
    if report.reference is not None:
        n = len(report.reference.sections)
        lines += ["", f"Reference data (not measured here; counted in no table above): "
                      f"{n} series from {_cell(report.reference.source)}, in `index.html` and "
                      "`reference.csv`."]
    if len(report.excluded):
        lines += ["", "Runs left out:", ""]
        shown = report.excluded.head(MAX_EXCLUDED)
        lines += [f"- {_cell(e.source)}: {_cell(e.reason)}" for e in shown.itertuples()]
        if len(report.excluded) > MAX_EXCLUDED:
            lines.append(f"- and {len(report.excluded) - MAX_EXCLUDED} more (see index.html)")
    lines += ["", "Predicted values come from the chosen scaling model (95 % prediction interval; "
                  "extrapolated N× = N times the largest measured scale). Full report: "
                  "`index.html`; numbers: `points.csv`.", ""]
    return "\n".join(lines)
