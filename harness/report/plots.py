"""The report's plots: speedup, efficiency and phase breakdown per group, as inline SVG.

Each plot is built in two steps: a *table* (a DataFrame, saved beside the plot as CSV) holding
exactly the numbers drawn, then a drawing made from that table alone, so the CSV and the picture
cannot disagree. Matplotlib's object API with the SVG canvas (no pyplot, no display); text stays
text (``svg.fonttype = none``: small, searchable, read by screen readers) in the page's
sans-serif, so nothing is loaded. Colours are the Okabe–Ito colour-blind-safe palette, and every
series also differs by marker or line style, so the plots read in grey print.
"""

from __future__ import annotations

import io
import math
import re
from dataclasses import dataclass
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_svg import FigureCanvasSVG
from matplotlib.figure import Figure

from harness import models
from harness.metrics import PHASE, cores_text
from harness.report import data
from harness.targets import Targets

#: Okabe & Ito (2008), "Color Universal Design"
BLUE, ORANGE, GREEN, PURPLE, SKY, VERMILION = ("#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                               "#56B4E9", "#D55E00")
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")
BAR_COLOURS = (SKY, ORANGE, GREEN, PURPLE, BLUE, VERMILION, "#F0E442", "#999999")
SIZE = (5.4, 4.1)  # inches
CURVE_POINTS = 48
OTHER = "other (not in a phase timer)"


@dataclass
class Plot:
    """One drawn plot: its file stem, title, text alternative, SVG markup and data table."""

    stem: str
    title: str
    alt: str
    svg: str
    table: pd.DataFrame
    figure: Figure


def _svg(fig: Figure, title: str) -> str:
    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": "harness-report", "svg.fonttype": "none"}):
        FigureCanvasSVG(fig).print_svg(buffer, metadata={"Date": None, "Creator": None})
    text = buffer.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, flags=re.S)
    escaped = title.replace("&", "&amp;").replace("<", "&lt;")
    return re.sub(r"<svg[^>]*>",
                  lambda m: f'{m.group(0)[:-1]} role="img"><title>{escaped}</title>', text,
                  count=1)


def _curve(section: data.Section, model: str | None, upto: float) -> pd.DataFrame:
    """Efficiency of a fitted model on a log grid of scales from 1 to ``upto``."""
    if model is None or section.fits.empty:
        return pd.DataFrame(columns=["scale", "efficiency"])
    row = section.fits.loc[(section.fits["model"] == model)
                           & (section.fits["status"] == "fitted")]
    if len(row) > 1 and "chosen" in row:  # the model fitted twice: the chosen fit, if it is
        chosen = row.loc[row["chosen"].astype(bool)]
        row = chosen if len(chosen) else row.loc[row.get("anchoring", "baseline") == "baseline"]
    if row.empty:
        return pd.DataFrame(columns=["scale", "efficiency"])
    fit = row.iloc[0]
    theta = np.array([float(fit[p]) for p in models.PARAMS[model]])
    # a trend fit has its own offset: its efficiency is against the measured baseline
    t0 = float(section.group.get("baseline_seconds", math.nan))
    offset = float(fit.get("offset", math.nan))
    shift = math.log(t0) - offset if fit.get("anchoring") == "trend" and math.isfinite(
        offset) and t0 > 0 else 0.0
    r = np.geomspace(1.0, max(upto, 2.0), CURVE_POINTS)
    return pd.DataFrame({"scale": r, "efficiency": models.efficiency(
        model, section.key["mode"], r, theta, shift)})


def _largest_scale(section: data.Section) -> float:
    scales = [*section.points["scale"].tolist(), *section.predictions["scale"].tolist()]
    return float(max(scales)) if scales else 1.0


