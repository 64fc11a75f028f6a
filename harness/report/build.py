"""Build a report from inputs and write it: ``index.html``, ``summary.md``, ``points.csv`` and
``plots/<group>-<plot>.csv`` (+ ``.svg``) beside each plot.

The output directory is written whole or not at all: everything goes to a temporary directory
beside it, which is then renamed into place; a previous report there is replaced only after the
new one is complete, and a directory that is not a report is never touched.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

from harness import __version__, analysis
from harness.errors import DataError
from harness.report import data, html, markdown, plots, sections, sources
from harness.targets import Targets

TITLE = "Scaling efficiency report"
#: files that mark a directory as a report this command may replace
MARKERS = ("index.html", "summary.md", "points.csv")


@dataclass
class Report:
    """Everything the HTML and Markdown show."""

    title: str
    created: str
    version: str
    inputs: list[str]
    targets: Targets
    kpi: list[dict[str, Any]]
    workloads: list[dict[str, Any]]
    sections: list[data.Section]
    excluded: pd.DataFrame
    points: pd.DataFrame
    alert_count: int
    headline: str
    notice: str = ""
    files: dict[str, pd.DataFrame] = field(default_factory=dict)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _headline(workloads: list[dict[str, Any]], points: pd.DataFrame, alert_count: int) -> str:
    """One sentence: who misses the 100x target (and how we know), who cannot be judged, how
    many measured points miss their target, how many alerts."""
    n = len(workloads)
    heads = [w["headline"] for w in workloads]
    known = [v for v in heads if v is not None]
    fail = [v for v in known if v.status == "fail"]
    parts = []
    if known:
        text = (f"{len(fail)} of {_plural(len(known), 'workload')} with a 100× value "
                "miss the 100× target")
        predicted = sum(v.kind == "predicted" for v in fail)
        if predicted:
            text += f" ({predicted} by prediction, not measurement)"
        parts.append(text)
    if len(known) < n:
        parts.append(f"{n - len(known)} of {_plural(n, 'workload')} have neither a 100× "
                     "measurement nor a model to predict it")
    measured_fail = int((points["status"] == "fail").sum()) if "status" in points else 0
    parts.append(f"{_plural(measured_fail, 'measured point')} below target")
    parts.append(_plural(alert_count, "P2 alert"))
    text = "; ".join(parts) + "."
    return text[0].upper() + text[1:]


def assemble(paths: list[Path], targets: Targets, baseline_cores: int | None = None) -> Report:
    """Read, analyze and lay out a report (nothing written).

    Raises
    ------
    DataError
        ``nothing to report in PATH`` when the inputs hold no runs; the analyzer's errors for
        data it cannot use.
    """
    loaded = sources.load(paths)
    created = datetime.now(timezone.utc).isoformat(timespec="seconds")
    shown = [str(p) for p in paths]
    if loaded.repetitions is None:
        kpi = [{"scale": s, "target": t, "value": None, "status": "no data", "failing": 0,
                "groups": 0, "missing": 0} for s, t in zip(targets.scales, targets.efficiencies,
                                                           strict=True)]
        n = len(loaded.excluded)
        runs = "the 1 run" if n == 1 else f"all {n} runs"
        headline = (f"Nothing could be measured: {runs} in the inputs left out (failed, "
                    "unverified or oversubscribed); the list of runs left out says why.")
        return Report(TITLE, created, __version__, shown, targets, kpi, [], [], loaded.excluded,
                      pd.DataFrame(columns=data.POINTS_CSV_COLUMNS), 0, headline)
    result = analysis.analyze(loaded.repetitions, targets, baseline_cores)
    preds = data.predictions(result)
    groups = sections.build(result, loaded, preds)
    files: dict[str, pd.DataFrame] = {}
    for section in groups:
        section.plots = plots.draw(section, targets)
        files.update({f"plots/{p.stem}.csv": p.table for p in section.plots})
    workloads = data.workload_rows(result, preds, groups)
    order = {row["slug"]: i for i, row in enumerate(workloads)}
    groups.sort(key=lambda s: order[s.slug])  # sections in the workload table's order
    alert_count = len(result.alerts)
    return Report(TITLE, created, __version__, shown, targets, data.kpi_rows(result, preds),
                  workloads, groups, loaded.excluded, data.points_csv(result, preds),
                  alert_count, _headline(workloads, result.points, alert_count), files=files)


def _is_report(path: Path) -> bool:
    entries = {p.name for p in path.iterdir()}
    return not entries or any(m in entries for m in MARKERS)


def write(report: Report, out: Path) -> Path:
    """Write the report into the directory ``out`` (created or replaced whole).

    Raises
    ------
    DataError
        ``out`` exists and is not a directory or not a report, or it cannot be written.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or not _is_report(out)):
        raise DataError(f"{out}: exists and is not a report directory; choose another -o")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except FileExistsError as e:
        raise DataError(f"{out}: cannot write the report there (a parent is not a "
                        "directory)") from e
    except OSError as e:
        raise DataError(f"{out}: cannot write the report there ({e.strerror})") from e
    try:
        (staging / "plots").mkdir()
        (staging / "index.html").write_text(html.render(report), encoding="utf-8")
        (staging / "summary.md").write_text(markdown.render(report), encoding="utf-8")
        report.points.to_csv(staging / "points.csv", index=False, lineterminator="\n")
        for name, frame in report.files.items():
            frame.to_csv(staging / name, index=False, lineterminator="\n")
        for section in report.sections:
            for plot in section.plots:
                (staging / "plots" / f"{plot.stem}.svg").write_text(plot.svg, encoding="utf-8")
        os.chmod(staging, 0o755)
        old = None
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old.", dir=out.parent))
            os.rename(out, old / "report")
        os.rename(staging, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except OSError as e:
        shutil.rmtree(staging, ignore_errors=True)
        raise DataError(f"{out}: cannot write the report there ({e.strerror or e})") from e
    return out
