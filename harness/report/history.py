"""The report's history section: efficiency at each target scale over the sweeps in the KPI store.

Read with :func:`harness.store.queries.history` (one row per sweep, group, scale and kind), kept
to the report's groups (workload, mode, variant, problem), the target scales, and the machine(s)
the report's records ran on (the store's machine: Slurm partition, else host; every machine when
the inputs are CSV timings). Per sweep and scale one value is shown: the measured efficiency, else
the model's prediction (drawn hollow, marked "predicted"). Per group one line plot of efficiency
against the sweep's date, a line per target scale, with the CSV of exactly what it draws.

A store that does not exist yet is read as an empty history: nothing is created.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.dates as mdates
import numpy as np
import pandas as pd

from harness.errors import DataError
from harness.report import data, plots
from harness.report.comparison import sqlite_absent
from harness.store import engine as store_engine
from harness.store import push, queries, rows
from harness.targets import Targets

GROUP = ["workload", "mode", "variant", "problem"]
CSV_COLUMNS = [*GROUP, "machine", "scale", "kind", "sweep_id", "measured_at", "efficiency",
               "interval_low", "interval_high", "target", "status"]
MARKERS = ("o", "s", "^", "D", "v", "P")
COLOURS = (plots.BLUE, plots.ORANGE, plots.GREEN, plots.VERMILION, plots.PURPLE, plots.SKY)
STYLES = ("-", "--", "-.", ":", "-", "--")


@dataclass
class History:
    """The history section: the store (URL masked), every value shown (``history.csv``), one
    plot per group and machine, one table row per group, machine and scale, and the sentence
    shown when there is nothing."""

    store: str
    frame: pd.DataFrame
    plots: list[plots.Plot] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    message: str = ""


def input_machines(paths: list[Path]) -> set[str]:
    """The store's machine names of the run records under ``paths`` (empty for CSV inputs)."""
    records_given = [p for p in paths if p.is_dir() or p.suffix.lower() == ".json"]
    if not records_given:
        return set()
    try:
        found = push.collect(records_given)
    except DataError:
        return set()
    return {rows.machine(r) for entry in found for r in entry.records}


def _one_per_sweep(frame: pd.DataFrame) -> pd.DataFrame:
    """Per group, machine, scale and sweep one value: measured before predicted."""
    order = frame.assign(_pred=(frame["kind"] != "measured").astype(int))
    order = order.sort_values(["_pred"], kind="stable")
    order = order.drop_duplicates([*GROUP, "machine", "scale", "sweep_id"])
    return order.drop(columns="_pred").sort_values(["measured_at", "sweep_id", "scale"],
                                                   kind="stable", ignore_index=True)


def select(frame: pd.DataFrame, sections: list[data.Section], targets: Targets,
           machines: set[str]) -> pd.DataFrame:
    """The rows of a :func:`~harness.store.queries.history` frame for the report's groups at
    the target scales (on ``machines`` when given), one per sweep and scale, oldest first."""
    if frame.empty:
        return pd.DataFrame(columns=CSV_COLUMNS)
    keys = {tuple(s.key[k] for k in GROUP) for s in sections}
    mine = np.array([tuple(str(v) for v in r) in keys
                     for r in frame[GROUP].itertuples(index=False)], dtype=bool)
    scales = frame["scale"].astype(float).to_numpy()
    at_target = np.isclose(scales[:, None], np.asarray(targets.scales)[None, :]).any(axis=1)
    keep = mine & at_target
    if machines:
        keep &= frame["machine"].isin(machines).to_numpy()
    picked = frame.loc[keep]
    if picked.empty:
        return pd.DataFrame(columns=CSV_COLUMNS)
    return _one_per_sweep(picked)[CSV_COLUMNS]


def _dates(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame["measured_at"], utc=True, format="ISO8601").dt.tz_convert(None)


