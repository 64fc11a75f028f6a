"""Hold-out validation of ``harness predict`` on the harness's own run records.

``make validate RECORDS=results/<sweep> [MACHINE=machine.toml]``: per scaling study of the
records (grouped as ``harness analyze`` groups them), the largest core count is removed and
predicted from the others by ``harness predict``'s own code path (:func:`harness.predict.forecast`
with ``cores=[held]`` and the machine model when given): each phase by its chosen model
(empirical or mechanistic), the remainder, their sum, and the total by the nested choice
(:mod:`harness.totalchoice`) made on the remaining points. Measured: each phase's and the
remainder's time at the held-out count as ``harness predict`` reads them (mean over ranks,
median over the runs' repetitions), the total as the median repetition time. The table is the
one of ``benchmarks/phase_validate.py`` (beside the whole-curve model and Extra-P).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from harness import inputs, metrics, predict, targets
from harness.machine import MachineModel


def series(directory: Path) -> list[tuple[str, str, pd.DataFrame]]:
    """``(label, mode, repetitions)`` per group of the records under ``directory``."""
    reps = inputs.load([directory]).repetitions
    out = []
    for keys, group in reps.groupby(metrics.KEYS, observed=True, sort=True):
        k = dict(zip(metrics.KEYS, keys, strict=True))
        label = "/".join(v for v in (k["workload"], k["variant"], k["size"]) if v)
        out.append((f"records:{label}", k["mode"], group.reset_index(drop=True)))
    return out


def holdout(group: pd.DataFrame, machine: MachineModel | None = None
            ) -> dict[str, object] | None:
    """Predict the largest core count of ``group`` (one study's repetitions) with ``harness
    predict``'s code path from the smaller ones; :func:`phase_validate.phase_holdout`'s dict
    (``predicted``/``error``/``interval``: the phase sum) plus ``nested``: ``(method, error,
    covered)`` of the total ``harness predict`` gives. None with fewer than three core
    counts."""
    distinct = np.unique(group["cores"].to_numpy())
    if len(distinct) < 3:
        return None
    held = int(distinct[-1])
    train = group.loc[group["cores"] != held].reset_index(drop=True)
    (forecast,) = predict.forecast(train, targets.defaults(), cores=[held], machine=machine)
    row = forecast.rows.iloc[0]
    runs = predict.run_table(group)
    at_held = runs.loc[runs["cores"] == held]
    measured_total = float(np.median(group.loc[group["cores"] == held, "seconds"]))
    phases = {}
    for choice in forecast.phases:
        model = choice.model()
        law = f"{choice.chosen}: {model.describe()}" if model is not None else "-"
        measured = float(at_held[choice.phase].median()) if choice.phase in at_held else math.nan
        phases[choice.phase] = _phase_entry(row[f"phase_{choice.phase}"], measured,
                                            row[f"low_{choice.phase}"],
                                            row[f"high_{choice.phase}"], law)
    names = [c.phase for c in forecast.phases]
    rest = at_held["seconds"] - at_held[names].fillna(0.0).sum(axis=1)
    low, high = forecast.remainder.interval(np.array([held]))
    fit = forecast.remainder.fit
    phases["rest"] = _phase_entry(row["remainder"], float(rest.median()), low[0], high[0],
                                  fit.describe() if fit else "held at its median")
    phase_sum = float(row["phase_sum"])
    _, total_low, total_high = predict.combine(
        *([np.array([p[i]]) for p in phases.values()] for i in (0, 5, 6)))
    covered = bool(row["pi95_low"] <= measured_total <= row["pi95_high"])
    return {"held": held, "cores": [int(c) for c in distinct], "measured": measured_total,
            "predicted": phase_sum, "error": phase_sum / measured_total - 1.0,
            "phases": {k: v[:5] for k, v in phases.items()},
            "interval": (float(total_low[0]), float(total_high[0])),
            "nested": (str(row["total_method"]), float(row["seconds"]) / measured_total - 1.0,
                       covered)}


def _phase_entry(predicted: float, measured: float, low: float, high: float, law: str
                 ) -> tuple[float, float, float, bool, str, float, float]:
    predicted, low, high = float(predicted), float(low), float(high)
    error = predicted / measured - 1.0 if measured > 0 else math.nan
    return predicted, measured, error, bool(low <= measured <= high), law, low, high
