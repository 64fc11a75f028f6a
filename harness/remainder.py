"""The remainder of a run: its time beyond the sum of its phases (loop overhead, timer calls,
the barrier), predicted like a phase by ``harness predict`` (:mod:`harness.predict`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness import phasefit

REMAINDER = "remainder"
#: core counts from which the remainder is fitted rather than held at its median
MIN_REMAINDER_COUNTS = 3


@dataclass
class Remainder:
    """Total minus the phases' sum: fitted, or held at its median with the measured range as
    its interval (:func:`fit_remainder`)."""

    fit: phasefit.PhaseFit | None
    constant: float
    note: str = ""
    low: float = math.nan
    high: float = math.nan

    def predict(self, cores: np.ndarray) -> np.ndarray:
        if self.fit is not None:
            return self.fit.predict(cores)
        return np.full(len(cores), self.constant)

    def interval(self, cores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.fit is not None:
            return self.fit.interval(cores)
        value = self.predict(cores)
        return np.minimum(value, self.low), np.maximum(value, self.high)

#: relative difference between a run's total and its phases' sum taken as rounding (0)
ROUNDING = 1e-9


def fit_remainder(runs: pd.DataFrame, phases: list[str]) -> Remainder:
    """Fitted like a phase from 3 core counts on (so the fit can be held out); with fewer, or
    negative somewhere, held at its median: a growth law through two noisy points of loop
    overhead would decide the total at 500x on nothing."""
    totals = runs["seconds"].to_numpy()
    rest = totals - runs[phases].fillna(0.0).sum(axis=1).to_numpy()
    # a total that is exactly the sum of its phases (as CSV rows often are) leaves rounding
    rest = np.where(np.abs(rest) <= ROUNDING * totals, 0.0, rest)
    median = float(np.median(rest))
    if (rest < 0).any():
        return Remainder(None, median, "the phases add up to more than the measured total at "
                                       f"some runs: the remainder is held at its median "
                                       f"({median:.3g} s)", float(rest.min()), float(rest.max()))
    counts = runs["cores"].nunique()
    if counts >= MIN_REMAINDER_COUNTS:
        fit = phasefit.fit_phase(REMAINDER, runs["cores"].to_numpy(), rest, totals=totals)
        if fit is not None:
            return Remainder(fit, math.nan)
    return Remainder(None, median, f"the remainder (total - phases) is held at its median "
                                   f"({median:.3g} s): {counts} core count(s), a fit needs "
                                   f"{MIN_REMAINDER_COUNTS} to be checked",
                     float(rest.min()), float(rest.max()))
