"""Hypothesis search of the empirical per-phase fit (:mod:`harness.phasefit`).

Every one-term hypothesis ``t(x) = c0 + c1 * x**a * log2(x)**b`` of Extra-P's performance model
normal form (Calotoiu, Hoefler, Poke & Wolf, SC 2013), ``a`` from :data:`EXPONENTS`, ``b`` from
:data:`LOG_EXPONENTS`, fitted at once by non-negative weighted least squares (:func:`solve`) on
residuals relative to the median time at each scale; their hold-out scores; and the choice
among them (:func:`choose`). Arrays in, arrays out; the fitted law and its intervals are
:class:`harness.phasefit.PhaseFit`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction

import numpy as np

from harness.modelfit import CV_FLOOR, CV_MARGIN, MIN_NOISE

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
#: a zero median time is weighted as this fraction of the phase's largest median (a phase that
#: takes no time on one rank, such as a halo exchange, must not get an infinite weight)
ZERO_FLOOR = 0.01

def term(x: np.ndarray, a: float, b: float) -> np.ndarray:
    """``x**a * log2(x)**b`` (``log2(x)**0`` is 1, also at ``x = 1``)."""
    out = np.power(x, a)
    if b:
        out = out * np.log2(x) ** b
    return out



def hypotheses() -> list[tuple[float, int]]:
    """Every ``(a, b)`` searched, simplest first: the constant ``(0, 0)``, then by ``b``, ``|a|``
    and negative ``a`` before positive."""
    pairs = [(a, b) for b in LOG_EXPONENTS for a in EXPONENTS]
    return sorted(pairs, key=lambda h: ((h[0], h[1]) != (0, 0), h[1], abs(h[0]), h[0]))


HYPOTHESES = hypotheses()
_A = np.array([a for a, _ in HYPOTHESES[1:]])
_B = np.array([b for _, b in HYPOTHESES[1:]], dtype=np.float64)


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


def weights(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct scales, their median times floored at :data:`ZERO_FLOOR` of the largest, and
    per-run weights ``1 / floored median``."""
    scales, inverse = np.unique(x, return_inverse=True)
    medians = np.array([np.median(y[inverse == i]) for i in range(len(scales))])
    if medians.max() <= 0:  # all zero: any weight fits the zero line
        return scales, np.ones_like(medians), np.ones_like(y)
    denom = np.maximum(medians, ZERO_FLOOR * float(medians.max()))
    return scales, denom, 1.0 / denom[inverse]


def fit_all(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(c0, c1, w)`` of every hypothesis fitted to ``(x, y)``: arrays of shape ``(H,)``
    (the constant first, its ``c1 = 0``) and the weights used."""
    _, _, w = weights(x, y)
    c0, c1 = solve(_terms(x), y, w)
    u = w * w
    const = float((u * y).sum() / u.sum())
    return np.concatenate([[const], c0]), np.concatenate([[0.0], c1]), w


def _predict_all(c0: np.ndarray, c1: np.ndarray, x: float) -> np.ndarray:
    """Every hypothesis's prediction at scale ``x``, shape ``(H,)``."""
    g = np.concatenate([[0.0], _terms(np.array([x]))[:, 0]])
    return c0 + c1 * g


def holdout_errors(x: np.ndarray, y: np.ndarray, scales: np.ndarray, denom: np.ndarray
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


def extrapolation_errors(x: np.ndarray, y: np.ndarray, scales: np.ndarray, denom: np.ndarray
                         ) -> np.ndarray:
    """Per hypothesis, shape ``(H,)``: the root mean square log error of predicting the largest
    one and the largest two scales from the scales below them (NaN with fewer than three).

    The leave-largest-out cross-validation of :func:`harness.modelfit.cross_validation`, in log
    time (``log(predicted / measured median)``, both floored at the phase's zero floor,
    ``denom``'s smallest value), as evidence of how far a hypothesis strays per step beyond the
    data: every hold-out here extrapolates, unlike the leave-one-out part of the choice score.
    Two scales must remain for a refit (the two coefficients); the mean squared error of each
    hold-out size counts once.
    """
    floor = float(denom.min())
    per_size = []
    for held in (1, 2):
        kept = len(scales) - held
        if kept < 2:
            continue
        keep = x < scales[kept]
        c0, c1, _ = fit_all(x[keep], y[keep])
        squared = []
        for v in scales[kept:]:
            predicted = np.maximum(_predict_all(c0, c1, float(v)), floor)
            measured = max(float(np.median(y[x == v])), floor)
            squared.append(np.log(predicted / measured) ** 2)
        per_size.append(np.mean(squared, axis=0))
    if not per_size:
        return np.full(len(HYPOTHESES), math.nan)
    return np.sqrt(np.mean(per_size, axis=0))


def _refit_predict(x: np.ndarray, y: np.ndarray, held: float) -> np.ndarray:
    """Every hypothesis fitted without scale ``held`` and evaluated there, shape ``(H,)``."""
    keep = x != held
    c0, c1, _ = fit_all(x[keep], y[keep])
    return _predict_all(c0, c1, float(held))


def choose(score: np.ndarray, noise_of: Callable[[int], float]) -> int:
    """Index into :func:`hypotheses` of the chosen one, given the hold-out scores and a function
    giving a hypothesis's residual noise.

    Among the one-term hypotheses the lowest score wins, ties (within :data:`TIE_MARGIN` or
    :data:`TIE_FLOOR`) going to the simpler; it replaces the constant only when its score is
    below :data:`harness.modelfit.CV_MARGIN` times the constant's (the rule the run-level models
    use for a model with more fitted values) and lower by more than its own residual noise
    (at least :data:`harness.modelfit.CV_FLOOR`): a gain within the noise is no evidence of a term.
    """
    best = float(score[1:].min())
    term = 1 + int(np.argmax(score[1:] <= TIE_MARGIN * best + TIE_FLOOR))
    noise = noise_of(term)
    margin = max(CV_FLOOR, noise if math.isfinite(noise) else 0.0)
    if score[term] < CV_MARGIN * score[0] and score[term] < score[0] - margin:
        return term
    return 0


def residual_noise(x: np.ndarray, t: np.ndarray, w: np.ndarray, c0: float, c1: float,
                    a: float, b: float):
    """(relative residual standard deviation, its dof, covariance of (c0, c1) or None)."""
    k = 1 if (a, b) == (0, 0) else 2
    dof = len(t) - k
    if dof < 1:
        return math.nan, 0, None
    g = np.ones_like(x) if k == 1 else term(x, a, b)
    resid = w * (t - (c0 + (c1 * g if k == 2 else 0.0)))
    s2 = float(np.sum(resid ** 2) / dof)
    design = np.column_stack([w, w * g]) if k == 2 else w[:, None]
    inv = np.linalg.pinv(design.T @ design) * max(s2, MIN_NOISE ** 2)
    if k == 1:
        inv = np.array([[inv[0, 0], 0.0], [0.0, 0.0]])
    cov = ((float(inv[0, 0]), float(inv[0, 1])), (float(inv[1, 0]), float(inv[1, 1])))
    return math.sqrt(s2), dof, cov
