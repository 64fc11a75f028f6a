"""Scaling models fitted to measured times: Amdahl, Gustafson and the Universal Scalability Law.

Every model predicts the time at scale ``r = p/p0`` relative to the baseline time ``T0``
(DESIGN "Analysis contract"):

- Amdahl (strong): ``T(r)/T0 = f + (1 - f)/r``, so ``S = 1/(f + (1 - f)/r)``; f in [0, 1],
  speedup ceiling ``1/f``.
- Gustafson (weak): scaled speedup ``S = r - f(r - 1)``, so ``T(r)/T0 = r/S``; f in [0, 1].
- USL: ``S = r/(1 + alpha(r - 1) + beta r(r - 1))``; alpha in [0, 1], beta >= 0; the speedup
  peaks at ``r* = sqrt((1 - alpha)/beta)`` when beta > 0. In strong mode ``T(r)/T0 = 1/S``,
  in weak mode ``T(r)/T0 = r/S``.

Fits are least squares on the logarithm of every repetition's time (timing noise is relative),
with ``log T0`` a free nuisance parameter, so the baseline's own noise enters the intervals. The
data enter through per-point sufficient statistics (repetitions, mean and sum of squared
deviations of ``log seconds``), which gives exactly the repetition-level fit at the cost of a
point-level one. 95 % intervals are ``estimate +- t(0.975, N - k) * se`` from the Jacobian at the
optimum, clipped to the parameter bounds; they need N > k repetitions in all. A model with k
shape parameters needs at least k + 1 distinct core counts, otherwise it is refused with the
reason. Pure: frames and arrays in, frames and dataclasses out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

PARAMS: dict[str, tuple[str, ...]] = {"amdahl": ("f",), "gustafson": ("f",),
                                      "usl": ("alpha", "beta")}
BOUNDS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "amdahl": ((0.0,), (1.0,)), "gustafson": ((0.0,), (1.0,)),
    "usl": ((0.0, 0.0), (1.0, np.inf)),
}
#: models that apply to each mode, simplest first
APPLIES: dict[str, tuple[str, ...]] = {"strong": ("amdahl", "usl"), "weak": ("gustafson", "usl")}
MODELS = ("amdahl", "usl", "gustafson")
#: an AICc difference below this is "equally good" (Burnham & Anderson's rule of thumb)
AICC_TIE = 2.0
_TINY = 1e-300


@dataclass
class Fit:
    """One model fitted to one group (or refused, with the reason).

    ``status`` is ``fitted``, ``refused`` (the data cannot support it) or ``not-applicable``
    (the model does not describe this mode). ``rms_residual`` is the repetition-weighted RMS of
    the point means' log-time residuals (about a relative error); ``aicc`` the corrected Akaike
    criterion on all repetitions (NaN where undefined).
    """

    model: str
    mode: str
    status: str
    reason: str = ""
    params: dict[str, float] = field(default_factory=dict)
    ci95: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    covariance: np.ndarray | None = None
    points: int = 0
    observations: int = 0
    dof: int = 0
    rms_residual: float = math.nan
    aicc: float = math.nan

    @property
    def fitted(self) -> bool:
        return self.status == "fitted"

    @property
    def max_speedup(self) -> float:
        """Amdahl's ceiling 1/f (inf when f = 0); NaN for other models."""
        if self.model != "amdahl" or not self.fitted:
            return math.nan
        f = self.params["f"]
        return math.inf if f <= 0 else 1.0 / f

    @property
    def peak_scale(self) -> float:
        """USL's peak r* = sqrt((1 - alpha)/beta) (inf when beta = 0); NaN for other models."""
        if self.model != "usl" or not self.fitted:
            return math.nan
        alpha, beta = self.params["alpha"], self.params["beta"]
        return math.inf if beta <= 0 else math.sqrt(max(1.0 - alpha, 0.0) / beta)


