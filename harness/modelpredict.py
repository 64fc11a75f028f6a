"""What a fitted scaling model predicts: time and efficiency at new scales, with intervals.

- **Prediction intervals for a new run.** The 95 % interval of a predicted time or efficiency is
  for one new run at that scale: it adds the run-to-run variance ``s^2`` to the uncertainty of the
  fitted parameters and, when anchored, of the baseline (delta method on the linearised model;
  ``s^2`` is the residual variance with ``N - k - 1`` degrees of freedom, N runs, k shape
  parameters, one offset; Student t quantile). ``s`` never falls below
  :data:`harness.modelfit.MIN_NOISE`.
- **Extrapolation.** Beyond the largest measured scale the interval also widens with the
  model's own cross-validation error per step in log scale (:func:`extrapolation_variance`);
  the distance is the scale over the largest measured one, labelled far-extrapolated beyond
  :data:`FAR_EXTRAPOLATION`.

The fits come from :mod:`harness.modelfit`. Pure: arrays and a :class:`~harness.modelfit.Fit`
in, arrays and frames out.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from harness.modelfit import Fit
from harness.models import REGISTRY

#: extrapolation distances beyond this are labelled far-extrapolated
FAR_EXTRAPOLATION = 8.0
#: a prediction whose 95 % interval spans more than this factor (high / low) is too uncertain
#: to judge against a target: the data cannot carry the model that far
MAX_INTERVAL_RATIO = 10.0


def predict_log_time(chosen: Fit, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted ``log T`` at ``scales`` and the half-width of its 95 % prediction interval for
    one new run (NaN where the fit has no interval), both shape ``(len(scales),)``.

    The variance is ``s^2 (1 + j' C j / s^2 + (1 - a)^2 / n0)`` for baseline anchoring, with ``j``
    the gradient of ``log g`` at the scale, ``C`` the parameter covariance, ``n0`` the baseline
    runs and ``a = j' (J'WJ)^-1 J'W 1`` the part of the baseline's error the fit absorbed; trend
    anchoring fits its own offset and adds ``j' C j`` with the offset's column, no baseline term.
    """
    spec = REGISTRY[chosen.model]
    r = np.asarray(scales, dtype=np.float64)
    theta = np.array([chosen.params[p] for p in spec.params])
    g, dlog = spec.relative_time(chosen.mode, r, theta)
    log_t = chosen.offset + np.log(g)
    if chosen.covariance is None or not math.isfinite(chosen.noise):
        return log_t, np.full_like(r, np.nan)
    s2 = chosen.noise ** 2
    if chosen.anchoring == "trend":
        j = np.hstack([dlog, np.ones((len(r), 1))])
        var = s2 + np.einsum("pi,ij,pj->p", j, chosen.covariance, j)
    else:
        # (J'WJ)^-1 = C / s^2
        param_var = np.einsum("pi,ij,pj->p", dlog, chosen.covariance, dlog)
        a = dlog @ chosen.covariance @ chosen.baseline_sensitivity / s2
        var = s2 + param_var + s2 * (1.0 - a) ** 2 / max(chosen.baseline_runs, 1)
    var = var + extrapolation_variance(chosen, r)
    half = stats.t.ppf(0.975, chosen.dof) * np.sqrt(np.maximum(var, 0.0))
    return log_t, half


def extrapolation_variance(chosen: Fit, scales: np.ndarray) -> np.ndarray:
    """Variance added beyond the largest measured scale for the model's own extrapolation error.

    The fitted model is not the truth: its cross-validation error ``e`` (the error of predicting
    the largest scales from the others) measures how far it strays over one step in log scale
    (``log(r_max / r_next)``). Beyond ``r_max`` the added variance is ``(e d)^2`` with ``d`` the
    distance in those steps, so intervals widen with the extrapolation distance; zero within the
    data and when no cross-validation was possible.
    """
    r = np.asarray(scales, dtype=np.float64)
    error = chosen.extrapolation_error if math.isfinite(chosen.extrapolation_error) \
        else chosen.cv_error
    if not (math.isfinite(error) and chosen.cv_step > 0):
        return np.zeros_like(r)
    steps = np.maximum(np.log(r / chosen.largest_scale), 0.0) / chosen.cv_step
    return (error * steps) ** 2


def extrapolation(scales: np.ndarray, largest_scale: float) -> np.ndarray:
    """Extrapolation distance: target scale over the largest measured scale (<= 1 inside)."""
    return np.asarray(scales, dtype=np.float64) / float(largest_scale)


def predict(chosen: Fit, scales: np.ndarray, baseline_cores: int, baseline_seconds: float
            ) -> pd.DataFrame:
    """Efficiency and time the chosen fit predicts at ``scales``, labelled ``predicted``.

    Parameters
    ----------
    chosen
        A fitted :class:`Fit`.
    scales
        Scales ``r = p/p0``, float64, shape (P,).
    baseline_cores, baseline_seconds
        The measured baseline every prediction is relative to.

    Returns
    -------
    pandas.DataFrame
        ``scale, cores, seconds, efficiency, pi95_low, pi95_high, model, anchoring, label,
        extrapolation, far_extrapolated``; strong efficiency is ``T0/(r T)``, weak ``T0/T``;
        the prediction interval (for one new run) is NaN where the fit has none and is never
        clipped (a superlinear run is possible).
    """
    r = np.asarray(scales, dtype=np.float64)
    log_t, half = predict_log_time(chosen, r)
    log_t0 = math.log(baseline_seconds)
    factor = r if chosen.mode == "strong" else np.ones_like(r)
    eff = np.exp(log_t0 - log_t) / factor
    distance = extrapolation(r, chosen.largest_scale)
    return pd.DataFrame({
        "scale": r, "cores": r * baseline_cores, "seconds": np.exp(log_t), "efficiency": eff,
        "pi95_low": eff * np.exp(-half), "pi95_high": eff * np.exp(half),
        "model": chosen.model, "anchoring": chosen.anchoring, "label": "predicted",
        "extrapolation": distance, "far_extrapolated": distance > FAR_EXTRAPOLATION,
    })
