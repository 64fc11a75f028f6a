"""Speedup, efficiency, Karp–Flatt, targets, alerts and the bottleneck, from repetitions.

Pure pandas: a frame of repetitions (:mod:`harness.inputs`) in, frames out; no I/O. A group is
one scaling study, named by the columns :data:`KEYS`: workload, mode, variant and the problem
(its ``size``, and the ``problem`` key that adds the parameter overrides, built by
:func:`harness.inputs.problem_key`); runs of different problems are never compared. Per group,
with baseline ``p0`` the smallest core count measured unless ``baseline_cores`` is given, ``T0``
its median time and ``r = p/p0`` (docs/design.md, "Analysis contract"):

- strong: speedup ``S = T0/T``, efficiency ``E = S/r`` (fixed-size speedup, Amdahl 1967);
- weak: ``E = T0/T``, scaled speedup ``S = r E`` (Gustafson 1988);
- Karp–Flatt serial fraction, r > 1: ``e = (1/S - 1/r)/(1 - 1/r)`` (Karp & Flatt 1990; on the
  scaled speedup in weak mode);
- ``T`` is the median of a point's repetitions, reported with min, max and relative IQR
  (interquartile range over median). Efficiencies above 1 are kept as measured. Repetitions of
  separate runs at one core count (``run`` differs: several records, or several CSV files) are
  pooled, and the group's notes say so.

Status per point is ``pass`` when E is strictly above its target, ``fail`` otherwise,
``no-target`` above the last target row, and ``below-baseline`` for a point with fewer cores than
the baseline (shown, never judged or fitted). At a measured scale the measured value alone sets the
status; the model's value there is only a residual. A measured E below the P2 threshold is an
alert; a model's prediction below it at a scale not measured is a separate, ``predicted`` alert
that states its extrapolation distance. Models, their choice and the predictions come from
:mod:`harness.prediction`; which runs may be pooled from :mod:`harness.pooling`. The
bottleneck is the non-compute phase (any but ``compute`` and ``assemble``) whose share of the time
grows most from the baseline to the largest scale; load imbalance is max/mean over ranks of the
compute phase.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness import modelfit, pooling, prediction
from harness.errors import DataError
from harness.targets import Targets

#: the columns that name a group (one scaling study); variant, size, problem and machine may be
#: empty. ``machine`` (CPU model, CPUs per node, MPI library) keeps runs of different machines
#: in different groups: they are never pooled.
KEYS = ["workload", "mode", "variant", "size", "problem", "machine"]
#: prefixes of the phase columns: mean over ranks, max over ranks (seconds per repetition)
PHASE, PHASE_MAX = "phase_", "phasemax_"
MODES = ("strong", "weak")
#: core counts must stay below this: exact in float64, safe in int64
MAX_CORES = 2**53
#: phase -> what the platform calls it when it is the bottleneck
PHASE_NAMES = {"halo": "Network I/O", "io": "File I/O", "reduce": "Synchronization",
               "distribute": "Communication", "serial": "Serial work"}
COMPUTE = "compute"
#: phases that are local computation, never the bottleneck (fea assembles before it solves)
COMPUTE_PHASES = (COMPUTE, "assemble")
POINT_COLUMNS = [*KEYS, "cores", "scale", "seconds", "seconds_min",
                 "seconds_max", "repetitions", "runs", "rel_iqr", "speedup", "efficiency",
                 "karp_flatt", "target", "status", "model_efficiency", "model_residual"]
ALERT_COLUMNS = [*KEYS, "level", "kind", "cores", "scale", "efficiency", "threshold", "model",
                 "extrapolation", "message"]
#: what a point's status is when it has fewer cores than the baseline
BELOW_BASELINE = "below-baseline"


@dataclass
class Analysis:
    """Everything the analyzer found, as frames (one row per point / group / model / alert)."""

    points: pd.DataFrame
    groups: pd.DataFrame
    fits: pd.DataFrame
    predictions: pd.DataFrame
    alerts: pd.DataFrame
    targets: Targets


def label(workload: str, mode: str, variant: str, problem: str = "") -> str:
    """How a group is named in messages: ``workload/mode[/variant]``, then ``[problem]``."""
    name = f"{workload}/{mode}/{variant}" if variant else f"{workload}/{mode}"
    return f"{name} [{problem}]" if problem else name


def _bad_rows(reps: pd.DataFrame, bad: np.ndarray, column: str, rule: str) -> DataError:
    first = int(np.flatnonzero(bad)[0])
    return DataError(f"repetitions: row {first}, column {column!r}: "
                     f"{reps[column].iloc[first]!r} is not allowed; {rule}")


def _checked(repetitions: pd.DataFrame) -> pd.DataFrame:
    """The repetitions with every key column present (missing optional keys are empty), after
    checking the values the formulas divide by or take logs of."""
    missing = [c for c in ("workload", "mode", "cores", "seconds") if c not in repetitions]
    if missing:
        raise DataError(f"repetitions lack the column(s) {', '.join(missing)}; needed: "
                        "workload, mode, cores, seconds (optional: variant, size, problem, run, "
                        "phase_<name>)")
    if repetitions.empty:
        raise DataError("nothing to analyze: no repetitions")
    extra: dict[str, Any] = {k: "" for k in ("variant", "size", "machine")
                             if k not in repetitions}
    if "problem" not in repetitions:
        extra["problem"] = repetitions.get("size", "")
    if "run" not in repetitions:  # no run numbers: each point is one run
        extra["run"] = 0
    reps = repetitions.assign(**extra) if extra else repetitions
    with np.errstate(invalid="ignore"):
        cores = pd.to_numeric(reps["cores"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(cores) | (cores < 1) | (cores >= MAX_CORES) | (cores != np.floor(cores))
        if bad.any():
            raise _bad_rows(reps, bad, "cores", "cores must be a whole number >= 1 (and < 2^53)")
        seconds = pd.to_numeric(reps["seconds"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(seconds) | (seconds <= 0)
        if bad.any():
            raise _bad_rows(reps, bad, "seconds", "seconds must be a finite number > 0")
    bad = ~reps["mode"].isin(MODES).to_numpy()
    if bad.any():
        raise _bad_rows(reps, bad, "mode", "mode must be strong or weak")
    if reps["cores"].dtype != np.int64:
        reps = reps.assign(cores=cores.astype(np.int64))
    if reps["seconds"].dtype != np.float64:
        reps = reps.assign(seconds=seconds)
    return reps


def summarize(repetitions: pd.DataFrame) -> pd.DataFrame:
    """One row per (group, cores): median, spread and repetitions of the time, phase medians.

    Also ``runs`` (distinct runs behind the point; ``measurements`` is the same number, kept
    for readers of older output) and the run-level statistics the model fits use: each run's
    median over its repetitions is one replicate, ``log_mean`` and ``log_ss`` are the mean and
    sum of squared deviations of their logs (:func:`harness.modelfit.run_stats`).

    Raises
    ------
    DataError
        When a required column is missing, or a core count, time or mode is not allowed.
    """
    reps = _checked(repetitions)
    by = [*KEYS, "cores"]
    grouped = reps.groupby(by, observed=True, sort=True)
    out = grouped.agg(seconds=("seconds", "median"), seconds_min=("seconds", "min"),
                      seconds_max=("seconds", "max"), repetitions=("seconds", "size"),
                      measurements=("run", "nunique"))
    quartiles = grouped["seconds"].quantile([0.25, 0.75]).unstack()
    out["rel_iqr"] = (quartiles[0.75] - quartiles[0.25]) / out["seconds"]
    run_medians = reps.groupby([*by, "run"], observed=True, sort=True)["seconds"].median()
    stats = modelfit.run_stats(run_medians.reset_index(), by).set_index(by)
    out = out.join(stats[["runs", "log_mean", "log_ss"]])
    phases = [c for c in reps.columns if c.startswith((PHASE, PHASE_MAX))]
    if phases:
        out = out.join(grouped[phases].median())
    if "nodes" in reps:
        out = out.join(grouped["nodes"].max())
    out = out.reset_index()
    for key in KEYS:
        out[key] = out[key].astype(str)
    return out


def _baselines(summary: pd.DataFrame, baseline_cores: int | None) -> pd.Series:
    """Baseline cores per summary row; raises if a requested baseline was not measured."""
    by_group = summary.groupby(KEYS, sort=False)["cores"]
    if baseline_cores is None:
        return by_group.transform("min")
    has = by_group.transform(lambda c: bool((c == baseline_cores).any()))
    if not has.all():
        row = summary.loc[~has.astype(bool)].iloc[0]
        measured = summary.loc[(summary[KEYS] == row[KEYS]).all(axis=1), "cores"]
        raise DataError(
            f"--baseline-cores {baseline_cores} was not measured for "
            f"{label(row['workload'], row['mode'], row['variant'], row['problem'])}; "
            "measured core counts: "
            f"{', '.join(map(str, measured))}"
        )
    return pd.Series(baseline_cores, index=summary.index)


def scaling(summary: pd.DataFrame, targets: Targets, baseline_cores: int | None = None
            ) -> pd.DataFrame:
    """Add scale, speedup, efficiency, Karp–Flatt, target and status to a summary.

    Raises
    ------
    DataError
        When ``baseline_cores`` was not measured for some group.
    """
    out = summary.copy()
    p0 = _baselines(out, baseline_cores)
    at_base = out.loc[out["cores"] == p0, [*KEYS, "seconds"]].rename(columns={"seconds": "t0"})
    t0 = out[KEYS].merge(at_base, on=KEYS, how="left")["t0"].to_numpy()
    r = out["cores"].to_numpy(dtype=np.float64) / p0.to_numpy(dtype=np.float64)
    t = out["seconds"].to_numpy(dtype=np.float64)
    strong = (out["mode"] == "strong").to_numpy()
    # strong: fixed-size speedup (Amdahl 1967); weak: scaled speedup r E (Gustafson 1988)
    speedup = np.where(strong, t0 / t, r * (t0 / t))
    eff = np.where(strong, speedup / r, t0 / t)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the experimentally determined serial fraction (Karp & Flatt, CACM 33(5), 1990)
        karp_flatt = np.where(r > 1, (1.0 / speedup - 1.0 / r) / (1.0 - 1.0 / r), np.nan)
    below = r < 1.0
    target = np.where(below, np.nan, targets.target_for(r))
    out["baseline_cores"] = p0.to_numpy()
    out["scale"], out["speedup"], out["efficiency"] = r, speedup, eff
    out["karp_flatt"], out["target"] = np.where(below, np.nan, karp_flatt), target
    out["status"] = np.where(below, BELOW_BASELINE, np.where(
        np.isnan(target), "no-target", np.where(eff > target, "pass", "fail")))
    return out


def bottleneck(group: pd.DataFrame) -> dict[str, object]:
    """The non-compute phase whose share of time grows most from the baseline (r = 1) to the
    largest scale, with both shares, and load imbalance (max/mean compute) at the largest scale.

    Returns
    -------
    dict
        ``phase, name, share_baseline, share_largest, load_imbalance, reason``; ``phase`` and
        ``name`` are None (and ``reason`` says why) when no phase grows or none was timed.
    """
    group = group.loc[group["scale"] >= 1.0]
    base = group.loc[group["scale"] == 1.0].iloc[0]
    largest = group.loc[group["scale"].idxmax()]
    out: dict[str, object] = {"phase": None, "name": None, "share_baseline": np.nan,
                              "share_largest": np.nan, "load_imbalance": np.nan, "reason": ""}
    mean_c, max_c = PHASE + COMPUTE, PHASE_MAX + COMPUTE
    if mean_c in group and max_c in group and largest[mean_c] > 0:
        out["load_imbalance"] = float(largest[max_c] / largest[mean_c])
    phases = [c[len(PHASE):] for c in group.columns
              if c.startswith(PHASE) and c[len(PHASE):] not in COMPUTE_PHASES
              and np.isfinite(base[c]) and np.isfinite(largest[c])]
    if not phases:
        out["reason"] = "no non-compute phase timings: bottleneck unknown"
        return out
    if largest["scale"] <= 1.0:
        out["reason"] = "no point above the baseline: bottleneck unknown"
        return out
    share0 = {p: base[PHASE + p] / base["seconds"] for p in phases}
    share1 = {p: largest[PHASE + p] / largest["seconds"] for p in phases}
    phase = max(phases, key=lambda p: (share1[p] - share0[p], p))
    if share1[phase] - share0[phase] <= 0:
        out["reason"] = "no non-compute phase grows its share of the time"
        return out
    out.update(phase=phase, name=PHASE_NAMES.get(phase, phase),
               share_baseline=float(share0[phase]), share_largest=float(share1[phase]))
    return out


def _bottleneck_columns(verdict: dict[str, object]) -> dict[str, object]:
    return {"bottleneck_phase": verdict["phase"], "bottleneck_name": verdict["name"],
            "share_baseline": verdict["share_baseline"], "share_largest": verdict["share_largest"],
            "load_imbalance": verdict["load_imbalance"]}


def cores_text(cores: float) -> str:
    """``1 core``, ``4 cores``, ``12.5 cores``."""
    return f"{cores:g} core" + ("" if cores == 1 else "s")


def _measured_alerts(points: pd.DataFrame, threshold: float) -> pd.DataFrame:
    low = points.loc[(points["efficiency"] < threshold) & (points["status"] != BELOW_BASELINE)]
    alerts = low[[*KEYS, "cores", "scale", "efficiency"]].copy()
    alerts["level"], alerts["kind"], alerts["threshold"], alerts["model"] = \
        "P2", "measured", threshold, None
    alerts["extrapolation"] = np.nan
    alerts["message"] = [
        f"P2: measured efficiency {e:.3f} < {threshold:.2f} at {cores_text(c)} ({r:g}x)"
        for e, c, r in zip(low["efficiency"], low["cores"], low["scale"], strict=True)
    ]
    return alerts.reindex(columns=ALERT_COLUMNS)


def _distance(extrapolation: float) -> str:
    """``4x beyond the largest measured scale`` (``, far-extrapolated`` past the limit), or
    ``within the measured scales``."""
    if extrapolation <= 1.0:
        return "within the measured scales"
    far = ", far-extrapolated" if extrapolation > modelfit.FAR_EXTRAPOLATION else ""
    return f"{extrapolation:.3g}x beyond the largest measured scale{far}"


def _predicted_alerts(predicted: pd.DataFrame, keys: tuple[str, ...], model: str,
                      threshold: float) -> list[dict[str, object]]:
    """P2 alerts where only the model says so: predicted E below threshold at a target scale
    that was not measured, each with its extrapolation distance."""
    low = predicted.loc[(predicted["efficiency"] < threshold) & predicted["target_scale"]
                        & ~predicted["uncertain"]]
    return [
        {**dict(zip(KEYS, keys, strict=True)), "level": "P2", "kind": "predicted",
         "cores": cores, "scale": scale, "efficiency": eff, "threshold": threshold,
         "model": model, "extrapolation": far,
         "message": f"P2 predicted, not measured ({model}, {_distance(far)}): efficiency "
                    f"{eff:.3f} < {threshold:.2f} at {scale:g}x ({cores_text(cores)})"}
        for scale, cores, eff, far in zip(low["scale"], low["cores"], low["efficiency"],
                                          low["extrapolation"], strict=True)
    ]


def node_saturation(group: pd.DataFrame) -> str | None:
    """What the single-node points say, when the runs record their nodes: efficiency lost while
    every rank still shared one node is node saturation (memory bandwidth and caches per rank),
    not the network; the first point across nodes is where the network enters."""
    if "nodes" not in group or not group["nodes"].notna().any():
        return None
    above = group.loc[group["scale"] > 1.0].sort_values("scale")
    inside = above.loc[above["nodes"] == 1]
    if inside.empty:
        return None
    worst = inside.loc[inside["efficiency"].idxmin()]
    text = (f"up to {cores_text(inside['cores'].max())} every rank ran on one node: the "
            f"efficiency lost there (E = {worst['efficiency']:.3f} at "
            f"{cores_text(worst['cores'])}) is node saturation (memory bandwidth and caches "
            "shared by more ranks), not the network")
    across = above.loc[above["nodes"] > 1]
    if len(across):
        first = across.iloc[0]
        text += (f"; the network enters at {cores_text(first['cores'])} on "
                 f"{int(first['nodes'])} nodes (E = {first['efficiency']:.3f})")
    return text


def _notes(group: pd.DataFrame, targets: Targets, baseline: int) -> list[str]:
    notes = []
    saturation = node_saturation(group)
    if saturation:
        notes.append(saturation)
    pooled = group.loc[group["runs"] > 1]
    if len(pooled):
        listed = ", ".join(f"{m} runs at {cores_text(c)}" for c, m in
                           zip(pooled["cores"][:8], pooled["runs"][:8], strict=True))
        more = f" and {len(pooled) - 8} more core counts" if len(pooled) > 8 else ""
        notes.append(f"{listed}{more} pooled: median and spread are over the repetitions of "
                     "all those runs; each run is one replicate in the model fits")
    if baseline != targets.baseline_cores:
        hint = (f"; pass --baseline-cores {targets.baseline_cores} to match"
                if (group["cores"] == targets.baseline_cores).any() else "")
        notes.append(f"baseline is {cores_text(baseline)}, so 10x here is "
                     f"{cores_text(10 * baseline)}; the platform's targets count scales from "
                     f"{cores_text(targets.baseline_cores)} (its 10x is "
                     f"{cores_text(10 * targets.baseline_cores)}), and every scale up to 10x is "
                     f"held to the 10x target{hint}")
    return notes


def _predict(group: pd.DataFrame, mode: str, targets: Targets, baseline: int,
             baseline_seconds: float, extra_scales: np.ndarray) -> prediction.GroupPrediction:
    """The group's fits and predictions at the target scales and ``extra_scales``, with the
    target and status of each prediction (``target_scale`` marks the target rows)."""
    wanted = np.unique(np.concatenate([np.asarray(targets.scales, dtype=np.float64),
                                       extra_scales]))
    result = prediction.predict_group(group, mode, baseline, baseline_seconds, wanted)
    predicted = result.predictions
    if not predicted.empty:
        target = targets.target_for(predicted["scale"].to_numpy())
        predicted["target"] = target
        predicted["target_scale"] = np.isclose(
            predicted["scale"].to_numpy()[:, None],
            np.asarray(targets.scales, dtype=np.float64)[None, :]).any(axis=1)
        predicted["status"] = np.where(
            predicted["uncertain"], "uncertain",
            np.where(np.isnan(target), "no-target",
                     np.where(predicted["efficiency"] > target, "pass", "fail")))
    return result


def analyze(repetitions: pd.DataFrame, targets: Targets, baseline_cores: int | None = None,
            *, predict_scales: Any = (), pool_provenance: bool = False) -> Analysis:
    """Analyze every group of a repetitions frame.

    Parameters
    ----------
    repetitions
        One row per repetition: ``workload, mode, cores, seconds``; optional ``variant``,
        ``size``, ``problem`` (default: the size), ``machine``, ``run`` (default: one run per
        point), ``work`` and ``code`` (see :mod:`harness.pooling`) and ``phase_<name>`` /
        ``phasemax_<name>`` columns.
    targets
        The target table (:func:`harness.targets.defaults` or a loaded file).
    baseline_cores
        Baseline core count for every group; default: each group's smallest.
    predict_scales
        Scales to predict at besides the target scales (float, r = p/p0); their rows have no
        target unless a target row matches.
    pool_provenance
        Pool runs made with different code versions (a warning names the fields) instead of
        refusing them.

    Returns
    -------
    Analysis
        Points (groups with at least two core counts), one row per group (baseline, bottleneck,
        model choice and runner-up, provenance, notes), fits (one row per group and model),
        predictions (target scales not measured, and ``predict_scales``) and alerts.

    Raises
    ------
    DataError
        When a required column is missing, a core count is not a whole number >= 1, a time is
        not a finite number > 0, a mode is not strong or weak, ``baseline_cores`` was not
        measured for some group, or runs that would be pooled did different work or (without
        ``pool_provenance``) ran different code.
    """
    checked = _checked(repetitions)
    warnings = pooling.check(checked, KEYS, pool_provenance)
    provenance = pooling.provenance(checked, KEYS)
    points = scaling(summarize(checked), targets, baseline_cores)
    extra = np.asarray(list(predict_scales), dtype=np.float64)
    found = _Found(model_efficiency=np.full(len(points), np.nan),
                   keep=np.ones(len(points), dtype=bool))
    for keys, group in points.groupby(KEYS, sort=True):
        _analyze_group(keys, group, targets, extra, warnings.get(keys, []),
                       provenance.get(keys, {}), found)
    return _assemble(points, found, targets)


@dataclass
class _Found:
    """What :func:`analyze` gathers group by group: rows and frames to join at the end, each
    point's modelled efficiency, and which points stay (not the lone point of a group)."""

    model_efficiency: np.ndarray
    keep: np.ndarray
    groups: list[dict[str, object]] = field(default_factory=list)
    fits: list[pd.DataFrame] = field(default_factory=list)
    predictions: list[pd.DataFrame] = field(default_factory=list)
    alerts: list[dict[str, object]] = field(default_factory=list)


