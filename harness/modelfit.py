"""Fitting the scaling models of :mod:`harness.models` to measured runs, and choosing one.

How a group is fitted (:func:`fit`):

- **The replicate is the run.** Each run contributes the log of its median over repetitions;
  the scatter of runs at one scale is the run-to-run noise (it includes the within-run noise of
  the median). Fits are least squares on those logs (timing noise is relative).
- **Anchored to the measured baseline.** By default the model's offset is the measured baseline
  time (``log T(r) = log T0 + log g(r)``), so a prediction is relative to what was measured, not
  to a fitted baseline. When the baseline is off the trend of the other points the model is fitted
  to those points alone with a free offset (``trend`` anchoring) and the prediction is still
  expressed against the measured baseline.
- **Refusals.** A model with k shape parameters needs at least :data:`MIN_CORE_COUNTS` ``[k]``
  distinct core counts (3 for one parameter, 5 for two, the rule Extra-P applies) and spare runs
  for an interval; otherwise it is refused with the reason.

Model choice (:func:`choose`) is by how well each candidate extrapolates: fitted to all but the
largest one or two scales, the root mean square log error of its prediction of the held-out
times (leave-largest-out cross-validation); the simpler model wins unless the richer one's score is
clearly lower. What a chosen fit predicts, with its intervals, is :mod:`harness.modelpredict`.
Pure: arrays and frames in, dataclasses and frames out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from harness.models import REGISTRY, Model

#: assumed floor of run-to-run variation (relative, 1 %): timings never repeat better than this
#: on shared machines, and a perfect fit of three points must not give a zero-width interval
MIN_NOISE = 0.01
#: distinct core counts (baseline included) a model needs, by its number of shape parameters
MIN_CORE_COUNTS = {1: 3, 2: 5}
#: a richer model must cut the simpler one's cross-validation error by this factor to be chosen
CV_MARGIN = 0.8
#: and by at least this much in absolute log error (0.5 %)
CV_FLOOR = 0.005
#: the prediction interval allows for the cross-validation error of the candidate ranked this
#: far down (1 = the best): the winner's own score is optimistic, since it won by being low
SELECTION_RANK = 3

# ---- data -------------------------------------------------------------------------------------

@dataclass
class Points:
    """One group's runs, reduced to what the fits need, one entry per distinct scale.

    ``scale`` (float64, shape (P,), sorted, ``scale[0]`` the baseline's 1.0), ``runs`` (int, the
    runs at each scale), ``log_mean`` (mean over runs of log run-median seconds) and ``log_ss``
    (sum of squared deviations of those logs about their mean); ``anchor`` is the log of the
    measured baseline time every prediction is relative to.
    """

    scale: np.ndarray
    runs: np.ndarray
    log_mean: np.ndarray
    log_ss: np.ndarray
    anchor: float

    def without(self, keep: np.ndarray) -> Points:
        return Points(self.scale[keep], self.runs[keep], self.log_mean[keep], self.log_ss[keep],
                      self.anchor)


def run_stats(runs: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per point, the run-level log statistics :class:`Points` holds.

    Parameters
    ----------
    runs
        One row per run: the ``by`` columns and ``seconds`` (the run's median, > 0).

    Returns
    -------
    pandas.DataFrame
        ``by``, ``runs``, ``log_mean``, ``log_ss``; one row per distinct ``by``.
    """
    log = pd.Series(np.log(runs["seconds"].to_numpy(dtype=np.float64)), index=runs.index)
    grouped = log.groupby([runs[k] for k in by], observed=True, sort=True)
    out = grouped.agg(["size", "mean", "var"])
    out.columns = ["runs", "log_mean", "log_var"]
    out["log_ss"] = (out.pop("log_var") * (out["runs"] - 1)).fillna(0.0)
    return out.reset_index()


# ---- fitting ----------------------------------------------------------------------------------

