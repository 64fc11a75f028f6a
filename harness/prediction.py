"""What one scaling study's measurements can say beyond themselves: model choice and predictions.

Given a group's measured points (from :mod:`harness.analysis`), this module decides which points
a model may be fitted to, fits every model that applies (:mod:`harness.models`), chooses the one
that extrapolates best, and predicts efficiency with a 95 % prediction interval for a new run at
the scales that were not measured. It refuses where the data cannot carry a prediction and says
why in the group's notes:

- points below the baseline (scale < 1) are shown but never fitted;
- superlinear points (efficiency above 1 by more than twice their noise) are left out of the
  fits: no model here describes speedup above linear;
- fewer than 3 distinct core counts (5 for two-parameter models) give no prediction;
- a prediction whose 95 % interval spans more than a factor
  :data:`harness.modelpredict.MAX_INTERVAL_RATIO` is marked ``uncertain``: shown, never judged
  against a target and never alerted on;
- a baseline that lies off the trend of the other points (outside that trend's prediction
  interval, where the trend extrapolates better in cross-validation) is reported, and the
  prediction then follows the trend, still relative to the measured baseline.

Every prediction carries its extrapolation distance (target scale / largest measured scale);
beyond :data:`harness.modelpredict.FAR_EXTRAPOLATION` it is labelled far-extrapolated.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from harness import modelfit, modelpredict, models

#: superlinear when efficiency exceeds 1 by more than this many noise standard deviations
SUPERLINEAR_SIGMAS = 2.0
#: IQR of a normal sample over its standard deviation
_IQR_PER_SD = 1.349


@dataclass
class GroupPrediction:
    """A group's fits, the chosen model and runner-up, predictions, and what was said."""

    fits: list[modelfit.Fit]
    chosen: modelfit.Fit | None
    runner_up: modelfit.Fit | None
    choice: str
    predictions: pd.DataFrame
    #: per measured scale >= 1: the chosen model's efficiency there (the residual's reference)
    model_efficiency: dict[float, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    superlinear: list[float] = field(default_factory=list)
    off_trend_baseline: bool = False


def _cores(value: float) -> str:
    return f"{value:g} core" + ("" if value == 1 else "s")


def point_noise(group: pd.DataFrame) -> np.ndarray:
    """Relative noise of each point's time: the run-to-run SD of log time where there are
    several runs, else the repetitions' IQR as an SD, never below :data:`modelfit.MIN_NOISE`."""
    runs = group["runs"].to_numpy(dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        between = np.where(runs > 1, np.sqrt(group["log_ss"].to_numpy() / (runs - 1)), 0.0)
    within = np.nan_to_num(group["rel_iqr"].to_numpy(dtype=np.float64) / _IQR_PER_SD)
    return np.maximum(np.maximum(between, within), modelfit.MIN_NOISE)


def _points(group: pd.DataFrame, baseline_seconds: float) -> modelfit.Points:
    return modelfit.Points(
        scale=group["scale"].to_numpy(dtype=np.float64),
        runs=group["runs"].to_numpy(dtype=np.int64),
        log_mean=group["log_mean"].to_numpy(dtype=np.float64),
        log_ss=group["log_ss"].to_numpy(dtype=np.float64),
        anchor=math.log(baseline_seconds),
    )


def _suggest(cores: list[int]) -> str:
    """Core counts to add so that three are measured: doublings of the largest."""
    wanted, more = 3 - len(cores), []
    nxt = max(cores)
    while len(more) < wanted:
        nxt *= 2
        more.append(nxt)
    return ", ".join(map(str, more))


def _superlinear_note(group: pd.DataFrame, flagged: np.ndarray) -> str:
    first = group.loc[flagged].iloc[0]
    top = float(group.loc[flagged, "efficiency"].max())
    return (f"superlinear from {_cores(first['cores'])}: efficiency up to {top:.3f} > 1 beyond "
            "the noise (the working set may fit in cache at these core counts); "
            "models anchored at the baseline cannot express that; the trend of the points above "
            "the baseline (a free offset) can, and competes in the model choice")


def _karp_flatt_note(group: pd.DataFrame) -> str | None:
    kf = group.loc[group["scale"] > 1, "karp_flatt"].to_numpy(dtype=np.float64)
    if len(kf) >= 3 and np.isfinite(kf).all() and (np.diff(kf) < 0).all() and kf[-1] < kf[0] / 2:
        return (f"the Karp-Flatt serial fraction falls steadily with scale ({kf[0]:.3g} -> "
                f"{kf[-1]:.3g}): the baseline is slow relative to the other points or the "
                "runs scale superlinearly; a serial fraction from this baseline overstates it")
    return None


def _is_off_trend(trend: modelfit.Fit, anchor: float) -> tuple[bool, float]:
    """Whether the measured baseline lies outside the trend fit's 95 % prediction interval at
    r = 1, and the trend's baseline time."""
    log_t, half = modelpredict.predict_log_time(trend, np.array([1.0]))
    expected = float(math.exp(log_t[0]))
    if not math.isfinite(half[0]):
        return False, expected
    return abs(anchor - float(log_t[0])) > float(half[0]), expected


def _all_fits(pts: modelfit.Points, mode: str) -> list[modelfit.Fit]:
    """Every registered model fitted with baseline anchoring (refused or not applicable ones
    included, with the reason)."""
    return [modelfit.fit(pts, name, mode) for name in models.REGISTRY]


def _candidates(pts: modelfit.Points, mode: str) -> tuple[list[modelfit.Fit], list[modelfit.Fit]]:
    anchored = _all_fits(pts, mode)
    trend = [modelfit.fit(pts, m.name, mode, anchoring="trend") for m in models.models_for(mode)]
    return anchored, [f for f in trend if f.fitted]


def refused_fits(group: pd.DataFrame, mode: str, baseline_seconds: float) -> list[modelfit.Fit]:
    """Every registered model for a group that cannot be fitted (one core count): each refused
    or not applicable, with the reason."""
    return _all_fits(_points(group.loc[group["scale"] >= 1.0], baseline_seconds), mode)


def predict_group(group: pd.DataFrame, mode: str, baseline_cores: int, baseline_seconds: float,
                  scales: np.ndarray) -> GroupPrediction:
    """Fit, choose and predict for one group.

    Parameters
    ----------
    group
        The group's points: ``cores, scale, seconds, efficiency, karp_flatt, rel_iqr, runs,
        log_mean, log_ss`` (one row per core count).
    mode
        ``strong`` or ``weak``.
    baseline_cores, baseline_seconds
        The measured baseline (predictions are relative to it).
    scales
        Scales to predict at (float64, shape (S,)); those measured are skipped.

    Returns
    -------
    GroupPrediction
        With empty predictions and a note saying why when nothing may be predicted.
    """
    group = group.sort_values("scale")
    usable = group.loc[group["scale"] >= 1.0]
    notes, superlinear = _data_notes(group, usable)
    kf_note = _karp_flatt_note(usable)
    pts = _points(usable, baseline_seconds)
    empty = pd.DataFrame()
    counts = [int(c) for c in usable["cores"]]
    if len(counts) < min(modelfit.MIN_CORE_COUNTS.values()):
        listed = ", ".join(map(str, counts))
        notes.append(
            f"no prediction: {len(counts)} core count(s) to fit ({listed}); a model needs at "
            f"least {modelfit.MIN_CORE_COUNTS[1]} (one parameter) or {modelfit.MIN_CORE_COUNTS[2]} "
            f"(two parameters) to say anything beyond the data: measure also at "
            f"{_suggest(counts or [baseline_cores])} cores")
        if kf_note:
            notes.append(kf_note)
        return GroupPrediction(_all_fits(pts, mode), None, None,
                               "no prediction: too few core counts", empty, notes=notes,
                               superlinear=superlinear)
    fits, chosen, runner, why, off_trend = _choose(pts, mode, baseline_cores,
                                                   baseline_seconds, notes)
    if kf_note and not off_trend:
        notes.append(kf_note)
    if chosen is None:
        notes.append(f"no prediction: {why}")
        return GroupPrediction(fits, None, None, why, empty, notes=notes,
                               superlinear=superlinear)
    for name in chosen.at_bound:
        notes.append(f"{chosen.model}: {name} = {chosen.params[name]:g} is at its bound; the "
                     "data push the model to its limit, so read its predictions with care")
    predictions = _predictions(chosen, group, scales, baseline_cores, baseline_seconds, notes)
    at_points = modelpredict.predict(chosen, pts.scale, baseline_cores, baseline_seconds)
    model_eff = dict(zip(map(float, pts.scale), map(float, at_points["efficiency"]),
                         strict=True))
    return GroupPrediction(fits, chosen, runner, why, predictions, model_eff, notes,
                           superlinear, off_trend)


def _data_notes(group: pd.DataFrame, usable: pd.DataFrame) -> tuple[list[str], list[float]]:
    """Notes on the measured points before any fit (points below the baseline, superlinear
    points) and the scales of the superlinear ones."""
    notes: list[str] = []
    below = group.loc[group["scale"] < 1.0]
    if len(below):
        listed = ", ".join(_cores(c) for c in below["cores"])
        notes.append(f"{len(below)} point(s) below the baseline ({listed}): shown with their "
                     "speedup, no target, not fitted")
    noise = point_noise(usable)
    flagged = (usable["scale"].to_numpy() > 1.0) & (
        usable["efficiency"].to_numpy() > 1.0 + SUPERLINEAR_SIGMAS * noise)
    superlinear = [float(s) for s in usable.loc[flagged, "scale"]]
    if flagged.any():
        notes.append(_superlinear_note(usable, flagged))
    return notes, superlinear


def _choose(pts: modelfit.Points, mode: str, baseline_cores: int, baseline_seconds: float,
            notes: list[str]) -> tuple[list[modelfit.Fit], modelfit.Fit | None, modelfit.Fit | None,
                                       str, bool]:
    """The fits to list, the chosen model, the runner-up, why, and whether the baseline is off
    the trend (then noted): a trend fit is kept only when the measured baseline lies outside
    its interval, else the choice is made again among the anchored fits."""
    anchored, trend = _candidates(pts, mode)
    chosen, runner, why = modelfit.choose(anchored + trend)
    off_trend = False
    if chosen is not None and chosen.anchoring == "trend":
        off_trend, expected = _is_off_trend(chosen, pts.anchor)
        if off_trend:
            notes.append(
                f"the baseline is off the trend of the other points (measured T0 = "
                f"{baseline_seconds:.4g} s; the trend of the points above it gives "
                f"{expected:.4g} s at {_cores(baseline_cores)}): consider a larger baseline; "
                "predictions follow that trend and stay relative to the measured baseline")
        else:
            chosen, runner, why = modelfit.choose(anchored)
    # a trend fit is listed when it is the chosen model or the runner-up the choice names
    fits = anchored + [f for f in (chosen, runner)
                       if f is not None and f.anchoring == "trend"]
    return fits, chosen, runner, why, off_trend


def _predictions(chosen: modelfit.Fit, group: pd.DataFrame, scales: np.ndarray,
                 baseline_cores: int, baseline_seconds: float,
                 notes: list[str]) -> pd.DataFrame:
    """The chosen model's predictions at ``scales`` not measured, each marked ``uncertain``
    when its interval spans more than :data:`modelpredict.MAX_INTERVAL_RATIO` (then noted)."""
    measured = group["scale"].to_numpy(dtype=np.float64)
    wanted = np.asarray(scales, dtype=np.float64)
    wanted = wanted[~np.isclose(wanted[:, None], measured[None, :]).any(axis=1)]
    predictions = modelpredict.predict(chosen, wanted, baseline_cores, baseline_seconds)
    ratio = (predictions["pi95_high"] / predictions["pi95_low"]).to_numpy()
    predictions["uncertain"] = ratio > modelpredict.MAX_INTERVAL_RATIO
    if predictions["uncertain"].any():
        listed = ", ".join(f"{r:g}x" for r in predictions.loc[predictions["uncertain"], "scale"])
        notes.append(f"uncertain at {listed}: the 95 % interval there spans more than a factor "
                     f"{modelpredict.MAX_INTERVAL_RATIO:g}, so the data cannot carry the model "
                     "that far; no status or alert is given there: measure closer to those scales")
    return predictions