def _analyze_group(keys: tuple[str, ...], group: pd.DataFrame, targets: Targets,
                   extra: np.ndarray, warnings: list[str], provenance: dict[str, Any],
                   found: _Found) -> None:
    """One group: its row (baseline, bottleneck, notes), then its fits and predictions, or
    the note that one core count gives no speedup."""
    key = dict(zip(KEYS, keys, strict=True))
    baseline = int(group["baseline_cores"].iloc[0])
    base = group.loc[group["cores"] == baseline].iloc[0]
    row: dict[str, object] = dict(key)
    row.update(baseline_cores=baseline, baseline_seconds=float(base["seconds"]),
               core_counts=len(group), largest_scale=float(group["scale"].max()),
               model=None, model_choice="", runner_up=None, anchoring=None,
               provenance=provenance, warnings=warnings)
    notes = [*warnings, *_notes(group, targets, baseline)]
    verdict = bottleneck(group)
    row.update(_bottleneck_columns(verdict), notes=notes)
    found.groups.append(row)
    if len(group) == 1:
        found.keep[group.index] = False
        reps = int(base["repetitions"])
        notes.insert(0, "speedup undefined: only one core count measured "
                        f"({cores_text(baseline)}, median {base['seconds']:.4g} s over {reps} "
                        f"repetition{'s' if reps != 1 else ''}); measure at least two core "
                        "counts")
        refused = prediction.refused_fits(group, key["mode"], float(base["seconds"]))
        found.fits.append(modelfit.fits_frame(refused).assign(chosen=False, **key))
        return
    _model_group(keys, group, targets, extra, row, found)
    if verdict["reason"]:
        notes.append(str(verdict["reason"]))