@dataclass
class Fit:
    """One model fitted to one group (or refused, with the reason).

    ``status`` is ``fitted``, ``refused`` (the data cannot support it) or ``not-applicable``.
    ``anchoring`` is ``baseline`` (offset = measured baseline) or ``trend`` (free offset, the
    baseline left out). ``noise`` is the estimated run-to-run standard deviation of log time
    (about a relative error); ``rms_residual`` the run-weighted RMS of the point residuals;
    ``cv_error`` the leave-largest-out cross-validation score (root mean square log error, NaN
    when it could not be computed); ``at_bound`` names parameters that sit on a bound.
    """

    model: str
    mode: str
    status: str
    reason: str = ""
    anchoring: str = "baseline"
    params: dict[str, float] = field(default_factory=dict)
    ci95: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    offset: float = math.nan
    anchor: float = math.nan
    covariance: np.ndarray | None = None
    baseline_runs: int = 0
    points: int = 0
    observations: int = 0
    dof: int = 0
    noise: float = math.nan
    rms_residual: float = math.nan
    cv_error: float = math.nan
    #: log of the largest measured scale over the next largest: the step the hold-out spans
    cv_step: float = math.nan
    #: the extrapolation error per step the prediction intervals allow for: set by
    #: :func:`choose` to the larger of the chosen model's cross-validation error and the median
    #: of all candidates' (the winner's score is optimistic: it won because it was low)
    extrapolation_error: float = math.nan
    largest_scale: float = math.nan
    at_bound: tuple[str, ...] = ()
    #: ``J'W 1`` over the non-baseline points: how the shape parameters follow a shift of the
    #: baseline (baseline anchoring's prediction variance needs it)
    baseline_sensitivity: np.ndarray | None = None

    @property
    def fitted(self) -> bool:
        return self.status == "fitted"

    @property
    def max_speedup(self) -> float:
        """Amdahl's ceiling 1/f (inf when f = 0); NaN for other models or f at its bound 1."""
        if self.model != "amdahl" or not self.fitted or self.params["f"] >= 1.0:
            return math.nan
        f = self.params["f"]
        return math.inf if f <= 0 else 1.0 / f

    @property
    def peak_scale(self) -> float:
        """USL's peak r* = sqrt((1 - alpha)/beta) (inf when beta = 0); NaN for other models and
        when alpha sits at its bound 1 (no speedup to peak)."""
        if self.model != "usl" or not self.fitted:
            return math.nan
        alpha, beta = self.params["alpha"], self.params["beta"]
        if alpha >= 1.0:
            return math.nan
        return math.inf if beta <= 0 else math.sqrt((1.0 - alpha) / beta)


def _start(model: Model, mode: str, pts: Points, free_offset: bool) -> np.ndarray:
    """The best point of a coarse grid (offset profiled out), so the polish cannot stall."""
    grid = model.grid()
    g, _ = model.relative_time(mode, pts.scale, grid)
    resid = pts.log_mean - np.log(g)
    if free_offset:
        c = (pts.runs * resid).sum(axis=1, keepdims=True) / pts.runs.sum()
    else:
        c = pts.anchor
    rss = (pts.runs * (resid - c) ** 2).sum(axis=1)
    return grid[int(np.argmin(rss))]


def _least_squares(model: Model, mode: str, pts: Points, free_offset: bool
                   ) -> tuple[np.ndarray, float]:
    """Shape parameters and offset minimising the run-weighted squared log residuals."""
    w = np.sqrt(pts.runs.astype(np.float64))
    k = len(model.params)

    def split(x: np.ndarray) -> tuple[np.ndarray, float]:
        return (x[:k], x[k]) if free_offset else (x, pts.anchor)

    def residuals(x: np.ndarray) -> np.ndarray:
        theta, c = split(x)
        g, _ = model.relative_time(mode, pts.scale, theta)
        return w * (pts.log_mean - c - np.log(g))

    def jacobian(x: np.ndarray) -> np.ndarray:
        theta, _ = split(x)
        _, dlog = model.relative_time(mode, pts.scale, theta)
        columns = [dlog] + ([np.ones((len(pts.scale), 1))] if free_offset else [])
        return -w[:, None] * np.hstack(columns)

    theta0 = _start(model, mode, pts, free_offset)
    lower, upper = list(model.lower), list(model.upper)
    if free_offset:
        g0, _ = model.relative_time(mode, pts.scale, theta0)
        c0 = float((pts.runs * (pts.log_mean - np.log(g0))).sum() / pts.runs.sum())
        x0 = np.concatenate([theta0, [c0]])
        lower.append(-np.inf)
        upper.append(np.inf)
    else:
        x0 = theta0.astype(np.float64)
    lo, hi = np.array(lower), np.array(upper)
    result = optimize.least_squares(residuals, np.clip(x0, lo, hi), jac=jacobian,
                                    bounds=(lo, hi), method="trf", x_scale="jac",
                                    xtol=1e-12, ftol=1e-12, gtol=1e-12)
    x = np.clip(result.x, lo, hi)
    theta, c = split(x)
    return np.array(theta, dtype=np.float64), float(c)


