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


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(v: Value | None) -> str:
    if v is None:
        return "no measurement, no model"
    return v.text() if v.kind == "predicted" else f"**{v.efficiency:.3f}** measured"


def _status(word: str) -> str:
    return {"pass": "✅ pass", "fail": "❌ **FAIL**"}.get(word, word.replace("fail", "❌ FAIL")
                                                            .replace("pass", "✅ pass"))


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