def relative_time(model: str, mode: str, scale: np.ndarray, theta: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``T(r)/T0`` of a model and the derivatives of its log with respect to ``theta``.

    ``theta`` may carry leading grid dimensions: shape ``(..., k)``; results are ``(..., P)``
    and ``(..., P, k)`` for ``P`` scales.
    """
    r = np.asarray(scale, dtype=np.float64)
    theta = np.asarray(theta, dtype=np.float64)
    if model == "amdahl":
        f = theta[..., 0:1]
        g = f + (1.0 - f) / r
        return g, ((1.0 - 1.0 / r) / g)[..., None]
    if model == "gustafson":
        f = theta[..., 0:1]
        scaled = np.maximum(r - f * (r - 1.0), _TINY)
        return r / scaled, ((r - 1.0) / scaled)[..., None]
    if model == "usl":
        alpha, beta = theta[..., 0:1], theta[..., 1:2]
        denominator = np.maximum(1.0 + alpha * (r - 1.0) + beta * r * (r - 1.0), _TINY)
        g = denominator / r if mode == "strong" else denominator
        return g, np.stack([(r - 1.0) / denominator, r * (r - 1.0) / denominator], axis=-1)
    raise ValueError(f"unknown model {model!r}; choose one of {', '.join(MODELS)}")


def efficiency(model: str, mode: str, scale: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Parallel efficiency a model predicts at ``scale``: strong ``S/r``, weak ``T0/T``."""
    r = np.asarray(scale, dtype=np.float64)
    g, _ = relative_time(model, mode, r, theta)
    return 1.0 / (r * g) if mode == "strong" else 1.0 / g


def point_stats(repetitions: pd.DataFrame, by: str | list[str] = "scale") -> pd.DataFrame:
    """Per-point sufficient statistics of repetition times, the input of :func:`fit`.

    The one place these statistics are computed: the analyzer calls it per (group, cores).

    Parameters
    ----------
    repetitions
        One row per repetition: ``seconds`` (> 0) and the ``by`` column(s).
    by
        The column(s) that name a point; :func:`fit` needs ``scale``.

    Returns
    -------
    pandas.DataFrame
        Columns ``by``, ``repetitions``, ``log_mean`` and ``log_ssw`` (mean and sum of squared
        deviations of ``log seconds``), one row per distinct point, sorted by ``by``.
    """
    keys = [by] if isinstance(by, str) else list(by)
    log = pd.Series(np.log(repetitions["seconds"].to_numpy(dtype=np.float64)),
                    index=repetitions.index)
    grouped = log.groupby([repetitions[k] for k in keys], observed=True, sort=True)
    out = grouped.agg(["size", "mean", "var"])
    out.columns = ["repetitions", "log_mean", "log_var"]
    out["log_ssw"] = (out.pop("log_var") * (out["repetitions"] - 1)).fillna(0.0)
    return out.reset_index()


def _start(model: str, mode: str, r: np.ndarray, n: np.ndarray, m: np.ndarray) -> np.ndarray:
    """A starting point from a coarse grid (log T0 profiled out), so the polish cannot stall."""
    if model == "usl":
        alphas, betas = np.linspace(0.0, 1.0, 41), np.concatenate([[0.0], np.logspace(-10, 1, 45)])
        grid = np.stack(np.meshgrid(alphas, betas, indexing="ij"), axis=-1).reshape(-1, 2)
    else:
        grid = np.linspace(0.0, 1.0, 201)[:, None]
    g, _ = relative_time(model, mode, r, grid)
    resid = m - np.log(g)
    c = (n * resid).sum(axis=1, keepdims=True) / n.sum()
    rss = (n * (resid - c) ** 2).sum(axis=1)
    return grid[int(np.argmin(rss))]


def fit(points: pd.DataFrame, model: str, mode: str) -> Fit:
    """Fit ``model`` to one group's points (columns of :func:`point_stats`).

    Parameters
    ----------
    points
        ``scale, repetitions, log_mean, log_ssw`` per distinct scale.
    model
        ``amdahl``, ``usl`` or ``gustafson``.
    mode
        ``strong`` or ``weak``; Amdahl applies to strong mode only, Gustafson to weak only.

    Returns
    -------
    Fit
        Estimates with 95 % intervals (None where there are no spare repetitions), or a refusal
        whose ``reason`` says why.
    """
    names = PARAMS[model]
    if model not in APPLIES[mode]:
        other = "weak" if mode == "strong" else "strong"
        return Fit(model, mode, "not-applicable",
                   f"{model} describes {other} scaling; this group is {mode}")
    r = points["scale"].to_numpy(dtype=np.float64)
    n = points["repetitions"].to_numpy(dtype=np.float64)
    m = points["log_mean"].to_numpy(dtype=np.float64)
    ssw = float(points["log_ssw"].to_numpy(dtype=np.float64).sum())
    distinct, need = len(np.unique(r)), len(names) + 1
    if distinct < need:
        count = "one parameter" if len(names) == 1 else f"{len(names)} parameters"
        return Fit(model, mode, "refused",
                   f"{model} has {count} and needs at least {need} distinct core counts; "
                   f"this group has {distinct}", points=distinct, observations=int(n.sum()))
    if not (np.isfinite(r).all() and (r > 0).all() and np.isfinite(m).all() and (n >= 1).all()
            and math.isfinite(ssw)):
        return Fit(model, mode, "refused", "every scale must be a finite number > 0 and every "
                   "point needs at least one time that is a finite number > 0",
                   points=distinct, observations=int(np.nansum(n)))
    weights = np.sqrt(n)

    def residuals(x: np.ndarray) -> np.ndarray:
        g, _ = relative_time(model, mode, r, x[1:])
        return weights * (m - x[0] - np.log(g))

    def jacobian(x: np.ndarray) -> np.ndarray:
        _, dlog = relative_time(model, mode, r, x[1:])
        return -weights[:, None] * np.column_stack([np.ones_like(r), dlog])

    theta0 = _start(model, mode, r, n, m)
    g0, _ = relative_time(model, mode, r, theta0)
    x0 = np.concatenate([[float((n * (m - np.log(g0))).sum() / n.sum())], theta0])
    lower = np.array([-np.inf, *BOUNDS[model][0]])
    upper = np.array([np.inf, *BOUNDS[model][1]])
    x0 = np.clip(x0, lower, upper)  # the grid lies within the bounds; keep x0 there for sure
    if not (np.isfinite(x0).all() and np.isfinite(residuals(x0)).all()):
        return Fit(model, mode, "refused", "the scales are too extreme for a finite starting "
                   "point", points=distinct, observations=int(n.sum()))
    result = optimize.least_squares(residuals, x0, jac=jacobian, bounds=(lower, upper),
                                    method="trf", x_scale="jac", xtol=1e-12, ftol=1e-12,
                                    gtol=1e-12)
    x = np.clip(result.x, lower, upper)
    # snap estimates that sit on a bound up to round-off, so "beta = 0" reads as no peak
    if model == "usl" and x[2] * r.max() ** 2 < 1e-9:
        x[2] = 0.0
    x[1] = 0.0 if x[1] < 1e-9 else x[1]
    between = float(np.sum(residuals(x) ** 2))
    rss, total, k = between + ssw, int(n.sum()), len(names) + 1
    dof = total - k
    fitted = Fit(model, mode, "fitted", params=dict(zip(names, map(float, x[1:]), strict=True)),
                 points=distinct, observations=total, dof=dof,
                 rms_residual=math.sqrt(between / total))
    if rss > 0 and total - k - 1 > 0:
        fitted.aicc = total * math.log(rss / total) + 2 * k + 2 * k * (k + 1) / (total - k - 1)
    if dof <= 0:
        fitted.reason = (f"no confidence interval: {total} repetitions for {k} parameters "
                         "(log T0 and the model's), none to spare")
        fitted.ci95 = dict.fromkeys(names)
        return fitted
    jac = jacobian(x)
    try:
        covariance = np.linalg.inv(jac.T @ jac) * (rss / dof)
    except np.linalg.LinAlgError:
        fitted.reason = "the fit is degenerate: no confidence interval"
        fitted.ci95 = dict.fromkeys(names)
        return fitted
    fitted.covariance = covariance[1:, 1:]
    half = stats.t.ppf(0.975, dof) * np.sqrt(np.maximum(np.diag(covariance)[1:], 0.0))
    for i, name in enumerate(names):
        lo = max(x[1 + i] - half[i], lower[1 + i])
        hi = min(x[1 + i] + half[i], upper[1 + i])
        fitted.ci95[name] = (float(lo), float(hi))
    return fitted


def choose(fits: list[Fit]) -> tuple[Fit | None, str]:
    """The better-fitting of a group's models, and a sentence saying which and by how much.

    Rule: only fitted models compete; an exact fit (no spare repetitions) cannot be judged
    against one that has them; otherwise the lower AICc wins unless the two are within
    :data:`AICC_TIE`, where the simpler model is kept; without AICc, the lower RMS residual.
    """
    fitted = [f for f in fits if f.fitted]
    if not fitted:
        refused = "; ".join(f.reason for f in fits if f.status == "refused")
        return None, f"no model could be fitted ({refused})" if refused else "no model applies"
    if len(fitted) == 1:
        others = [f for f in fits if f.status == "refused"]
        why = f" ({others[0].reason})" if others else ""
        return fitted[0], f"{fitted[0].model} is the only model the data support{why}"
    simple, rich = sorted(fitted, key=lambda f: len(f.params))[:2]
    rms = (f"RMS residual {100 * simple.rms_residual:.2f} % ({simple.model}) vs "
           f"{100 * rich.rms_residual:.2f} % ({rich.model})")
    if rich.dof <= 0 < simple.dof:
        return simple, (f"{rich.model} has no repetitions to spare beyond its parameters, so "
                        f"its fit cannot be judged; using {simple.model} ({rms})")
    if math.isfinite(simple.aicc) and math.isfinite(rich.aicc):
        delta = rich.aicc - simple.aicc
        if abs(delta) < AICC_TIE:
            return simple, (f"{simple.model} and {rich.model} fit equally well "
                            f"(AICc differs by {abs(delta):.1f} < {AICC_TIE:g}); using the "
                            f"simpler {simple.model}; {rms}")
        best, other = (rich, simple) if delta < 0 else (simple, rich)
        return best, (f"{best.model} fits better than {other.model}: {rms}; "
                      f"AICc lower by {abs(delta):.1f}")
    if rich.rms_residual < simple.rms_residual * (1 - 1e-9) - 1e-12:
        return rich, f"{rich.model} fits better than {simple.model}: {rms}"
    return simple, f"{simple.model} fits at least as well as {rich.model}: {rms}"


def predict(chosen: Fit, scales: np.ndarray, baseline_cores: int) -> pd.DataFrame:
    """Efficiency the chosen model predicts at ``scales``, labelled ``predicted``.

    Returns
    -------
    pandas.DataFrame
        ``scale, cores, efficiency, ci95_low, ci95_high, model, label``; the interval (delta
        method on log efficiency, clipped to (0, 1]) is NaN where the fit has none.
    """
    r = np.asarray(scales, dtype=np.float64)
    theta = np.array([chosen.params[p] for p in PARAMS[chosen.model]])
    eff = efficiency(chosen.model, chosen.mode, r, theta)
    lo = hi = np.full_like(r, np.nan)
    if chosen.covariance is not None:
        _, dlog = relative_time(chosen.model, chosen.mode, r, theta)
        se = np.sqrt(np.maximum(np.einsum("pi,ij,pj->p", dlog, chosen.covariance, dlog), 0.0))
        half = stats.t.ppf(0.975, chosen.dof) * se
        lo, hi = eff * np.exp(-half), np.minimum(eff * np.exp(half), 1.0)
    return pd.DataFrame({
        "scale": r, "cores": r * baseline_cores, "efficiency": eff,
        "ci95_low": lo, "ci95_high": hi, "model": chosen.model, "label": "predicted",
    })


def fits_frame(fits: list[Fit]) -> pd.DataFrame:
    """Fits as a frame: one row per model with estimates, intervals and fit quality."""
    rows = []
    for f in fits:
        row = {"model": f.model, "status": f.status, "reason": f.reason}
        for name in ("f", "alpha", "beta"):
            ci = f.ci95.get(name) if name in f.params else None
            row[name] = f.params.get(name, math.nan)
            row[f"{name}_ci95_low"] = ci[0] if ci else math.nan
            row[f"{name}_ci95_high"] = ci[1] if ci else math.nan
        row.update(max_speedup=f.max_speedup, peak_scale=f.peak_scale, points=f.points,
                   observations=f.observations, dof=f.dof, rms_residual=f.rms_residual,
                   aicc=f.aicc)
        rows.append(row)
    return pd.DataFrame(rows)