def _fit_points(model: Model, mode: str, pts: Points, anchoring: str) -> Fit:
    """Fit ``model`` to ``pts`` (baseline first) with the given anchoring; no refusal checks."""
    free = anchoring == "trend"
    data = pts.without(np.arange(len(pts.scale)) > 0)  # the baseline sets the anchor only
    theta, c = _least_squares(model, mode, data, free)
    k = len(model.params)
    scale_max = float(pts.scale.max())
    at_bound = []
    for i, name in enumerate(model.params):
        span = max(abs(model.upper[i] - model.lower[i]), 1.0) if np.isfinite(model.upper[i]) \
            else 1.0
        if theta[i] - model.lower[i] <= 1e-9 * span:
            theta[i] = model.lower[i]
            at_bound.append(name)
        elif np.isfinite(model.upper[i]) and model.upper[i] - theta[i] <= 1e-9 * span:
            theta[i] = model.upper[i]
            at_bound.append(name)
    # a quadratic coefficient too small to matter within the data is no coefficient
    if model.name == "usl" and 0 < theta[1] * scale_max ** 2 < 1e-9:
        theta[1] = 0.0
        at_bound.append("beta")
    g, _ = model.relative_time(mode, data.scale, theta)
    resid = data.log_mean - c - np.log(g)
    between = float((data.runs * resid ** 2).sum())
    n0 = int(pts.runs[0])
    total_runs = int(pts.runs.sum())
    pure = float(pts.log_ss.sum())
    # the baseline's mean is spent on the anchor, or unused when the offset is free
    dof = total_runs - k - 1 - (1 if free else 0)
    fit = Fit(model.name, mode, "fitted", anchoring=anchoring,
              params=dict(zip(model.params, map(float, theta), strict=True)), offset=c,
              anchor=pts.anchor, baseline_runs=n0, points=len(pts.scale),
              observations=total_runs, dof=dof,
              rms_residual=math.sqrt(between / max(int(data.runs.sum()), 1)),
              largest_scale=scale_max, at_bound=tuple(dict.fromkeys(at_bound)))
    if dof <= 0:
        fit.reason = (f"no interval: {total_runs} runs for {k + 1} fitted values "
                      f"({', '.join(model.params)} and the offset), none to spare")
        fit.ci95 = dict.fromkeys(model.params)
        return fit
    fit.noise = max(math.sqrt((between + pure) / dof), MIN_NOISE)
    _, dlog = model.relative_time(mode, data.scale, theta)
    jac = dlog if not free else np.hstack([dlog, np.ones((len(data.scale), 1))])
    information = (jac * data.runs[:, None]).T @ jac
    covariance = np.linalg.pinv(information) * fit.noise ** 2
    fit.covariance = covariance
    fit.baseline_sensitivity = (dlog * data.runs[:, None]).sum(axis=0)
    spread = covariance
    if not free:
        # the anchor is a mean of n0 noisy runs: its error moves every estimate by
        # (J'WJ)^-1 J'W 1 times that error, variance s^2 / n0
        shift = covariance @ fit.baseline_sensitivity / fit.noise
        spread = covariance + np.outer(shift, shift) / max(n0, 1)
    half = stats.t.ppf(0.975, dof) * np.sqrt(np.maximum(np.diag(spread)[:k], 0.0))
    for i, name in enumerate(model.params):
        fit.ci95[name] = (float(max(theta[i] - half[i], model.lower[i])),
                          float(min(theta[i] + half[i], model.upper[i])))
    return fit


def fit(pts: Points, model: str, mode: str, anchoring: str = "baseline") -> Fit:
    """Fit a registered model to one group's points.

    Parameters
    ----------
    pts
        The group's points, baseline first (:class:`Points`).
    model
        A name in :data:`REGISTRY`.
    mode
        ``strong`` or ``weak``.
    anchoring
        ``baseline`` (offset fixed at the measured baseline) or ``trend`` (free offset; the
        baseline point is left out of the fit).

    Returns
    -------
    Fit
        Estimates with 95 % intervals (None where no runs are spare), or a refusal whose
        ``reason`` says why and what to measure.
    """
    spec = REGISTRY[model]
    if mode not in spec.modes:
        return Fit(model, mode, "not-applicable",
                   f"{model} describes {' and '.join(spec.modes)} scaling; this group is {mode}")
    distinct = len(pts.scale)
    if anchoring not in ("baseline", "trend"):
        raise ValueError(f"anchoring must be baseline or trend, not {anchoring!r}")
    need = MIN_CORE_COUNTS[len(spec.params)] + (1 if anchoring == "trend" else 0)
    if distinct < need:
        count = "one parameter" if len(spec.params) == 1 else f"{len(spec.params)} parameters"
        how = " (its own offset: the baseline is left out)" if anchoring == "trend" else ""
        return Fit(model, mode, "refused",
                   f"{model} has {count}{how} and needs at least {need} distinct core counts "
                   f"to predict from; this group has {distinct}: measure more core counts",
                   points=distinct, observations=int(pts.runs.sum()))
    if not (np.isfinite(pts.scale).all() and np.isfinite(pts.log_mean).all()):
        return Fit(model, mode, "refused", "every scale and time must be a finite number > 0",
                   points=distinct, observations=int(pts.runs.sum()))
    out = _fit_points(spec, mode, pts, anchoring)
    out.cv_error = cross_validation(spec, mode, pts, anchoring)
    out.cv_step = float(np.log(pts.scale[-1] / pts.scale[-2]))
    return out


