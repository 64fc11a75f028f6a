"""The fits of ``harness probe``: Hockney α–β per level and the allreduce α·⌈log₂p⌉ + β·m.

Both models are linear in their two coefficients, so each is a least-squares fit on the
measured points. Message times span six orders of magnitude (8 B to 16 MiB), so plain least
squares would let the largest messages alone decide; every residual is taken *relative* to
its measured time, ``(t_i − model_i)/t_i`` (weights ``1/t_i``), so the latency of the small
messages and the bandwidth of the large ones both count. The coefficients are kept
non-negative (an exact active-set search over the two coefficients): a negative latency or
per-byte cost has no meaning.

Sources: R. W. Hockney, "The communication challenge for MPP: Intel Paragon and Meiko CS-2",
Parallel Computing 20(3), 1994 (``t(m) = α + m/B``); R. Thakur, R. Rabenseifner & W. Gropp,
"Optimization of collective communication operations in MPICH", IJHPCA 19(1), 2005 (recursive
doubling: ``⌈log₂ p⌉`` rounds). Only NumPy: the fits run on rank 0 of the probe.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


class FitError(ValueError):
    """Too few or unusable points for a fit (the message says which)."""


def _clean(columns: list[np.ndarray], seconds: np.ndarray) -> None:
    if seconds.ndim != 1 or seconds.size < 2:
        raise FitError(f"a fit needs at least 2 points, got {seconds.size}")
    if any(c.shape != seconds.shape for c in columns):
        raise FitError("every input of a fit must have one length")
    if not np.all(np.isfinite(seconds)) or np.any(seconds <= 0):
        raise FitError("times must be finite and > 0 seconds")
    if any(not np.all(np.isfinite(c)) or np.any(c < 0) for c in columns):
        raise FitError("the model's inputs must be finite and >= 0")


def nonnegative_relative_lstsq(design: np.ndarray, seconds: np.ndarray) -> np.ndarray:
    """Coefficients ``c ≥ 0`` minimising ``Σ ((t_i − (design @ c)_i)/t_i)²``.

    Parameters
    ----------
    design
        float64, shape (n, k), k ≤ 3: one column per coefficient, entries ≥ 0.
    seconds
        float64, shape (n,), measured times > 0.

    Returns
    -------
    numpy.ndarray
        float64, shape (k,): the best non-negative coefficients. Every subset of free
        coefficients is solved exactly (the others held at 0) and the feasible one with the
        smallest objective is kept (exact for small k).
    """
    weighted = design / seconds[:, None]
    target = np.ones_like(seconds)
    k = design.shape[1]
    best, best_cost = np.zeros(k), float(np.sum(target**2))
    for mask in range(1, 2**k):
        free = [j for j in range(k) if mask >> j & 1]
        coef, *_ = np.linalg.lstsq(weighted[:, free], target, rcond=None)
        if np.any(coef < 0):
            continue
        full = np.zeros(k)
        full[free] = coef
        cost = float(np.sum((target - weighted @ full) ** 2))
        if cost < best_cost:
            best, best_cost = full, cost
    return best


def relative_rms(seconds: np.ndarray, model: np.ndarray) -> float:
    """Root mean square of ``(t − model)/t``: the fit's typical relative error."""
    return float(np.sqrt(np.mean(((seconds - model) / seconds) ** 2)))


@dataclass(frozen=True)
class HockneyFit:
    """``t(m) = latency + m/bandwidth``: seconds, bytes/s; ``residual`` relative RMS;
    ``points`` sizes fitted; ``note`` says when the bandwidth is a bound, not a fit."""

    latency: float
    bandwidth: float
    residual: float
    points: int
    note: str = ""

    def time(self, nbytes: ArrayLike) -> np.ndarray:
        """Seconds for one message of ``nbytes`` bytes (float64, shape of ``nbytes``)."""
        return self.latency + np.asarray(nbytes, dtype=np.float64) / self.bandwidth