def table(section: data.Section) -> pd.DataFrame:
    """Every series of the speedup and efficiency plots, one row per drawn point.

    Columns ``series`` (measured, predicted, model:<name>, runner-up:<name>, ideal), ``scale``,
    ``cores``, ``efficiency``, ``efficiency_low``, ``efficiency_high``, ``speedup``,
    ``speedup_low``, ``speedup_high`` (speedup = scale x efficiency, scaled speedup in weak
    mode); low/high are the repetition spread (measured) or the 95 % prediction interval.
    """
    p0 = float(section.group.get("baseline_cores", 1))
    parts = []
    pts = section.points
    if not pts.empty:
        low, high = data.spread(pts)
        parts.append(pd.DataFrame({"series": "measured", "scale": pts["scale"],
                                   "efficiency": pts["efficiency"], "efficiency_low": low,
                                   "efficiency_high": high}))
    pr = section.predictions
    if not pr.empty:
        parts.append(pd.DataFrame({"series": "predicted", "scale": pr["scale"],
                                   "efficiency": pr["efficiency"],
                                   "efficiency_low": pr["pi95_low"],
                                   "efficiency_high": pr["pi95_high"]}))
    upto = _largest_scale(section)
    for tag, model in (("model", section.chosen), ("runner-up", section.runner_up)):
        curve = _curve(section, model, upto)
        if len(curve):
            parts.append(curve.assign(series=f"{tag}:{model}"))
    parts.append(pd.DataFrame({"series": "ideal", "scale": [1.0, max(upto, 2.0)],
                               "efficiency": [1.0, 1.0]}))
    out = pd.concat(parts, ignore_index=True)
    out = out.reindex(columns=["series", "scale", "cores", "efficiency", "efficiency_low",
                               "efficiency_high", "speedup", "speedup_low", "speedup_high"])
    out["cores"] = out["scale"] * p0
    for side in ("", "_low", "_high"):
        out[f"speedup{side}"] = out["scale"] * out[f"efficiency{side}"].astype(float)
    return out


def _series(frame: pd.DataFrame, prefix: str) -> pd.DataFrame:
    return frame.loc[frame["series"].str.startswith(prefix)]


def _bars(frame: pd.DataFrame, y: str) -> list[np.ndarray]:
    """Error-bar lengths below and above (0 where undefined or a rounding error below 0)."""
    below = (frame[y] - frame[f"{y}_low"]).astype(float).fillna(0).to_numpy()
    above = (frame[f"{y}_high"] - frame[y]).astype(float).fillna(0).to_numpy()
    return [np.maximum(below, 0.0), np.maximum(above, 0.0)]


def _draw_points(ax, frame: pd.DataFrame, x: str, y: str) -> None:
    """Measured (filled, with spread) and predicted (hollow, with interval band) points."""
    m = _series(frame, "measured")
    if len(m):
        ax.errorbar(m[x], m[y], yerr=_bars(m, y),
                    fmt="o", color=BLUE, ms=6, capsize=3, label="measured (min–max of reps)",
                    zorder=5)
    p = _series(frame, "predicted")
    if len(p):
        finite = p[[f"{y}_low", f"{y}_high"]].notna().all(axis=1)
        if finite.sum() >= 2:
            ax.fill_between(p.loc[finite, x], p.loc[finite, f"{y}_low"],
                            p.loc[finite, f"{y}_high"], color=PURPLE, alpha=0.18, lw=0,
                            label="95 % prediction interval")
        ax.errorbar(p[x], p[y], yerr=_bars(p, y),
                    fmt="s", mfc="white", mec=PURPLE, color=PURPLE, ms=7, mew=1.6, capsize=3,
                    label="predicted (not measured)", zorder=6)
    for prefix, colour, style in (("model:", VERMILION, "-"), ("runner-up:", GREEN, "--")):
        c = _series(frame, prefix)
        if len(c):
            name = c["series"].iloc[0].split(":", 1)[1]
            what = "chosen model" if prefix == "model:" else "runner-up"
            ax.plot(c[x], c[y], style, color=colour, lw=1.4, label=f"{what}: {name}")


def _figure() -> tuple[Figure, Any]:
    """A figure with fixed margins (room for the legend below the axes); a layout engine would
    cost half of the report's run time for the same result."""
    fig = Figure(figsize=SIZE)
    fig.subplots_adjust(left=0.14, right=0.97, top=0.88, bottom=0.32)
    return fig, fig.add_subplot()


