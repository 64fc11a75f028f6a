"""The predicted phase stack: measured and predicted seconds per phase side by side.

Drawn from the group's ``stack`` table (:mod:`harness.report.phasestack`) alone, saved beside
the plot as CSV, in the style of :mod:`harness.report.plots` (Okabe–Ito colours and the same
hatch per phase as the report's phase plot). A prediction never looks like a measurement:
measured bars are solid; predicted bars are lighter with dashed outlines, stand on a grey band
headed "predicted (not measured)", carry "predicted" and their extrapolation distance in their
axis label, and the 95 % interval of the predicted total as an error bar.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from harness.report import plots
from harness.report.phasestack import MEASURED, PREDICTED, GroupStack

SIZE = (7.2, 5.2)  # inches: up to nine bars with five-line labels
PREDICTED_ALPHA = 0.4
BAND = "#eeeeee"
#: an interval reaching above this many times the largest bar is cut, its top written out
MAX_HEADROOM = 3.0
#: totals spanning more than this factor are drawn on a log axis (strong scaling at 500x)
LOG_RANGE = 20.0


def _tick(row: pd.Series) -> str:
    if row["series"] == MEASURED:
        return f"{int(row['cores'])}\nmeasured"
    head = f"{int(row['cores'])}\n{row['scale']:g}×\npredicted"
    if row["label"] != PREDICTED:
        return f"{int(row['cores'])}\n{row['scale']:g}×\ninfeasible"
    distance = float(row["extrapolation"])
    if not math.isfinite(distance):
        return f"{head}\nextrap. ?"
    if distance <= 1:
        return f"{head}\ninterpolated"
    return f"{head}\nextrap. {distance:.3g}×" + ("\n(far)" if row["far_extrapolated"] else "")


def _bars(ax, stack: pd.DataFrame, position: dict[tuple[str, int], int]) -> None:
    """One bar segment per phase; colour and hatch per phase as in the report's phase plot."""
    drawn = stack.loc[stack["phase"] != ""]
    for i, phase in enumerate(dict.fromkeys(drawn["phase"])):
        colour, hatch = plots.BAR_COLOURS[i % len(plots.BAR_COLOURS)], \
            plots.HATCHES[i % len(plots.HATCHES)]
        for series in (MEASURED, PREDICTED):
            part = drawn.loc[(drawn["phase"] == phase) & (drawn["series"] == series)]
            if part.empty:
                continue
            heights = part["seconds"].clip(lower=0).fillna(0)
            x = [position[(series, c)] for c in part["cores"]]
            if series == MEASURED:
                ax.bar(x, heights, bottom=part["bottom"], color=colour, hatch=hatch,
                       edgecolor="black", lw=0.5, label=phase, zorder=2)
            else:
                ax.bar(x, heights, bottom=part["bottom"], color=colour, alpha=PREDICTED_ALPHA,
                       hatch=hatch, edgecolor="black", lw=0.8, ls="--", zorder=2,
                       label=None if (drawn.loc[drawn["phase"] == phase, "series"]
                                      == MEASURED).any() else phase)


def _totals(ax, points: pd.DataFrame, position: dict[tuple[str, int], int], log: bool,
            floor: float) -> float:
    """Totals written over the bars, the predicted total's 95 % interval as an error bar;
    returns the y limit."""
    top = float(np.nanmax([*points["total"], 0.0])) or 1.0
    limit = top * (4.0 if log else 1.3)  # room for the totals written above the bars
    pred = points.loc[(points["series"] == PREDICTED) & points["total"].notna()]
    finite = pred.loc[pred["total_pi95_low"].notna() & pred["total_pi95_high"].notna()]
    if len(finite):
        limit = max(limit, min(float(finite["total_pi95_high"].max()) * 1.08,
                               top * MAX_HEADROOM ** (2 if log else 1)))
        x = [position[(PREDICTED, c)] for c in finite["cores"]]
        below = (finite["total"] - finite["total_pi95_low"]).clip(lower=0)
        above = (finite["total_pi95_high"] - finite["total"]).clip(lower=0)
        ax.errorbar(x, finite["total"], yerr=[below, above], fmt="none", ecolor="black",
                    elinewidth=1.1, capsize=4, zorder=4,
                    label="predicted total: 95 % prediction interval")
        for row, xi in zip(finite.itertuples(), x, strict=True):
            if row.total_pi95_high > limit:
                ax.annotate(f"interval ↑ {row.total_pi95_high:.2g} s", (xi, limit),
                            xytext=(-4, -14), textcoords="offset points", ha="right",
                            va="top", rotation=90, fontsize=6.5)
    for row in points.itertuples():
        if not math.isfinite(row.total):
            continue
        word = "" if row.series == MEASURED else "predicted "
        # a tall bar has its predicted total written downwards, beside it, within the axes
        high = row.total > (math.sqrt(limit * floor) if log else limit / 2)
        x = position[(row.series, row.cores)]
        if word:  # upright, in the gap right of the bar
            ax.annotate(f"{word}{row.total:.3g} s", (x + 0.4, row.total),
                        xytext=(1, -2 if high else 2), textcoords="offset points", ha="left",
                        va="top" if high else "bottom", fontsize=6.5, rotation=90,
                        style="italic")
        else:
            ax.annotate(f"{row.total:.3g} s", (x, row.total), xytext=(0, 2),
                        textcoords="offset points", ha="center", fontsize=6.5)
    return limit