def hockney(nbytes: ArrayLike, seconds: ArrayLike) -> HockneyFit:
    """Fit Hockney's ``t(m) = α + m/B`` to one-way message times.

    Parameters
    ----------
    nbytes
        Message sizes in bytes (≥ 0), shape (n,), n ≥ 2, at least two distinct.
    seconds
        One-way time of each, seconds (> 0), shape (n,).

    Returns
    -------
    HockneyFit
        ``latency`` α > 0 s, ``bandwidth`` B > 0 bytes/s. When the fitted per-byte cost is 0
        (the largest message took no longer than the latency says: sizes too small to see
        the bandwidth), B is the largest message's size over its time, a lower bound; when
        the fitted latency is 0, α is the smallest message's time, an upper bound; ``note``
        says so.

    Raises
    ------
    FitError
        Fewer than two points or two distinct sizes, or times that are not finite and > 0.
    """
    m = np.asarray(nbytes, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    _clean([m], t)
    if np.unique(m).size < 2:
        raise FitError("a Hockney fit needs at least two distinct message sizes")
    alpha, per_byte = nonnegative_relative_lstsq(np.column_stack([np.ones_like(m), m]), t)
    note = ""
    if per_byte <= 0:
        i = int(np.argmax(m))
        per_byte = t[i] / m[i] if m[i] > 0 else math.inf
        note = ("bandwidth not resolved by these sizes: the largest message's size over its "
                "time (a lower bound)")
    if alpha <= 0:
        # a zero latency has no use in a model (and a file cannot hold it): the smallest
        # message's measured time is an upper bound of it
        alpha = float(t[int(np.argmin(m))])
        note = "; ".join(filter(None, [note, "latency not resolved: the smallest message's "
                                             "time (an upper bound)"]))
    model = alpha + m * per_byte
    return HockneyFit(float(alpha), float(1.0 / per_byte), relative_rms(t, model), int(m.size),
                      note)


@dataclass(frozen=True)
class AllreduceFit:
    """``t(p, m) = alpha·⌈log₂ p⌉ + beta·m``: seconds per round, seconds per byte;
    ``residual`` relative RMS; ``points`` (p, m) pairs fitted; ``ranks`` the rank counts."""

    alpha: float
    beta: float
    residual: float
    points: int
    ranks: tuple[int, ...]

    def time(self, ranks: ArrayLike, nbytes: ArrayLike) -> np.ndarray:
        """Seconds for an allreduce of ``nbytes`` over ``ranks`` (float64, broadcast shape)."""
        return self.alpha * rounds(ranks) + self.beta * np.asarray(nbytes, dtype=np.float64)


def rounds(ranks: ArrayLike) -> np.ndarray:
    """``⌈log₂ p⌉`` as float64 (0 for p = 1): recursive doubling's rounds."""
    p = np.asarray(ranks, dtype=np.int64)
    if np.any(p < 1):
        raise FitError("rank counts must be >= 1")
    return np.array([math.ceil(math.log2(int(x))) for x in p.ravel()],
                    dtype=np.float64).reshape(p.shape)


def allreduce(ranks: ArrayLike, nbytes: ArrayLike, seconds: ArrayLike) -> AllreduceFit:
    """Fit ``t(p, m) = α·⌈log₂ p⌉ + β·m`` to allreduce times at p ≥ 2 (p = 1 points are
    left out: no round, and the model says 0 there).

    Parameters
    ----------
    ranks
        Communicator sizes (≥ 1), shape (n,).
    nbytes
        Bytes reduced per rank (≥ 0), shape (n,).
    seconds
        Time of each allreduce, seconds (> 0), shape (n,).

    Returns
    -------
    AllreduceFit
        ``alpha`` ≥ 0 s per round, ``beta`` ≥ 0 s per byte. With one rank count (p = 2
        only) α is the time of the one round and β the cost per byte at that count.

    Raises
    ------
    FitError
        Fewer than two points at p ≥ 2, or inputs out of range.
    """
    p = np.asarray(ranks, dtype=np.int64)
    m = np.asarray(nbytes, dtype=np.float64)
    t = np.asarray(seconds, dtype=np.float64)
    keep = p >= 2
    if p.shape != t.shape or m.shape != t.shape:
        raise FitError("ranks, nbytes and seconds must have one length")
    p, m, t = p[keep], m[keep], t[keep]
    if t.size < 2:
        raise FitError("an allreduce fit needs at least 2 points at 2 or more ranks")
    r = rounds(p)
    _clean([r, m], t)
    alpha, beta = nonnegative_relative_lstsq(np.column_stack([r, m]), t)
    model = alpha * r + beta * m
    return AllreduceFit(float(alpha), float(beta), relative_rms(t, model), int(t.size),
                        tuple(sorted({int(x) for x in p})))