def _finish(fig: Figure, ax, title: str) -> None:
    """Title, grid, and the legend under the axes, where it hides no data."""
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="major", color="#dddddd", lw=0.6)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.17), ncol=2,
              frameon=False)


def speedup_plot(section: data.Section, frame: pd.DataFrame) -> Plot:
    """Speedup against cores on log–log axes, with the ideal line."""
    fig, ax = _figure()
    ideal = _series(frame, "ideal")
    ax.plot(ideal["cores"], ideal["speedup"], ":", color="black", lw=1.2,
            label="ideal (speedup = cores / baseline)")
    _draw_points(ax, frame, "cores", "speedup")
    ax.set_xscale("log")
    ax.set_yscale("log")
    mode = section.key["mode"]
    ax.set_xlabel("cores (log scale)")
    ax.set_ylabel(("scaled speedup" if mode == "weak" else "speedup")
                  + " over the baseline (×, log scale)")
    title = f"Speedup: {section.name}"
    _finish(fig, ax, title)
    measured = _series(frame, "measured")
    alt = (f"Log–log plot of speedup against cores for {section.name}: "
           f"{len(measured)} measured core counts"
           + (f", best speedup {measured['speedup'].max():.3g}× at "
              + cores_text(measured.loc[measured['speedup'].idxmax(), 'cores'])
              if len(measured) else "")
           + f"; {len(_series(frame, 'predicted'))} predicted points drawn hollow.")
    return Plot(f"{section.slug}-speedup", title, alt, _svg(fig, alt), frame, fig)


def target_steps(targets: Targets, upto: float) -> pd.DataFrame:
    """The target table as a step line: ``scale, target`` (a scale takes the next row up)."""
    scales = [1.0, *targets.scales]
    values = [targets.efficiencies[0], *targets.efficiencies]
    return pd.DataFrame({"scale": scales, "target": values}).loc[lambda f: f["scale"] <= max(
        upto, targets.scales[-1])]


def efficiency_plot(section: data.Section, frame: pd.DataFrame, targets: Targets
                    ) -> tuple[Plot, pd.DataFrame]:
    """Efficiency against scale with the target steps and the P2 alert line."""
    steps = target_steps(targets, _largest_scale(section))
    rows = [frame.loc[frame["series"] != "ideal"].drop(columns=["speedup", "speedup_low",
                                                                "speedup_high"]),
            pd.DataFrame({"series": "target", "scale": steps["scale"],
                          "efficiency": steps["target"]}),
            pd.DataFrame({"series": "p2-alert", "scale": [1.0, steps["scale"].max()],
                          "efficiency": [targets.p2_alert] * 2})]
    table_ = pd.concat(rows, ignore_index=True)
    table_["cores"] = table_["scale"] * float(section.group.get("baseline_cores", 1))
    fig, ax = _figure()
    t = _series(table_, "target")
    ax.plot(t["scale"], t["efficiency"], drawstyle="steps-pre", color="black", lw=1.3,
            ls="-.", label="target (must stay above)")
    a = _series(table_, "p2-alert")
    ax.plot(a["scale"], a["efficiency"], color=VERMILION, lw=1.2, ls=(0, (1, 1)),
            label=f"P2 alert below {targets.p2_alert:.2f}")
    _draw_points(ax, table_, "scale", "efficiency")
    ax.set_xscale("log")
    top = float(np.nanmax([1.05, *(table_["efficiency_high"].dropna() * 1.05),
                           *(table_["efficiency"] * 1.05)]))
    ax.set_ylim(0, top)
    ax.set_xlabel("scale r = cores / baseline cores (log scale)")
    ax.set_ylabel("parallel efficiency E (1 = ideal)")
    title = f"Efficiency: {section.name}"
    _finish(fig, ax, title)
    failing = section.points.loc[section.points["status"] == "fail"] \
        if not section.points.empty else section.points
    alt = (f"Efficiency against scale for {section.name} with the target steps and the "
           f"{targets.p2_alert:.2f} alert line; {len(failing)} measured point(s) below target.")
    return Plot(f"{section.slug}-efficiency", title, alt, _svg(fig, alt), table_, fig), table_