def plot(section: data.Section, machine: str, frame: pd.DataFrame, targets: Targets
         ) -> plots.Plot:
    """Efficiency against sweep date for one group on one machine, a line per target scale;
    measured values filled, predicted ones hollow."""
    fig, ax = plots._figure()
    when = _dates(frame)
    for i, scale in enumerate(sorted(frame["scale"].unique())):
        at = frame["scale"] == scale
        colour, marker = COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]
        name = f"{scale:g}× (target > {float(targets.target_for(scale)):.2f})"
        # the line carries a hollow marker for the legend; measured values are filled below
        ax.plot(when[at], frame.loc[at, "efficiency"], STYLES[i % len(STYLES)], color=colour,
                marker=marker, mfc="white", mec=colour, ms=6, mew=1.5, lw=1.3, label=name)
        part = at & (frame["kind"] == "measured")
        if part.any():
            ax.plot(when[part], frame.loc[part, "efficiency"], marker, ls="none", ms=6,
                    mec=colour, mfc=colour, mew=1.5)
    if when.nunique() == 1:  # one sweep: a few days around it, not a zero-width axis
        ax.set_xlim(when.iloc[0] - pd.Timedelta(days=3), when.iloc[0] + pd.Timedelta(days=3))
    ax.xaxis.set_major_locator(mdates.AutoDateLocator(maxticks=6))
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(ax.xaxis.get_major_locator()))
    ax.set_ylim(0, max(1.05, float(frame["efficiency"].max()) * 1.05))
    ax.set_xlabel("sweep date (UTC)")
    ax.set_ylabel("parallel efficiency E (1 = ideal)")
    ax.plot([], [], "o", color="black", mfc="black", label="filled: measured")
    ax.plot([], [], "o", color="black", mfc="white", label="hollow: predicted")
    title = f"History: {section.name} on {machine}"
    plots._finish(fig, ax, title)
    sweeps = frame["sweep_id"].nunique()
    predicted = int((frame["kind"] == "predicted").sum())
    alt = (f"Efficiency against sweep date for {section.name} on {machine}: "
           f"{sweeps} stored sweep(s), a line per target scale "
           f"({', '.join(f'{s:g}×' for s in sorted(frame['scale'].unique()))}); "
           f"{predicted} predicted value(s) drawn hollow.")
    stem = f"history-{data.slug(section.slug + '-' + machine)}"
    return plots.Plot(stem, title, alt, plots._svg(fig, alt), frame.reset_index(drop=True), fig)


def _table_rows(section: data.Section, machine: str, frame: pd.DataFrame) -> list[dict]:
    out = []
    for scale, part in frame.groupby("scale", sort=True):
        first, last = part.iloc[0], part.iloc[-1]
        out.append({"name": section.name, "machine": machine, "scale": float(scale),
                    "sweeps": int(part["sweep_id"].nunique()),
                    "first": first.to_dict(), "latest": last.to_dict(),
                    "change": float(last["efficiency"]) - float(first["efficiency"])})
    return out


def build(store_url: str | None, sections: list[data.Section], targets: Targets,
          paths: list[Path]) -> History:
    """The history of the report's groups in the store at ``store_url``.

    Raises
    ------
    StoreError
        The URL is malformed, or the store cannot be reached or read.
    """
    url = store_engine.masked(store_engine.resolve(store_url))
    if sqlite_absent(store_url):
        return History(url, pd.DataFrame(columns=CSV_COLUMNS),
                       message=f"No history: there is no KPI store at {url} yet (harness kpi "
                               "push SWEEP_DIR fills it).")
    store = store_engine.create(store_url)
    try:
        stored = pd.concat([queries.history(store, workload=w)
                            for w in sorted({s.key["workload"] for s in sections})]
                           or [pd.DataFrame(columns=CSV_COLUMNS)], ignore_index=True)
    finally:
        store.dispose()
    frame = select(stored, sections, targets, input_machines(paths))
    out = History(url, frame)
    for section in sections:
        mine = data.select(frame, {k: section.key[k] for k in GROUP})
        for machine, part in mine.groupby("machine", sort=True):
            part = part.reset_index(drop=True)
            out.plots.append(plot(section, str(machine), part, targets))
            out.rows += _table_rows(section, str(machine), part)
    if frame.empty:
        out.message = (f"No history: the KPI store at {url} holds no efficiency at the target "
                       "scales for these workloads on this machine.")
    return out
