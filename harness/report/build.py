"""Build a report from inputs and write it: ``index.html``, ``summary.md``, ``points.csv`` and
``plots/<group>-<plot>.csv`` (+ ``.svg``) beside each plot; ``reference.csv`` when reference
series are shown.

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

from harness import __version__, analysis, machinefile
from harness.errors import DataError
from harness.report import (
    comparison,
    data,
    html,
    markdown,
    phasestack,
    phasestack_plot,
    plots,
    sections,
    sources,
)
from harness.report import history as stored_history
from harness.targets import Targets

TITLE = "Scaling efficiency report"
#: files that mark a directory as a report this command may replace
MARKERS = ("index.html", "summary.md", "points.csv")


@dataclass
class Reference:
    """Series from outside the harness (a published scaling study), shown apart and labelled:
    they count in no KPI, workload table, headline or alert of the report."""

    source: str
    inputs: list[str]
    sections: list[data.Section]
    points: pd.DataFrame
    files: dict[str, pd.DataFrame]


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
    reference: Reference | None = None
    comparison: comparison.Comparison | None = None
    history: stored_history.History | None = None
    #: the "Predicted phase breakdown" (``--predict`` or ``--machine``); None: not asked for
    phase_prediction: phasestack.PhasePrediction | None = None


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


def _drawn(groups: list[data.Section], targets: Targets) -> dict[str, pd.DataFrame]:
    """Draw every section's plots; the CSV of each plot, by its path in the report."""
    files: dict[str, pd.DataFrame] = {}
    for section in groups:
        section.plots = plots.draw(section, targets)
        files.update({f"plots/{p.stem}.csv": p.table for p in section.plots})
    return files


def reference(paths: list[Path], source: str, targets: Targets) -> Reference:
    """Analyze reference series (CSV files or records) as their own groups, labelled with
    ``source``; each group's baseline is its smallest core count.

    Raises
    ------
    DataError
        No source named, nothing usable in ``paths``, or data the analyzer cannot use.
    """
    source = " ".join(source.split())
    if not source:
        raise DataError("--reference needs --reference-source: say where the reference "
                        "numbers come from (publication, repository, commit)")
    loaded = sources.load(paths)
    if loaded.repetitions is None:
        raise DataError(f"reference {' '.join(map(str, paths))}: every run was left out")
    result = analysis.analyze(loaded.repetitions, targets)
    preds = data.predictions(result)
    groups = sections.build(result, loaded, preds)
    for section in groups:
        section.reference = source
        section.slug = f"reference-{section.slug}"
    return Reference(source, [str(p) for p in paths], groups, data.points_csv(result, preds),
                     _drawn(groups, targets))


def _extras(report: Report, paths: list[Path], base: Any, threshold: float,
            store_url: str | None, history: bool) -> Report:
    """Add the comparison with ``base`` (a loaded side) and the store's history, and their
    files (``comparison.csv``, ``history.csv``, ``plots/history-*``)."""
    if base is not None:
        if report.sections:
            report.comparison = comparison.build(base, paths, threshold, report.targets)
        else:
            report.comparison = comparison.nothing(base.label, threshold)
        report.files["comparison.csv"] = report.comparison.frame
    if history:
        report.history = stored_history.build(store_url, report.sections, report.targets, paths)
        report.files["history.csv"] = report.history.frame
        report.files.update({f"plots/{p.stem}.csv": p.table for p in report.history.plots})
    return report


