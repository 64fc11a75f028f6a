"""The total's method: the sum of the phases or the whole-curve model, chosen on the data.

A series' total time at a scale it did not reach is predicted either as the sum of its phases'
predictions (:mod:`harness.predict`: each phase's chosen model, plus the remainder) or by the
whole-curve model of ``harness analyze`` (:mod:`harness.models`, :mod:`harness.prediction`:
one Amdahl/Gustafson-type law fitted to the total). :func:`nested_choice` picks, per series,
the one that predicted the largest *measured* core count better from the core counts below it
(a leave-largest-out hold-out inside the measured points, the cross-validation of Hastie,
Tibshirani & Friedman, *The Elements of Statistical Learning*, 2nd ed., §7.10, applied
forwards in the core count as :func:`harness.modelfit.cross_validation` does). Ties and
refusals go to the phase sum. The choice uses the measured points only, so a hold-out
validation that removes a scale first and then calls this on what remains never lets the
removed scale into the choice (``benchmarks/phase_validate.py`` does exactly that).

:func:`whole_curve` is the whole-curve model's prediction of the total, in seconds, with its
95 % interval converted from the efficiency interval ``harness analyze`` gives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness import analysis
from harness.errors import HarnessError
from harness.targets import Targets
from harness.targets import defaults as default_targets

PHASES, WHOLE = "phases", "whole"
#: measured core counts the nested hold-out needs: the largest held out, two left to fit
MIN_COUNTS = 3

#: predicts a series' total at ``held`` cores (seconds) from ``repetitions``, None if it cannot
Predictor = Callable[[pd.DataFrame, int], "float | None"]


@dataclass(frozen=True)
class WholeCurve:
    """The whole-curve model's prediction of the total at ``cores`` (int64, shape (N,)):
    ``seconds``, ``low``, ``high`` (float64, shape (N,), NaN where the model gave none)."""

    model: str
    cores: np.ndarray
    seconds: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def at(self, cores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(seconds, low, high)`` at ``cores`` (a subset of :attr:`cores`; NaN elsewhere)."""
        index = {int(c): i for i, c in enumerate(self.cores)}
        pick = [index.get(int(c), -1) for c in np.asarray(cores)]
        out = []
        for values in (self.seconds, self.low, self.high):
            padded = np.append(values, np.nan)
            out.append(padded[pick])
        return out[0], out[1], out[2]


@dataclass(frozen=True)
class TotalChoice:
    """Which method predicts the total (:data:`PHASES` or :data:`WHOLE`) and why.

    ``held`` is the largest measured core count (None when too few to hold one out);
    ``phase_error`` and ``whole_error`` are each method's relative error there, predicted from
    the core counts below (NaN when that method gave no prediction or none was made)."""

    method: str
    held: int | None
    phase_error: float
    whole_error: float
    reason: str


def whole_curve(repetitions: pd.DataFrame, cores: np.ndarray, targets: Targets | None = None,
                pool_provenance: bool = False) -> WholeCurve | None:
    """The whole-curve model of ``harness analyze`` for one series, at ``cores``.

    Parameters
    ----------
    repetitions
        One series' repetitions (one group of :data:`harness.metrics.KEYS`), as
        :func:`harness.inputs.load` reads them; its smallest core count is the baseline.
    cores
        Core counts to predict at (int ≥ 1, shape (N,)); measured ones get NaN.
    targets
        Passed to :func:`harness.analysis.analyze` (the defaults when None); only the
        prediction is used here.

    Returns
    -------
    WholeCurve or None
        None when the analyzer chose no model (too few core counts, every fit refused) or
        refused the input (:class:`harness.errors.HarnessError`). The seconds interval is the
        efficiency interval turned over: ``T = T0 / (r·E)`` strong, ``T0 / E`` weak, so the
        efficiency's upper bound is the time's lower one.
    """
    cores = np.asarray(cores, dtype=np.int64)
    base = int(repetitions["cores"].min())
    scales = cores / base
    try:
        with np.errstate(over="ignore"):  # a vast interval overflows to inf: still an interval
            result = analysis.analyze(repetitions, targets or default_targets(),
                                      predict_scales=scales, pool_provenance=pool_provenance)
    except (HarnessError, ValueError, ArithmeticError):
        return None
    pred = result.predictions
    if pred.empty or result.groups.empty:
        return None
    seconds, low, high = (np.full(len(cores), np.nan) for _ in range(3))
    for i, scale in enumerate(scales):
        rows = pred.loc[np.isclose(pred["scale"], scale)]
        if rows.empty:
            continue
        row = rows.iloc[0]
        seconds[i] = float(row["seconds"])
        with np.errstate(divide="ignore", invalid="ignore"):
            low[i] = seconds[i] * float(row["efficiency"]) / float(row["pi95_high"])
            high[i] = seconds[i] * float(row["efficiency"]) / float(row["pi95_low"])
    return WholeCurve(str(result.groups.iloc[0]["model"]), cores, seconds, low, high)


def whole_curve_at(repetitions: pd.DataFrame, held: int) -> float | None:
    """The whole-curve model's total at ``held`` cores from ``repetitions`` (a
    :data:`Predictor`), None when it gives none."""
    fit = whole_curve(repetitions, np.array([held]))
    if fit is None or not math.isfinite(fit.seconds[0]):
        return None
    return float(fit.seconds[0])


def nested_choice(repetitions: pd.DataFrame, phase_sum: Predictor,
                  whole: Predictor = whole_curve_at) -> TotalChoice:
    """Choose the total's method for one series from its measured points alone.

    The largest core count of ``repetitions`` is held out; ``phase_sum`` and ``whole`` each
    predict its total (the median repetition time there) from the rest; the one with the
    smaller |relative error| is chosen, the phase sum on a tie, when the whole-curve model
    gives no prediction, or with fewer than :data:`MIN_COUNTS` core counts.

    Parameters
    ----------
    repetitions
        One series (columns ``cores``, ``seconds`` at least; seconds per repetition).
    phase_sum, whole
        :data:`Predictor` s: ``(repetitions without the held core count, held) -> seconds``.
    """
    cores = repetitions["cores"].to_numpy()
    distinct = np.unique(cores)
    if len(distinct) < MIN_COUNTS:
        return TotalChoice(PHASES, None, math.nan, math.nan,
                           f"the sum of the phases: {len(distinct)} core count(s) measured, "
                           f"choosing against the whole-curve model needs {MIN_COUNTS}")
    held = int(distinct[-1])
    train = repetitions.loc[cores != held].reset_index(drop=True)
    measured = float(np.median(repetitions.loc[cores == held, "seconds"]))
    errors = []
    for predictor in (phase_sum, whole):
        value = predictor(train, held)
        errors.append(value / measured - 1.0 if value is not None and math.isfinite(value)
                      else math.nan)
    phase_error, whole_error = errors
    span = f"predicting {held} cores from {int(distinct[0])}-{int(distinct[-2])}"
    if math.isfinite(whole_error) and not abs(whole_error) >= abs(phase_error):
        return TotalChoice(WHOLE, held, phase_error, whole_error,
                           f"the whole-curve model: {span} it erred {_pct(whole_error)}, the "
                           f"sum of the phases {_pct(phase_error)}")
    return TotalChoice(PHASES, held, phase_error, whole_error,
                       f"the sum of the phases: {span} it erred {_pct(phase_error)}, the "
                       f"whole-curve model {_pct(whole_error)}")


def _pct(value: float) -> str:
    return f"{100 * value:+.1f} %" if math.isfinite(value) else "no prediction"