def _model_group(keys: tuple[str, ...], group: pd.DataFrame, targets: Targets,
                 extra: np.ndarray, row: dict[str, Any], found: _Found) -> None:
    """A group of two core counts or more: fit, choose, predict; the chosen model goes into
    ``row``, its notes into ``row["notes"]``, its predicted alerts into ``found``."""
    key = dict(zip(KEYS, keys, strict=True))
    baseline, baseline_seconds = row["baseline_cores"], row["baseline_seconds"]
    result = _predict(group, key["mode"], targets, baseline, baseline_seconds, extra)
    frame = modelfit.fits_frame(result.fits)
    if not frame.empty:
        frame["chosen"] = [f is result.chosen for f in result.fits]
    found.fits.append(frame.assign(**key))
    row["notes"].extend(result.notes)
    row.update(model=result.chosen.model if result.chosen else None,
               model_choice=result.choice,
               runner_up=result.runner_up.model if result.runner_up else None,
               anchoring=result.chosen.anchoring if result.chosen else None)
    for index, scale in zip(group.index, group["scale"], strict=True):
        found.model_efficiency[index] = result.model_efficiency.get(float(scale), np.nan)
    if result.chosen is not None and not result.predictions.empty:
        found.predictions.append(result.predictions.assign(**key))
        found.alerts += _predicted_alerts(result.predictions, keys, result.chosen.model,
                                          targets.p2_alert)


