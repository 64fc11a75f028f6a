"""The empirical per-phase fit: one term of Extra-P's performance-model normal form per phase.

Each phase's time against the core count ``p`` is fitted by one hypothesis of the performance
model normal form (PMNF) of Calotoiu, Hoefler, Poke & Wolf, "Using automated performance
modeling to find scalability bugs in complex codes", SC 2013, with one term::

    t(x) = c0 + c1 * x**a * log2(x)**b,    x = p / p0,

``p0`` the smallest measured core count (so ``x >= 1`` and ``log2 x >= 0`` on the data), ``a``
from :data:`EXPONENTS`, ``b`` from :data:`LOG_EXPONENTS`; ``(a, b) = (0, 0)`` is the constant
model ``t = c0``. Phase times are never negative and each term is a cost, so ``c0, c1 >= 0``
(non-negative least squares: the optimum :func:`scipy.optimize.nnls` finds, in closed form for
two coefficients, :func:`solve`). Residuals are relative to the median time at each core count,
so a phase's small times at large scale count as much as its large ones at small scale (timing
noise is multiplicative).

The hypothesis is chosen by hold-out error, as Extra-P chooses by cross-validation: each
hypothesis is refitted without the largest core count and predicts it, and, with four or more
distinct core counts, without each core count in turn (leave-one-out; the largest counts twice,
since extrapolation is what the fit is for). The score is the root mean square of those relative
errors; among the one-term hypotheses the lowest wins, and those within :data:`TIE_MARGIN` of it
(or of :data:`TIE_FLOOR`) tie, broken toward the simpler (``b = 0``, then smaller ``|a|``). The
constant stays unless the best term beats its score clearly (by the run-level models' margin,
:data:`harness.modelfit.CV_MARGIN`, and by more than the term's own residual noise).

With two distinct core counts no hold-out is possible: the fit is either the constant ``c0``
(when the two medians differ by no more than the noise allows) or ``c1 * x**a`` through the two
medians, ``a`` continuous in ``[min(EXPONENTS), max(EXPONENTS)]``. With one: no fit (None).

Prediction intervals (for one new run) are in log time and add, in quadrature: the residual
noise with the uncertainty of ``c0, c1`` (weighted least squares, delta method; noise never
below :data:`harness.modelfit.MIN_NOISE`, nor, given the run totals, below :data:`JITTER` of the
run's total relative to the phase); the extrapolation error, the leave-largest-out log error of
:func:`harness.modelfit.cross_validation` (largest one and two scales predicted from those below;
the chosen hypothesis's), times the distance beyond the largest measured scale in hold-out
steps as :func:`harness.modelpredict.extrapolation_variance` does; and the model-choice spread, the
largest log ratio between the chosen prediction and those of the near-best hypotheses (score
within :data:`NEAR_FACTOR` of the best). Pure NumPy/SciPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from harness.modelfit import MIN_NOISE
from harness.phasefit_search import (
    EXPONENTS,
    HYPOTHESES,
    LOG_EXPONENTS,
    ZERO_FLOOR,
    choose,
    extrapolation_errors,
    fit_all,
    holdout_errors,
    hypotheses,
    residual_noise,
    solve,
    term,
    weights,
)

__all__ = ["EXPONENTS", "LOG_EXPONENTS", "NEAR_FACTOR", "PhaseFit", "fit_phase", "hypotheses",
           "solve"]

#: hypotheses scoring within this factor of the best (or of the noise) enter the model-choice
#: spread of the prediction interval
NEAR_FACTOR = 2.0
#: run-to-run jitter of a whole run, relative to its total (:data:`harness.modelfit.MIN_NOISE`):
#: given the run totals, a phase's noise floor is this much of the total, not of the phase. A
#: phase that waits (a halo exchange, a collective) absorbs the other ranks' jitter in the
#: phases before it, of the order of the whole run's variation, so a phase that is 0.5 % of
#: the run can vary by 2x its own time. The timer's resolution (MPI_Wtick, 1 us or finer) is
#: not the binding floor: it is far below any phase time worth fitting.
JITTER = MIN_NOISE
_TINY = 1e-300



def _describe_number(v: float) -> str:
    frac = Fraction(v).limit_denominator(12)
    if abs(float(frac) - v) < 1e-9:
        return str(frac)
    return f"{v:.3g}"


@dataclass(frozen=True)
class PhaseFit:
    """A phase's time as ``t(x) = c0 + c1 * x**a * log2(x)**b``, ``x = cores / baseline_cores``.

    ``holdout_error`` is ``|predicted / measured - 1|`` at the largest measured core count,
    predicted by the chosen hypothesis refitted without it (NaN with two core counts);
    ``score`` the root mean square relative hold-out error that chose the hypothesis; ``noise``
    the relative residual standard deviation (``dof`` degrees of freedom, NaN when none);
    ``points`` the distinct core counts, ``runs`` the runs fitted; ``near`` the near-best other
    hypotheses as ``(c0, c1, a, b)``, which widen the interval; ``noise_floor`` the relative
    noise the interval assumes at least (:data:`harness.modelfit.MIN_NOISE`, or the run's jitter
    relative to this phase when the run totals were given: :func:`fit_phase`).
    """

    phase: str
    c0: float
    c1: float
    a: float
    b: float
    baseline_cores: int
    holdout_error: float
    noise: float
    points: int
    runs: int = 0
    dof: int = 0
    score: float = math.nan
    #: the extrapolation error per hold-out step the intervals allow for
    extrapolation_error: float = math.nan
    largest_scale: float = 1.0
    #: log of the largest measured scale over the next largest
    step: float = math.nan
    #: covariance of (c0, c1) from the weighted fit, seconds^2
    covariance: tuple[tuple[float, float], tuple[float, float]] | None = field(
        default=None, repr=False)
    near: tuple[tuple[float, float, float, float], ...] = field(default=(), repr=False)
    noise_floor: float = MIN_NOISE

    @property
    def constant(self) -> bool:
        """True for the constant model (``c1`` unused)."""
        return self.a == 0 and self.b == 0

    def predict(self, cores: ArrayLike) -> np.ndarray:
        """Predicted phase time in seconds at ``cores`` (int or float > 0), float64, its shape.

        Raises ``ValueError`` for a core count that is not finite and > 0.
        """
        x = self._scale(cores)
        if self.constant:
            return np.full_like(x, self.c0)
        return self.c0 + self.c1 * term(x, self.a, self.b)

    def interval(self, cores: ArrayLike, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
        """The ``level`` prediction interval of one new run at ``cores``: (low, high), seconds.

        Both float64 of the shape of ``cores``; ``low <= predict <= high``. The half-width in
        log time is ``t_q sqrt(s^2 + v_param)`` combined in quadrature with the extrapolation
        error ``e d`` (``d`` hold-out steps beyond the largest scale) and the model-choice
        spread (module docstring). Raises ``ValueError`` for a level outside (0, 1).
        """
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must lie in (0, 1), got {level}")
        x = self._scale(cores)
        pred = self.predict(cores)
        floor = max(self.noise_floor, MIN_NOISE)
        s = max(self.noise, floor) if math.isfinite(self.noise) else floor
        stat_var = s ** 2 + self._parameter_variance(x, pred)
        quantile = stats.t.ppf(0.5 + level / 2.0, max(self.dof, 1))
        if math.isfinite(self.extrapolation_error) and self.step > 0:
            steps = np.maximum(np.log(x / self.largest_scale), 0.0) / self.step
            extra = (self.extrapolation_error * steps) ** 2
        else:
            extra = np.zeros_like(x)
        spread = self._choice_spread(x, pred)
        z = stats.norm.ppf(0.5 + level / 2.0)
        # the t quantile scales the statistical part; the extrapolation error and the spread are
        # systematic, scaled by the normal quantile (they are not estimated from dof residuals)
        half = np.sqrt(quantile ** 2 * stat_var + z ** 2 * extra + spread ** 2)
        return pred * np.exp(-half), pred * np.exp(half)

    def describe(self) -> str:
        """The fitted law as text, e.g. ``"0.12 + 3.4·x^-1"`` or ``"0.5·log2(x)"``."""
        if self.constant:
            return f"{self.c0:.3g}"
        parts = []
        if self.a:
            parts.append(f"x^{_describe_number(self.a)}")
        if self.b:
            parts.append("log2(x)" + (f"^{_describe_number(self.b)}" if self.b != 1 else ""))
        term = f"{self.c1:.3g}·" + "·".join(parts)
        return f"{self.c0:.3g} + {term}" if self.c0 > 0 else term

    def _scale(self, cores: ArrayLike) -> np.ndarray:
        c = np.asarray(cores, dtype=np.float64)
        if not np.all(np.isfinite(c) & (c > 0)):
            raise ValueError("core counts must be finite numbers > 0")
        return c / self.baseline_cores

    def _parameter_variance(self, x: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Relative variance of the fitted curve at ``x`` (delta method on c0, c1)."""
        if self.covariance is None:
            return np.zeros_like(x)
        cov = np.asarray(self.covariance)
        g = np.ones_like(x) if self.constant else term(x, self.a, self.b)
        var = cov[0, 0] + 2.0 * g * cov[0, 1] + g * g * cov[1, 1]
        return np.maximum(var, 0.0) / np.maximum(pred, _TINY) ** 2

    def _choice_spread(self, x: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Largest |log ratio| between the near-best hypotheses' predictions and this one's."""
        spread = np.zeros_like(x)
        for c0, c1, a, b in self.near:
            other = c0 + (0.0 if a == 0 and b == 0 else c1) * term(x, a, b)
            ratio = np.log(np.maximum(other, _TINY) / np.maximum(pred, _TINY))
            spread = np.maximum(spread, np.abs(np.where(pred > 0, ratio, 0.0)))
        return spread




# ---- fitting ----------------------------------------------------------------------------------

def _check(cores: ArrayLike, seconds: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    c = np.asarray(cores, dtype=np.float64).ravel()
    t = np.asarray(seconds, dtype=np.float64).ravel()
    if c.shape != t.shape:
        raise ValueError(f"{c.size} core counts but {t.size} times")
    if not np.all(np.isfinite(c) & (c >= 1) & (c == np.round(c))):
        raise ValueError("core counts must be integers >= 1")
    if not np.all(np.isfinite(t) & (t >= 0)):
        raise ValueError("phase times must be finite numbers >= 0")
    return c, t


def fit_phase(phase: str, cores: ArrayLike, seconds: ArrayLike, *,
              totals: ArrayLike | None = None) -> PhaseFit | None:
    """Fit one PMNF term to a phase's times and choose it by hold-out error.

    Parameters
    ----------
    phase : str
        The phase's name (carried into the result).
    cores : array_like of int, shape (N,)
        Core count of each run, >= 1; repeated counts are repetitions.
    seconds : array_like of float, shape (N,)
        The phase's time in seconds in each run, finite and >= 0.
    totals : array_like of float, shape (N,), optional
        Each run's total time in seconds, finite and > 0. When given, the interval's noise
        floor is :data:`harness.modelfit.MIN_NOISE` of the run's total relative to the phase's
        median time at the largest core count (:data:`JITTER` below), not of the phase alone.

    Returns
    -------
    PhaseFit or None
        The chosen fit; None when fewer than two distinct core counts were measured.

    Raises
    ------
    ValueError
        When the lengths differ, a core count is not an integer >= 1, a time is not finite
        and >= 0, or a total is not finite and > 0.
    """
    c, t = _check(cores, seconds)
    total = _check_totals(totals, t)
    if len(np.unique(c)) < 2:
        return None
    base = int(c.min())
    x = c / base
    points = len(np.unique(x))
    if not np.any(t > 0):  # a phase that never takes time (no relative error to weigh)
        return PhaseFit(phase=phase, c0=0.0, c1=0.0, a=0.0, b=0.0, baseline_cores=base,
                        holdout_error=0.0 if points > 2 else math.nan, noise=0.0,
                        points=points, runs=len(t), dof=len(t) - 1, score=0.0)
    scales, denom, w = weights(x, t)
    floor = _jitter_floor(x, total, scales, denom)
    if len(scales) == 2:
        return _fit_two(phase, x, t, w, scales, base, floor)
    score, largest = holdout_errors(x, t, scales, denom)
    cv = extrapolation_errors(x, t, scales, denom)
    c0s, c1s, _ = fit_all(x, t)
    h = choose(score, lambda i: residual_noise(x, t, w, c0s[i], c1s[i], *HYPOTHESES[i])[0])
    a, b = HYPOTHESES[h]
    noise, dof, cov = residual_noise(x, t, w, c0s[h], c1s[h], a, b)
    near_limit = NEAR_FACTOR * max(score[h], noise if math.isfinite(noise) else 0.0, MIN_NOISE)
    near_idx = [i for i in range(len(HYPOTHESES)) if score[i] <= near_limit and i != h]
    near = tuple((float(c0s[i]), float(c1s[i]), *map(float, HYPOTHESES[i])) for i in near_idx)
    return PhaseFit(
        phase=phase, c0=float(c0s[h]), c1=float(c1s[h]), a=float(a), b=float(b),
        baseline_cores=base, holdout_error=float(largest[h]), noise=noise, points=len(scales),
        runs=len(t), dof=dof, score=float(score[h]),
        extrapolation_error=_extrapolation_error(cv, h),
        largest_scale=float(scales[-1]), step=float(np.log(scales[-1] / scales[-2])),
        covariance=cov, near=near, noise_floor=floor)


def _extrapolation_error(cv: np.ndarray, chosen: int) -> float:
    """The extrapolation error per step the interval allows for: the chosen hypothesis's own
    leave-largest-out log error.

    The other hypotheses enter the interval through the model-choice spread (their predictions
    against this one's), not here: their hold-out errors are those of laws the choice rejected
    (a near-best term fitted to a constant's noise extrapolates wildly). Nor the hypothesis
    ranked :data:`harness.modelfit.SELECTION_RANK` as in :func:`harness.modelfit.choose`: the
    hypotheses are a grid of exponents, and the third best is a law one exponent step off.
    """
    return float(cv[chosen])


def _check_totals(totals: ArrayLike | None, t: np.ndarray) -> np.ndarray | None:
    if totals is None:
        return None
    total = np.asarray(totals, dtype=np.float64).ravel()
    if total.shape != t.shape:
        raise ValueError(f"{t.size} phase times but {total.size} run totals")
    if not np.all(np.isfinite(total) & (total > 0)):
        raise ValueError("run totals must be finite numbers > 0")
    return total


def _jitter_floor(x: np.ndarray, total: np.ndarray | None, scales: np.ndarray,
                  denom: np.ndarray) -> float:
    """The relative noise floor of the phase's interval (:data:`JITTER`): ``MIN_NOISE`` times
    the median run total at the largest scale over the phase's (floored) median there, never
    below ``MIN_NOISE``; ``MIN_NOISE`` without totals."""
    if total is None:
        return MIN_NOISE
    ratio = float(np.median(total[x == scales[-1]])) / float(denom[-1])
    return max(MIN_NOISE, JITTER * ratio)



def _fit_two(phase: str, x: np.ndarray, t: np.ndarray, w: np.ndarray, scales: np.ndarray,
             base: int, floor: float) -> PhaseFit:
    """Two core counts: the constant, or ``c1 x^a`` through the two medians.

    The constant is kept when the medians' log ratio is within twice its standard error, from
    the scatter of the runs about their scale's mean log time (never below
    :data:`harness.modelfit.MIN_NOISE`); the exponent's standard error widens the interval as a
    model-choice spread (``a`` two standard errors either side).
    """
    medians = np.array([np.median(t[x == v]) for v in scales])
    floor = max(ZERO_FLOOR * float(medians.max()), _TINY)
    log_t = np.log(np.maximum(t, floor))
    runs = np.array([int(np.sum(x == v)) for v in scales])
    within = sum(float(np.sum((log_t[x == v] - log_t[x == v].mean()) ** 2)) for v in scales)
    dof = len(t) - 2
    s = max(math.sqrt(within / dof), MIN_NOISE) if dof >= 1 else MIN_NOISE
    se_change = s * math.sqrt(float(np.sum(1.0 / runs)))
    m0, m1 = np.maximum(medians, floor)
    common = dict(phase=phase, baseline_cores=base, holdout_error=math.nan, points=2,
                  runs=len(t), largest_scale=float(scales[-1]), noise_floor=floor)
    if abs(math.log(m1 / m0)) <= 2.0 * se_change:
        const = float(np.sum(w * w * t) / np.sum(w * w))
        noise, const_dof, cov = residual_noise(x, t, w, const, 0.0, 0.0, 0)
        return PhaseFit(c0=const, c1=0.0, a=0.0, b=0.0, noise=noise, dof=const_dof,
                        covariance=cov, **common)
    lo, hi = min(EXPONENTS), max(EXPONENTS)
    a = float(np.clip(math.log(m1 / m0) / math.log(scales[1]), lo, hi))
    c1 = float(np.exp(np.mean(log_t - a * np.log(x))))
    resid = log_t - math.log(c1) - a * np.log(x)
    noise = float(math.sqrt(np.sum(resid ** 2) / dof)) if dof >= 1 else math.nan
    se_a = se_change / math.log(scales[1])
    near = tuple((0.0, c1, a + d, 0.0) for d in (-2.0 * se_a, 2.0 * se_a))
    return PhaseFit(c0=0.0, c1=c1, a=a, b=0.0, noise=noise, dof=max(dof, 0), near=near,
                    **common)