def cross_validation(model: Model, mode: str, pts: Points, anchoring: str) -> float:
    """Root mean square log error of predicting the largest one and two scales from the rest.

    Each hold-out refits the model to the remaining points (which must keep at least one point
    per fitted value beside the baseline); NaN when no hold-out is possible.
    """
    fitted_values = len(model.params) + (1 if anchoring == "trend" else 0)
    errors = []
    for held in (1, 2):
        kept = len(pts.scale) - held
        if kept - 1 < fitted_values:  # points beside the baseline the refit needs
            continue
        keep = np.arange(len(pts.scale)) < kept
        train = pts.without(keep)
        part = _fit_points(model, mode, train, anchoring)
        theta = np.array([part.params[p] for p in model.params])
        g, _ = model.relative_time(mode, pts.scale[~keep], theta)
        predicted = part.offset + np.log(g)
        errors.append(float(np.mean((predicted - pts.log_mean[~keep]) ** 2)))
    return float(np.sqrt(np.mean(errors))) if errors else math.nan


# ---- choice -----------------------------------------------------------------------------------

def choose(fits: list[Fit]) -> tuple[Fit | None, Fit | None, str]:
    """The model that extrapolates best, the runner-up, and a sentence saying why.

    Rule: only fitted models compete. With cross-validation scores, the lowest wins, except that
    a model with more fitted values must beat a simpler one's score by the factor
    :data:`CV_MARGIN` and by :data:`CV_FLOOR`; a model without a score loses to one with a score.
    With no scores at all, the simplest fitted model is kept.
    """
    fitted = [f for f in fits if f.fitted]
    if not fitted:
        refused = "; ".join(f.reason for f in fits if f.status == "refused")
        return None, None, (f"no model could be fitted ({refused})" if refused
                            else "no model applies")

    def size(f: Fit) -> int:
        return len(f.params) + (1 if f.anchoring == "trend" else 0)

    order = sorted(fitted, key=lambda f: (size(f), f.model, f.anchoring))
    scored = [f for f in order if math.isfinite(f.cv_error)]
    if not scored:
        best = order[0]
        runner = order[1] if len(order) > 1 else None
        return best, runner, (f"{_name(best)}: the simplest model the data support (too few "
                              "core counts to hold any out for cross-validation)")
    best = scored[0]
    for f in scored[1:]:
        if size(f) > size(best):
            better = f.cv_error < CV_MARGIN * best.cv_error and \
                f.cv_error < best.cv_error - CV_FLOOR
        else:
            better = f.cv_error < best.cv_error
        if better:
            best = f
    others = [f for f in scored if f.model != best.model]  # another model, not a variant
    runner = min(others, key=lambda f: f.cv_error) if others else None
    why = (f"{_name(best)} extrapolates best: leave-largest-out cross-validation error "
           f"{100 * best.cv_error:.1f} %")
    if runner is not None:
        why += f" vs {100 * runner.cv_error:.1f} % ({_name(runner)})"
    ranked = sorted(f.cv_error for f in scored)
    best.extrapolation_error = max(best.cv_error, ranked[min(SELECTION_RANK, len(ranked)) - 1])
    return best, runner, why


def _name(f: Fit) -> str:
    return f"{f.model} on the trend of the points above the baseline" if f.anchoring == "trend" \
        else f.model


def fits_frame(fits: list[Fit]) -> pd.DataFrame:
    """Fits as a frame: one row per model with estimates, intervals and fit quality."""
    rows = []
    names = sorted({p for m in REGISTRY.values() for p in m.params})
    for f in fits:
        row: dict[str, object] = {"model": f.model, "status": f.status, "reason": f.reason,
                                  "anchoring": f.anchoring, "offset": f.offset}
        for name in names:
            ci = f.ci95.get(name) if name in f.params else None
            row[name] = f.params.get(name, math.nan)
            row[f"{name}_ci95_low"] = ci[0] if ci else math.nan
            row[f"{name}_ci95_high"] = ci[1] if ci else math.nan
        row.update(max_speedup=f.max_speedup, peak_scale=f.peak_scale, points=f.points,
                   observations=f.observations, dof=f.dof, noise=f.noise,
                   rms_residual=f.rms_residual, cv_error=f.cv_error,
                   at_bound=",".join(f.at_bound))
        rows.append(row)
    return pd.DataFrame(rows)