def _assemble(points: pd.DataFrame, found: _Found, targets: Targets) -> Analysis:
    """The :class:`Analysis` of the gathered groups: the points with their model columns (the
    lone points of one-count groups left out), measured and predicted alerts in order."""
    points["model_efficiency"] = found.model_efficiency
    points["model_residual"] = points["efficiency"] / found.model_efficiency - 1.0
    measured = points.loc[found.keep].reset_index(drop=True)
    alert_frame = pd.concat([_measured_alerts(measured, targets.p2_alert),
                             pd.DataFrame(found.alerts, columns=ALERT_COLUMNS)],
                            ignore_index=True)
    return Analysis(
        points=measured,
        groups=pd.DataFrame(found.groups),
        fits=_frame(found.fits),
        predictions=_frame(found.predictions),
        alerts=alert_frame.sort_values([*KEYS, "kind", "scale"], kind="stable",
                                       ignore_index=True),
        targets=targets,
    )


def _frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=KEYS)
    frame = pd.concat(parts, ignore_index=True)
    return frame[[*KEYS, *(c for c in frame.columns if c not in KEYS)]]


def missed(result: Analysis, include_predicted: bool = False) -> list[str]:
    """Measured points that fail their target or raise an alert, one message each (``--check``).

    Predicted alerts and predicted failures count only with ``include_predicted``
    (``--check-predicted``): they are not measurements.
    """
    points = result.points
    judged = points["status"] != BELOW_BASELINE
    bad = points.loc[judged & ((points["status"] == "fail")
                               | (points["efficiency"] < result.targets.p2_alert))]
    return [
        f"{label(w, m, v, q)} at {cores_text(c)}: E = {e:.3f}"
        + (f" (target > {t:.2f})" if np.isfinite(t) else "")
        + (" P2 alert" if e < result.targets.p2_alert else "")
        for w, m, v, q, c, e, t in zip(bad["workload"], bad["mode"], bad["variant"],
                                       bad["problem"], bad["cores"], bad["efficiency"],
                                       bad["target"], strict=True)
    ] + (_predicted_misses(result) if include_predicted else [])


def _predicted_misses(result: Analysis) -> list[str]:
    predicted = result.predictions
    if predicted.empty:
        return []
    bad = predicted.loc[predicted["target_scale"] & ~predicted["uncertain"] & (
        (predicted["status"] == "fail") | (predicted["efficiency"] < result.targets.p2_alert))]
    return [
        f"{label(w, m, v, q)} at {cores_text(c)}: predicted E = {e:.3f} ({_distance(x)})"
        for w, m, v, q, c, e, x in zip(bad["workload"], bad["mode"], bad["variant"],
                                       bad["problem"], bad["cores"], bad["efficiency"],
                                       bad["extrapolation"], strict=True)
    ]