def assemble(paths: list[Path], targets: Targets, baseline_cores: int | None = None,
             reference_paths: list[Path] | None = None, reference_source: str = "", *,
             compare_base: str | None = None, threshold: str | None = None,
             store_url: str | None = None, history: bool = False,
             predict_phases: bool = False, machine_file: Path | None = None) -> Report:
    """Read, analyze and lay out a report (nothing written); with ``reference_paths``, a
    labelled section of reference series (:func:`reference`) too; with ``compare_base`` the
    comparison with that sweep (:mod:`harness.report.comparison`); with ``history`` the
    efficiency history in the store at ``store_url`` (:mod:`harness.report.history`); with
    ``predict_phases`` or a ``machine_file`` the predicted phase breakdown
    (:func:`phase_prediction`).

    Raises
    ------
    DataError
        ``nothing to report in PATH`` when the inputs hold no runs; the analyzer's errors for
        data it cannot use; a reference without its source; a BASE that is not a sweep, or
        one that cannot be compared with the inputs.
    StoreError
        The store cannot be reached or read.
    MachineModelError
        ``machine_file`` cannot be read as a machine model.
    """
    fraction = comparison.parse_threshold(threshold)
    base = comparison.load_base(compare_base, store_url) if compare_base is not None else None
    if machine_file is not None:
        machinefile.load(machine_file)  # a bad machine model is refused before any work
    report = _assemble(paths, targets, baseline_cores, reference_paths, reference_source,
                       predict_phases or machine_file is not None, machine_file)
    return _extras(report, paths, base, fraction, store_url, history)


def _assemble(paths: list[Path], targets: Targets, baseline_cores: int | None,
              reference_paths: list[Path] | None, reference_source: str,
              predict_phases: bool = False, machine_file: Path | None = None) -> Report:
    ref = reference(reference_paths, reference_source, targets) if reference_paths else None
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
                      pd.DataFrame(columns=data.POINTS_CSV_COLUMNS), 0, headline,
                      files=dict(ref.files) if ref else {}, reference=ref)
    result = analysis.analyze(loaded.repetitions, targets, baseline_cores)
    preds = data.predictions(result)
    groups = sections.build(result, loaded, preds)
    files = _drawn(groups, targets)
    if ref is not None:
        files.update(ref.files)
    workloads = data.workload_rows(result, preds, groups)
    order = {row["slug"]: i for i, row in enumerate(workloads)}
    groups.sort(key=lambda s: order[s.slug])  # sections in the workload table's order
    alert_count = len(result.alerts)
    report = Report(TITLE, created, __version__, shown, targets, data.kpi_rows(result, preds),
                    workloads, groups, loaded.excluded, data.points_csv(result, preds),
                    alert_count, _headline(workloads, result.points, alert_count), files=files,
                    reference=ref)
    if predict_phases:
        report.phase_prediction = phase_prediction(loaded, groups, targets, machine_file)
        report.files.update(phase_files(report.phase_prediction))
    return report


def phase_prediction(loaded: sources.Loaded, groups: list[data.Section], targets: Targets,
                     machine_file: Path | None) -> phasestack.PhasePrediction:
    """The predicted phase breakdown of the report's groups, each with its chart drawn."""
    section = phasestack.build(loaded.repetitions, loaded.excluded, groups, targets,
                               machine_file)
    for entry in section.groups:
        entry.plot = phasestack_plot.draw(entry, section.machine)
    return section


def phase_files(section: phasestack.PhasePrediction) -> dict[str, pd.DataFrame]:
    """``phase-prediction.csv``, ``phase-whatifs.csv`` and each chart's ``plots/*.csv``."""
    files = {"phase-prediction.csv": section.table(),
             "phase-whatifs.csv": section.what_if_table()}
    files.update({f"plots/{g.plot.stem}.csv": g.plot.table for g in section.groups if g.plot})
    return files


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
        if report.reference is not None:
            report.reference.points.to_csv(staging / "reference.csv", index=False,
                                           lineterminator="\n")
        drawn = [p for s in report.sections + (report.reference.sections if report.reference
                                               else []) for p in s.plots]
        drawn += report.history.plots if report.history is not None else []
        if report.phase_prediction is not None:
            drawn += [g.plot for g in report.phase_prediction.groups if g.plot is not None]
            (staging / "phase-prediction.json").write_text(report.phase_prediction.json_text,
                                                           encoding="utf-8")
        for plot in drawn:
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
