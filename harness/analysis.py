"""The analyzer: every group of a repetitions frame, measured and modelled, as frames.

Pure pandas: a frame of repetitions (:mod:`harness.inputs`) in, an :class:`Analysis` out; no
I/O. Per group (one scaling study, :data:`harness.metrics.KEYS`) :func:`analyze` joins the
metrics table (:mod:`harness.metrics`: speedup, efficiency, Karp–Flatt, target, status), the
models, their choice and the predictions (:mod:`harness.prediction`; a model's value at a
measured scale is only a residual), what the points say (:mod:`harness.diagnosis`: bottleneck,
notes, measured and predicted P2 alerts) and which runs may be pooled (:mod:`harness.pooling`;
the group's notes say when runs were). :func:`missed` lists what ``--check`` fails on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness import diagnosis, modelfit, pooling, prediction
from harness.metrics import (
    BELOW_BASELINE,
    KEYS,
    checked_repetitions,
    cores_text,
    label,
    scaling,
    summarize,
)
from harness.targets import Targets


@dataclass
class Analysis:
    """Everything the analyzer found, as frames (one row per point / group / model / alert)."""

    points: pd.DataFrame
    groups: pd.DataFrame
    fits: pd.DataFrame
    predictions: pd.DataFrame
    alerts: pd.DataFrame
    targets: Targets


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
    checked = checked_repetitions(repetitions)
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
    notes = [*warnings, *diagnosis.group_notes(group, targets, baseline)]
    verdict = diagnosis.bottleneck(group)
    row.update(diagnosis.bottleneck_columns(verdict), notes=notes)
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
        found.alerts += diagnosis.predicted_alerts(result.predictions, keys,
                                                   result.chosen.model, targets.p2_alert)


def _assemble(points: pd.DataFrame, found: _Found, targets: Targets) -> Analysis:
    """The :class:`Analysis` of the gathered groups: the points with their model columns (the
    lone points of one-count groups left out), measured and predicted alerts in order."""
    points["model_efficiency"] = found.model_efficiency
    points["model_residual"] = points["efficiency"] / found.model_efficiency - 1.0
    measured = points.loc[found.keep].reset_index(drop=True)
    alert_frame = pd.concat([diagnosis.measured_alerts(measured, targets.p2_alert),
                             pd.DataFrame(found.alerts, columns=diagnosis.ALERT_COLUMNS)],
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
        f"{label(w, m, v, q)} at {cores_text(c)}: predicted E = {e:.3f} "
        f"({diagnosis.distance_text(x)})"
        for w, m, v, q, c, e, x in zip(bad["workload"], bad["mode"], bad["variant"],
                                       bad["problem"], bad["cores"], bad["efficiency"],
                                       bad["extrapolation"], strict=True)
    ]
