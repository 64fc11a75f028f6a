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
:data:`harness.models.CV_MARGIN`, and by more than the term's own residual noise).

With two distinct core counts no hold-out is possible: the fit is either the constant ``c0``
(when the two medians differ by no more than the noise allows) or ``c1 * x**a`` through the two
medians, ``a`` continuous in ``[min(EXPONENTS), max(EXPONENTS)]``. With one: no fit (None).

Prediction intervals (for one new run) are in log time and add, in quadrature: the residual
noise with the uncertainty of ``c0, c1`` (weighted least squares, delta method; noise never
below :data:`harness.models.MIN_NOISE`); the extrapolation error, growing with the distance
beyond the largest measured scale in hold-out steps as :func:`harness.models.extrapolation_variance`
does; and the model-choice spread, the largest log ratio between the chosen prediction and those
of the near-best hypotheses (score within :data:`NEAR_FACTOR` of the best). Pure NumPy/SciPy.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from harness.models import CV_FLOOR, CV_MARGIN, MIN_NOISE

#: exponents ``a`` of ``x``: Extra-P's fractions, with the negative ones strong scaling needs
EXPONENTS: tuple[float, ...] = tuple(float(Fraction(s)) for s in (
    "-1", "-3/4", "-2/3", "-1/2", "-1/3", "-1/4", "0", "1/4", "1/3", "1/2", "2/3", "3/4", "1",
    "4/3", "3/2", "2"))
#: exponents ``b`` of ``log2 x``
LOG_EXPONENTS: tuple[int, ...] = (0, 1, 2)
#: hypotheses whose hold-out score is within this factor of the best tie (the simpler wins)
TIE_MARGIN = 1.05
#: and scores below this (relative error) tie whatever the factor: exact fits differ by rounding
TIE_FLOOR = 1e-6
#: hypotheses scoring within this factor of the best (or of the noise) enter the model-choice
#: spread of the prediction interval
NEAR_FACTOR = 2.0
#: a zero median time is weighted as this fraction of the phase's largest median (a phase that
#: takes no time on one rank, such as a halo exchange, must not get an infinite weight)
ZERO_FLOOR = 0.01
_TINY = 1e-300


