"""Which model predicts a phase, and what the mechanistic one needs from the workload.

:func:`choose` picks between a phase's empirical fit (:mod:`harness.phasefit`) and its
mechanistic model (:mod:`harness.phasemodel`) by hold-out error and says why; :class:`Held`
keeps a phase measured at one core count with neither. :class:`Study` is the problem a group
ran (workload, size, overrides, mode, variant): its costs at any rank count, resolved as
``harness run`` would (weak mode scales the problem), and whether it can run there at all.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import phasefit, phasemodel, records, workloads
from harness.errors import HarnessError
from harness.machine import MachineModel

EMPIRICAL, MECHANISTIC, HELD = "empirical", "mechanistic", "held"
#: a calibration factor beyond this (or below its inverse) is named in the notes
FACTOR_FAR = 2.0


@dataclass
class PhaseChoice:
    """A phase's two models and which one predicts it, with why."""

    phase: str
    empirical: phasefit.PhaseFit | None
    mechanistic: phasemodel.MechanisticPhase | None
    chosen: str | None
    reason: str
    held: Held | None = None
    #: the empirical fit's hold-out error the choice used (:func:`empirical_holdout`)
    empirical_error: float = math.nan

    def model(self) -> Any:
        if self.chosen == MECHANISTIC:
            return self.mechanistic
        return self.held if self.chosen == HELD else self.empirical


@dataclass(frozen=True)
class Held:
    """A phase measured at one core count with no mechanistic model: its measured time, held
    constant, with an assumed factor (:data:`harness.phasemodel.ASSUMED_SPREAD_FACTOR`) either
    way as its interval."""

    seconds: float

    def predict(self, cores: Any) -> np.ndarray:
        return np.full(np.shape(cores), self.seconds, dtype=np.float64)

    def interval(self, cores: Any) -> tuple[np.ndarray, np.ndarray]:
        value = self.predict(cores)
        factor = phasemodel.ASSUMED_SPREAD_FACTOR
        return value / factor, value * factor

    def describe(self) -> str:
        return f"{self.seconds:.3g} held"


def empirical_holdout(phase: str, cores: np.ndarray, seconds: np.ndarray,
                      totals: np.ndarray | None = None) -> float:
    """The empirical fit's error at the largest measured core count when the whole fit, its
    hypothesis choice included, is made without that count: ``|predicted / measured − 1|``,
    measured the mean there (NaN below 3 distinct core counts). The fit's own
    ``holdout_error`` scores the hypothesis that was chosen on that same point, so it is
    optimistic; comparing it with the mechanistic model's (which chooses nothing) would favour
    the empirical fit. ``cores`` int, ``seconds`` and ``totals`` float, one entry per run."""
    cores = np.asarray(cores)
    seconds = np.asarray(seconds, dtype=np.float64)
    largest = cores.max() if cores.size else 0
    keep = cores < largest
    if np.unique(cores[keep]).size < 2:
        return math.nan
    fit = phasefit.fit_phase(phase, cores[keep], seconds[keep],
                             totals=None if totals is None else np.asarray(totals)[keep])
    measured = float(seconds[cores == largest].mean())
    if fit is None or not measured > 0:
        return math.nan
    return abs(float(fit.predict(np.array([largest]))[0]) / measured - 1.0)


def choose(phase: str, empirical: phasefit.PhaseFit | None,
           mech: phasemodel.MechanisticPhase | None,
           empirical_error: float | None = None) -> PhaseChoice:
    """Pick the model with the lower hold-out error; say why, honestly, when none can be held
    out. ``empirical_error``: the empirical fit's nested hold-out error
    (:func:`empirical_holdout`); without it, the fit's own ``holdout_error``."""
    emp_err = (empirical_error if empirical_error is not None
               else empirical.holdout_error if empirical is not None else math.nan)
    choice = _choose(phase, empirical, mech, emp_err)
    choice.empirical_error = emp_err
    return choice