def _band(ax, first: int, last: int, limit: float) -> None:
    ax.axvspan(first - 0.5, last + 0.5, color=BAND, zorder=0, lw=0)
    ax.axvline(first - 0.5, color="black", lw=0.8, ls=":", zorder=1)
    ax.text((first + last) / 2, limit, "predicted (not measured)", ha="center", va="top",
            fontsize=8, style="italic", zorder=5)


def draw(entry: GroupStack, machine: str | None) -> plots.Plot | None:
    """The chart of one group; None when nothing was measured per phase."""
    stack, section = entry.stack, entry.section
    if not (stack["series"] == MEASURED).any():
        return None
    points = stack.drop_duplicates(["series", "cores"]).reset_index(drop=True)
    points["total"] = points["total"].astype(float)
    position = {(r.series, r.cores): i for i, r in enumerate(points.itertuples())}
    fig = Figure(figsize=SIZE)
    fig.subplots_adjust(left=0.11, right=0.97, top=0.9, bottom=0.34)
    ax = fig.add_subplot()
    totals = points["total"].loc[points["total"] > 0]
    log = len(totals) > 1 and totals.max() > LOG_RANGE * totals.min()
    if log:  # segments keep their seconds; on a log axis the upper ones look thinner
        ax.set_yscale("log")
    _bars(ax, stack, position)
    floor = float(totals.min()) / 5 if log else 0.0
    limit = _totals(ax, points, position, log, floor)
    predicted = [i for (series, _), i in position.items() if series == PREDICTED]
    if predicted:
        _band(ax, min(predicted), max(predicted), limit)
    ax.set_ylim(floor, limit)
    ax.set_xticks(range(len(points)), [_tick(r) for _, r in points.iterrows()], fontsize=7)
    ax.set_xlabel(f"cores (predicted: scale × the smallest measured, {entry.baseline_cores})",
                  fontsize=8)
    ax.set_ylabel("seconds per repetition (mean over ranks"
                  + (", log scale)" if log else ")"), fontsize=8)
    basis = f"machine model {machine}" if machine else "empirical fits only, no machine model"
    title = f"Measured and predicted phases: {section.name}\n{basis}"
    ax.set_title(title, fontsize=10)
    ax.grid(True, axis="y", color="#dddddd", lw=0.6, zorder=0)
    handles, labels = ax.get_legend_handles_labels()
    handles.append(Patch(facecolor="white", edgecolor="black", ls="--", lw=0.8))
    labels.append("lighter, dashed: predicted (not measured)")
    fig.legend(handles, labels, fontsize=7.5, loc="lower center", bbox_to_anchor=(0.5, 0.0),
               ncol=3, frameon=False)
    alt = _alt(entry, points, basis) + (" Log seconds axis: the totals span more than "
                                         f"{LOG_RANGE:g}×." if log else "")
    return plots.Plot(f"{section.slug}-phase-prediction", title.replace("\n", " — "), alt,
                      plots._svg(fig, alt), stack, fig)


def _alt(entry: GroupStack, points: pd.DataFrame, basis: str) -> str:
    measured = points.loc[points["series"] == MEASURED, "cores"].tolist()
    scales = points.loc[points["series"] == PREDICTED, "scale"].tolist()
    text = (f"Stacked bars of seconds per phase for {entry.section.name}: measured at "
            f"{', '.join(map(str, measured))} cores (solid bars); predicted ({basis}) at "
            f"{', '.join(f'{s:g}×' for s in scales)} (lighter bars with dashed outlines on a "
            "grey band, each labelled predicted with its extrapolation distance; the error bar "
            "is the 95 % prediction interval of the predicted total).")
    d = entry.dominant
    if d:
        text += (f" Predicted dominant phase at {d['scale']:g}×: {d['phase']} "
                 f"({100 * float(d['share']):.0f} % of the predicted time).")
    return text