def _term(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """``x**a * log2(x)**b`` (``log2(x)**0`` is 1, also at ``x = 1``)."""
    out = np.power(x, a)
    if b:
        out = out * np.log2(x) ** b
    return out


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
    hypotheses as ``(c0, c1, a, b)``, which widen the interval.
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
        return self.c0 + self.c1 * _term(x, self.a, self.b)

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
        s = max(self.noise, MIN_NOISE) if math.isfinite(self.noise) else MIN_NOISE
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
        g = np.ones_like(x) if self.constant else _term(x, self.a, self.b)
        var = cov[0, 0] + 2.0 * g * cov[0, 1] + g * g * cov[1, 1]
        return np.maximum(var, 0.0) / np.maximum(pred, _TINY) ** 2

    def _choice_spread(self, x: np.ndarray, pred: np.ndarray) -> np.ndarray:
        """Largest |log ratio| between the near-best hypotheses' predictions and this one's."""
        spread = np.zeros_like(x)
        for c0, c1, a, b in self.near:
            other = c0 + (0.0 if a == 0 and b == 0 else c1) * _term(x, a, b)
            ratio = np.log(np.maximum(other, _TINY) / np.maximum(pred, _TINY))
            spread = np.maximum(spread, np.abs(np.where(pred > 0, ratio, 0.0)))
        return spread


# ---- fitting ----------------------------------------------------------------------------------

def hypotheses() -> list[tuple[float, int]]:
    """Every ``(a, b)`` searched, simplest first: the constant ``(0, 0)``, then by ``b``, ``|a|``
    and negative ``a`` before positive."""
    pairs = [(a, b) for b in LOG_EXPONENTS for a in EXPONENTS]
    return sorted(pairs, key=lambda h: ((h[0], h[1]) != (0, 0), h[1], abs(h[0]), h[0]))


_HYPOTHESES = hypotheses()
_A = np.array([a for a, _ in _HYPOTHESES[1:]])
_B = np.array([b for _, b in _HYPOTHESES[1:]], dtype=np.float64)


def _terms(x: np.ndarray) -> np.ndarray:
    """``x^a log2(x)^b`` of every one-term hypothesis, shape ``(H - 1, len(x))``."""
    x = np.asarray(x, dtype=np.float64)
    return np.power(x, _A[:, None]) * np.power(np.log2(x), _B[:, None])


def solve(g: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Non-negative weighted least squares of ``y ~ c0 + c1 g`` for each row of ``g``.

    ``g`` has shape ``(H, N)``, ``y`` and ``w`` (weights of the residuals) shape ``(N,)``;
    returns ``c0, c1``, each shape ``(H,)``, >= 0, minimising ``sum (w (y - c0 - c1 g))^2``.
    With two coefficients the constrained optimum is the unconstrained one when that is
    feasible and otherwise the better of the two faces ``c0 = 0`` and ``c1 = 0`` (the active
    set method of :func:`scipy.optimize.nnls`, Lawson & Hanson 1974, solved in closed form).
    """
    u = w * w
    s00, t0 = float(u.sum()), float((u * y).sum())
    s01, s11 = g @ u, (g * g) @ u
    t1 = g @ (u * y)
    det = s00 * s11 - s01 * s01
    ok = det > 1e-12 * s00 * s11
    safe = np.where(ok, det, 1.0)
    c0 = np.where(ok, (s11 * t0 - s01 * t1) / safe, -1.0)
    c1 = np.where(ok, (s00 * t1 - s01 * t0) / safe, -1.0)
    inside = (c0 >= 0) & (c1 >= 0)
    # the faces: c0 = 0 (term alone) or c1 = 0 (constant alone)
    f1 = np.maximum(t1, 0.0) / np.where(s11 > 0, s11, 1.0)
    f0 = max(t0, 0.0) / s00
    rss_term = -2.0 * f1 * t1 + f1 * f1 * s11  # minus the common sum of u y^2
    rss_const = -2.0 * f0 * t0 + f0 * f0 * s00
    use_term = rss_term <= rss_const
    c0 = np.where(inside, c0, np.where(use_term, 0.0, f0))
    c1 = np.where(inside, c1, np.where(use_term, f1, 0.0))
    return c0, c1


def _weights(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scales, their median times floored at :data:`ZERO_FLOOR` of the largest, and
    per-run weights ``1 / floored median``."""
    scales, inverse = np.unique(x, return_inverse=True)
    medians = np.array([np.median(y[inverse == i]) for i in range(len(scales))])
    if medians.max() <= 0:  # all zero: any weight fits the zero line
        return scales, np.ones_like(medians), np.ones_like(y)
    denom = np.maximum(medians, ZERO_FLOOR * float(medians.max()))
    return scales, denom, 1.0 / denom[inverse]


def _fit_all(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(c0, c1, w)`` of every hypothesis fitted to ``(x, y)``: arrays of shape ``(H,)``
    (the constant first, its ``c1 = 0``) and the weights used."""
    _, _, w = _weights(x, y)
    c0, c1 = solve(_terms(x), y, w)
    u = w * w
    const = float((u * y).sum() / u.sum())
    return np.concatenate([[const], c0]), np.concatenate([[0.0], c1]), w


def _predict_all(c0: np.ndarray, c1: np.ndarray, x: float) -> np.ndarray:
    """Every hypothesis's prediction at scale ``x``, shape ``(H,)``."""
    g = np.concatenate([[0.0], _terms(np.array([x]))[:, 0]])
    return c0 + c1 * g


def _holdout_errors(x: np.ndarray, y: np.ndarray, scales: np.ndarray, denom: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per hypothesis, shape ``(H,)``: the hold-out score (RMS relative error, module docstring)
    and ``|predicted / measured - 1|`` at the largest scale fitted without it."""
    held_out = [len(scales) - 1]
    if len(scales) >= 4:
        held_out += list(range(len(scales)))
    # a scale whose median is below the weight floor (a phase that takes no time there, as a
    # collective on one rank) has no relative error to score; it still weighs in every fit
    floor = ZERO_FLOOR * float(denom.max())
    held_out = [i for i in held_out if denom[i] > floor] or held_out
    errors = []
    for i in held_out:
        errors.append((_refit_predict(x, y, scales[i]) - np.median(y[x == scales[i]]))
                      / denom[i])
    last = scales[-1]
    measured = float(np.median(y[x == last]))
    predicted = _refit_predict(x, y, last)
    largest = np.abs(predicted / measured - 1.0) if measured > 0 else \
        np.abs(predicted - measured) / denom[-1]
    return np.sqrt(np.mean(np.square(errors), axis=0)), largest


def _refit_predict(x: np.ndarray, y: np.ndarray, held: float) -> np.ndarray:
    """Every hypothesis fitted without scale ``held`` and evaluated there, shape ``(H,)``."""
    keep = x != held
    c0, c1, _ = _fit_all(x[keep], y[keep])
    return _predict_all(c0, c1, float(held))


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


def fit_phase(phase: str, cores: ArrayLike, seconds: ArrayLike) -> PhaseFit | None:
    """Fit one PMNF term to a phase's times and choose it by hold-out error.

    Parameters
    ----------
    phase : str
        The phase's name (carried into the result).
    cores : array_like of int, shape (N,)
        Core count of each run, >= 1; repeated counts are repetitions.
    seconds : array_like of float, shape (N,)
        The phase's time in seconds in each run, finite and >= 0.

    Returns
    -------
    PhaseFit or None
        The chosen fit; None when fewer than two distinct core counts were measured.

    Raises
    ------
    ValueError
        When the lengths differ, a core count is not an integer >= 1 or a time is not finite
        and >= 0.
    """
    c, t = _check(cores, seconds)
    if len(np.unique(c)) < 2:
        return None
    base = int(c.min())
    x = c / base
    points = len(np.unique(x))
    if not np.any(t > 0):  # a phase that never takes time (no relative error to weigh)
        return PhaseFit(phase=phase, c0=0.0, c1=0.0, a=0.0, b=0.0, baseline_cores=base,
                        holdout_error=0.0 if points > 2 else math.nan, noise=0.0,
                        points=points, runs=len(t), dof=len(t) - 1, score=0.0)
    scales, denom, w = _weights(x, t)
    if len(scales) == 2:
        return _fit_two(phase, x, t, w, scales, base)
    score, largest = _holdout_errors(x, t, scales, denom)
    c0s, c1s, _ = _fit_all(x, t)
    h = _choose(score, lambda i: _residual_noise(x, t, w, c0s[i], c1s[i], *_HYPOTHESES[i])[0])
    a, b = _HYPOTHESES[h]
    noise, dof, cov = _residual_noise(x, t, w, c0s[h], c1s[h], a, b)
    near_limit = NEAR_FACTOR * max(score[h], noise if math.isfinite(noise) else 0.0, MIN_NOISE)
    near_idx = [i for i in range(len(_HYPOTHESES)) if score[i] <= near_limit and i != h]
    near = tuple((float(c0s[i]), float(c1s[i]), *map(float, _HYPOTHESES[i])) for i in near_idx)
    return PhaseFit(
        phase=phase, c0=float(c0s[h]), c1=float(c1s[h]), a=float(a), b=float(b),
        baseline_cores=base, holdout_error=float(largest[h]), noise=noise, points=len(scales),
        runs=len(t), dof=dof, score=float(score[h]),
        extrapolation_error=float(max([score[h], *score[near_idx]])),
        largest_scale=float(scales[-1]), step=float(np.log(scales[-1] / scales[-2])),
        covariance=cov, near=near)


def _choose(score: np.ndarray, noise_of: Callable[[int], float]) -> int:
    """Index into :func:`hypotheses` of the chosen one, given the hold-out scores and a function
    giving a hypothesis's residual noise.

    Among the one-term hypotheses the lowest score wins, ties (within :data:`TIE_MARGIN` or
    :data:`TIE_FLOOR`) going to the simpler; it replaces the constant only when its score is
    below :data:`harness.models.CV_MARGIN` times the constant's (the rule the run-level models
    use for a model with more fitted values) and lower by more than its own residual noise
    (at least :data:`harness.models.CV_FLOOR`): a gain within the noise is no evidence of a term.
    """
    best = float(score[1:].min())
    term = 1 + int(np.argmax(score[1:] <= TIE_MARGIN * best + TIE_FLOOR))
    noise = noise_of(term)
    margin = max(CV_FLOOR, noise if math.isfinite(noise) else 0.0)
    if score[term] < CV_MARGIN * score[0] and score[term] < score[0] - margin:
        return term
    return 0


def _residual_noise(x: np.ndarray, t: np.ndarray, w: np.ndarray, c0: float, c1: float,
                    a: float, b: float):
    """(relative residual standard deviation, its dof, covariance of (c0, c1) or None)."""
    k = 1 if (a, b) == (0, 0) else 2
    dof = len(t) - k
    if dof < 1:
        return math.nan, 0, None
    g = np.ones_like(x) if k == 1 else _term(x, a, b)
    resid = w * (t - (c0 + (c1 * g if k == 2 else 0.0)))
    s2 = float(np.sum(resid ** 2) / dof)
    design = np.column_stack([w, w * g]) if k == 2 else w[:, None]
    inv = np.linalg.pinv(design.T @ design) * max(s2, MIN_NOISE ** 2)
    if k == 1:
        inv = np.array([[inv[0, 0], 0.0], [0.0, 0.0]])
    cov = ((float(inv[0, 0]), float(inv[0, 1])), (float(inv[1, 0]), float(inv[1, 1])))
    return math.sqrt(s2), dof, cov


def _fit_two(phase: str, x: np.ndarray, t: np.ndarray, w: np.ndarray, scales: np.ndarray,
             base: int) -> PhaseFit:
    """Two core counts: the constant, or ``c1 x^a`` through the two medians.

    The constant is kept when the medians' log ratio is within twice its standard error, from
    the scatter of the runs about their scale's mean log time (never below
    :data:`harness.models.MIN_NOISE`); the exponent's standard error widens the interval as a
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
                  runs=len(t), largest_scale=float(scales[-1]))
    if abs(math.log(m1 / m0)) <= 2.0 * se_change:
        const = float(np.sum(w * w * t) / np.sum(w * w))
        noise, const_dof, cov = _residual_noise(x, t, w, const, 0.0, 0.0, 0)
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