def phase_table(section: data.Section) -> pd.DataFrame:
    """Seconds per phase at each core count (mean over ranks, median over repetitions), plus
    ``other`` (the part of the time no phase timer covers) when positive; ``bottom`` is where
    the bar segment starts, ``share`` the phase's fraction of the point's median time (the
    bottleneck's share is written above each bar)."""
    pts = section.points
    phases = [c for c in pts.columns if c.startswith(PHASE) and pts[c].notna().any()] \
        if not pts.empty else []
    rows = []
    for _, p in pts.iterrows():
        bottom, total = 0.0, float(p["seconds"])
        for c in phases:
            seconds = float(p[c]) if np.isfinite(p[c]) else 0.0
            rows.append({"cores": int(p["cores"]), "phase": c[len(PHASE):],
                         "seconds": seconds, "bottom": bottom, "share": seconds / total})
            bottom += seconds
        other = total - bottom
        if other > 0.005 * total:
            rows.append({"cores": int(p["cores"]), "phase": OTHER, "seconds": other,
                         "bottom": bottom, "share": other / total})
    return pd.DataFrame(rows, columns=["cores", "phase", "seconds", "bottom", "share"])


def phase_plot(section: data.Section) -> Plot | None:
    """Stacked bars of seconds per phase at each core count; None without phase timings."""
    frame = phase_table(section)
    if frame.empty or not (frame["phase"] != OTHER).any():
        return None
    fig, ax = _figure()
    cores = sorted(frame["cores"].unique())
    position = {c: i for i, c in enumerate(cores)}
    for i, phase in enumerate(dict.fromkeys(frame["phase"])):
        part = frame.loc[frame["phase"] == phase]
        ax.bar([position[c] for c in part["cores"]], part["seconds"], bottom=part["bottom"],
               color=BAR_COLOURS[i % len(BAR_COLOURS)], hatch=HATCHES[i % len(HATCHES)],
               edgecolor="black", lw=0.5, label=phase)
    ax.set_xticks(range(len(cores)), [str(c) for c in cores])
    ax.set_xlabel("cores")
    ax.set_ylabel("seconds per repetition")
    phase = section.group.get("bottleneck_phase")
    marked = frame.loc[frame["phase"] == phase] if isinstance(phase, str) else frame.iloc[:0]
    for row in marked.itertuples():
        top = frame.loc[frame["cores"] == row.cores, "seconds"].sum()
        ax.annotate(f"{phase} {100 * row.share:.1f} %", (position[row.cores], top),
                    xytext=(0, 3), textcoords="offset points", ha="center", fontsize=7.5)
    if len(marked):
        ax.set_ylim(0, frame.groupby("cores")["seconds"].sum().max() * 1.12)
    name = section.group.get("bottleneck_name")
    imbalance = data.as_float(section.group.get("load_imbalance"))
    sub = f"bottleneck: {name}" if isinstance(name, str) and name else "no bottleneck found"
    if np.isfinite(imbalance):
        sub += f"; load imbalance {imbalance:.2f}"
    title = f"Phases: {section.name}\n{sub}"
    _finish(fig, ax, title)
    alt = (f"Stacked bars of seconds per phase at {len(cores)} core counts for "
           f"{section.name}; {sub}.")
    return Plot(f"{section.slug}-phases", title.replace("\n", " — "), alt, _svg(fig, alt),
                frame, fig)


def draw(section: data.Section, targets: Targets) -> list[Plot]:
    """The section's plots (speedup, efficiency, phases when timed); none without points."""
    if section.points.empty:
        return []
    frame = table(section)
    plots = [speedup_plot(section, frame), efficiency_plot(section, frame, targets)[0]]
    phases = phase_plot(section)
    if phases is not None:
        plots.append(phases)
    return plots