def _choose(phase: str, empirical: phasefit.PhaseFit | None,
            mech: phasemodel.MechanisticPhase | None, emp_err: float) -> PhaseChoice:
    mech_err = mech.holdout_error if mech is not None else math.nan
    if mech is None and empirical is None:
        return PhaseChoice(phase, None, None, None, "no model: fewer than 2 core counts and no "
                           "mechanistic model")
    if mech is None:
        return PhaseChoice(phase, empirical, None, EMPIRICAL, "empirical: no mechanistic model")
    if empirical is None:
        return PhaseChoice(phase, None, mech, MECHANISTIC,
                           "mechanistic: the empirical fit needs >= 2 core counts" +
                           ("" if mech.calibrated else "; uncalibrated (factor 1 assumed): "
                            "the model is zero at every measured core count"))
    if not mech.calibrated:
        return PhaseChoice(phase, empirical, mech, EMPIRICAL,
                           "empirical: the mechanistic model is zero at every measured core "
                           "count, so nothing calibrates it")
    if math.isfinite(emp_err) and math.isfinite(mech_err):
        pick = MECHANISTIC if mech_err <= emp_err else EMPIRICAL
        return PhaseChoice(phase, empirical, mech, pick,
                           f"{pick}: hold-out error {100 * min(emp_err, mech_err):.1f} % vs "
                           f"{100 * max(emp_err, mech_err):.1f} %")
    if math.isfinite(emp_err):
        return PhaseChoice(phase, empirical, mech, EMPIRICAL,
                           f"empirical: hold-out error {100 * emp_err:.1f} %; the mechanistic "
                           "model is calibrated on one core count only")
    if math.isfinite(mech_err):
        return PhaseChoice(phase, empirical, mech, MECHANISTIC,
                           f"mechanistic: hold-out error {100 * mech_err:.1f} %; the empirical "
                           "fit needs >= 3 core counts to hold one out")
    return PhaseChoice(phase, empirical, mech, MECHANISTIC,
                       "mechanistic: too few core counts to hold one out; chosen because it "
                       "rests on the stated costs and the machine model, and the empirical fit "
                       "needs >= 3 core counts to be checked")


@dataclass
class Study:
    """What a group's mechanistic model needs: the workload and the problem as run."""

    workload: Any
    size: str
    overrides: dict[str, Any]
    mode: str
    variant: str | None
    cache: dict[int, dict[str, Any]] = field(default_factory=dict, repr=False)

    def costs(self, ranks: int) -> dict[str, Any]:
        """The workload's costs per phase at ``ranks`` (resolved for it; weak mode scales)."""
        if ranks not in self.cache:
            params, variant = self.workload.resolve(self.size, self.overrides, self.mode,
                                                    ranks, self.variant)
            self.cache[ranks] = self.workload.costs(params, variant, ranks)
        return self.cache[ranks]

    def feasible(self, ranks: int) -> str | None:
        """None when the problem can run at ``ranks``, else why not."""
        try:
            self.workload.resolve(self.size, self.overrides, self.mode, ranks, self.variant)
        except HarnessError as exc:
            return str(exc)
        return None

    def cost_at(self, phase: str) -> Callable[[int], Any]:
        return lambda ranks: self.costs(ranks)[phase]


def study(keys: dict[str, str], group: pd.DataFrame, notes: list[str]) -> Study | None:
    """The workload and its problem (size and overrides from a record of the group)."""
    if keys["workload"] not in workloads.names():
        notes.append(f"no mechanistic model: {keys['workload']!r} is not a harness workload")
        return None
    workload = workloads.get(keys["workload"])
    overrides: dict[str, Any] = {}
    source = Path(str(group["source"].iloc[0]))
    if source.suffix.lower() == ".json":
        record = records.load(source)
        overrides = dict(record.overrides or {})
        if record.threads_per_rank != 1:
            notes.append("no mechanistic model: runs with several threads per rank")
            return None
    if keys["size"] not in workload.sizes:
        notes.append(f"no mechanistic model: size {keys['size']!r} is not one of "
                     f"{keys['workload']}'s")
        return None
    return Study(workload, keys["size"], overrides, keys["mode"], keys["variant"] or None)


def mechanistic(study: Study | None, phase: str, runs: pd.DataFrame,
                 machine: MachineModel | None, notes: list[str]
                 ) -> phasemodel.MechanisticPhase | None:
    if study is None or machine is None:
        return None
    try:
        stated = study.costs(int(runs["cores"].iloc[0]))
    except NotImplementedError:
        msg = f"no mechanistic model: {study.workload.name} does not state its costs"
        if msg not in notes:
            notes.append(msg)
        return None
    if phase not in stated:
        notes.append(f"no mechanistic model for {phase}: the costs do not name it")
        return None
    cost_at = study.cost_at(phase)
    return phasemodel.mechanistic(study.workload, study.variant or "", phase, cost_at,
                                  runs["cores"].to_numpy(), runs[phase].to_numpy(), machine,
                                  machine.cores_per_node)
