"""Phase-by-phase prediction of a sweep at scales it did not reach (``harness predict``).

Per scaling study (grouped exactly as the analyzer groups: :data:`harness.metrics.KEYS`) and
per timed phase, two models of the phase's time against the core count:

- **empirical**: one term of the performance-model normal form fitted to the phase's times
  (:func:`harness.phasefit.fit_phase`);
- **mechanistic**: the workload's stated work and communication (``Workload.costs``) turned
  into seconds by a probed machine model and calibrated on the measured points
  (:mod:`harness.phasemodel`); only with ``--machine`` and a workload that states its costs.

Each phase takes the model with the lower hold-out error (the largest measured core count
predicted from the others); with too few core counts to hold one out the choice says so.
**Phase times are the mean over ranks** (``phase_<name>``), not the maximum: the total is
predicted as the sum of the phases, and only the mean adds up. Every rank spends the whole
repetition inside some phase, so each rank's phases sum to the repetition and so do their
means over ranks; the maxima of different phases come from different ranks (one rank's wait in
the halo exchange is another's compute), so their sum counts the same seconds twice and exceeds
the measured total (as the 2-rank runs here show). Load imbalance stays in the mean as the wait
the faster ranks record in the communication phase that follows. ``costs()`` describe the
busiest rank; the calibration factor absorbs the busiest-over-mean ratio. The phase sum is the
sum of the chosen phases plus the remainder (the measured total minus the phases' sum: loop
overhead, timer calls, the barrier), itself fitted empirically; its interval adds the parts'
distances in quadrature (:func:`combine`). The total is the phase sum or the whole-curve model
of ``harness analyze``, whichever predicted the largest measured core count better from those
below (:func:`harness.totalchoice.nested_choice`; the phase sum there is this module's own
prediction from the smaller core counts). With the whole-curve model chosen the phases are
shown as predicted (they add up to ``phase_sum``, not to the total) and the dominant phase is
the largest share of the phase sum.

Efficiency follows ``harness analyze``: baseline ``p0`` the smallest core count measured,
``r = p/p0``; strong ``E = T0/(r T)``, weak ``E = T0/T``. A record's phase times are averages
over its repetitions, so the totals here are too: a run's time is the mean of its repetitions
(each the max over ranks), ``T0`` the mean over the baseline's runs of that — where ``harness
analyze`` takes the median repetition; the two differ by the slow outlier repetitions. Target
status from :mod:`harness.targets`; a prediction whose 95 % interval is unknown or spans more
than a factor :data:`harness.modelpredict.MAX_INTERVAL_RATIO` is ``uncertain`` and never judged.
Every figure is a prediction, labelled with its extrapolation distance (scale / largest
measured scale, far-extrapolated beyond :data:`harness.modelpredict.FAR_EXTRAPOLATION`). What-ifs
re-predict with a modified machine model or the asynchronous algorithm (:mod:`harness.whatif`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from harness import (
    diagnosis,
    metrics,
    modelpredict,
    phasechoice,
    phasefit,
    phasemodel,
    pooling,
    totalchoice,
)
from harness.errors import BadInputError
from harness.machine import MachineModel
from harness.metrics import KEYS, PHASE
from harness.phasechoice import HELD, MECHANISTIC, PhaseChoice
from harness.remainder import REMAINDER, Remainder, fit_remainder
from harness.targets import Targets


@dataclass
class GroupForecast:
    """One scaling study's prediction: phases, rows per scale, dominant phase, what-ifs."""

    keys: dict[str, str]
    baseline_cores: int
    baseline_seconds: float
    measured_cores: list[int]
    phases: list[PhaseChoice]
    remainder: Remainder
    rows: pd.DataFrame
    dominant: dict[str, Any] | None = None
    what_ifs: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: the problem the group ran (its costs at any rank count), None when not a harness workload
    study: phasechoice.Study | None = field(default=None, repr=False)
    #: the total's method (:mod:`harness.totalchoice`); None: the sum of the phases, unchosen
    total: totalchoice.TotalChoice | None = None
    #: the whole-curve model's total at the wanted core counts, when the total's method
    whole: totalchoice.WholeCurve | None = field(default=None, repr=False)


def run_table(group: pd.DataFrame) -> pd.DataFrame:
    """One row per run: cores, mean repetition time, and each phase's mean-over-ranks time
    (all seconds per repetition, averaged over the run's repetitions)."""
    phases = [c for c in group.columns if c.startswith(PHASE) and group[c].notna().any()]
    agg = {"cores": ("cores", "first"), "seconds": ("seconds", "mean")}
    agg.update({c[len(PHASE):]: (c, "mean") for c in phases})
    return group.groupby("run", sort=True).agg(**agg).reset_index(drop=True)


def _phase_values(choice: PhaseChoice, cores: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    model = choice.model()
    if model is None:
        nan = np.full(len(cores), np.nan)
        return nan, nan, nan
    low, high = model.interval(cores)
    return model.predict(cores), np.asarray(low), np.asarray(high)


def combine(values: list[np.ndarray], lows: list[np.ndarray], highs: list[np.ndarray]
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sum of parts, and an interval whose half-widths add in quadrature (independent errors).

    A part whose interval is unbounded (far beyond the data its high end can exceed the float
    range) makes the total's high end ``inf``: no interval, and such a row is ``uncertain``."""
    total = np.sum(values, axis=0)
    down = np.linalg.norm([v - lo for v, lo in zip(values, lows, strict=True)], axis=0)
    with np.errstate(over="ignore", invalid="ignore"):
        up = np.linalg.norm([hi - v for v, hi in zip(values, highs, strict=True)], axis=0)
    return total, total - down, total + up


def efficiency(mode: str, scale: np.ndarray, baseline_seconds: float, seconds: np.ndarray
               ) -> np.ndarray:
    """``harness analyze``'s efficiency: strong ``T0/(r T)``, weak ``T0/T``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        eff = baseline_seconds / seconds
        return eff / scale if mode == "strong" else eff


def _status(eff: np.ndarray, low: np.ndarray, high: np.ndarray, scale: np.ndarray,
            targets: Targets) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    target = targets.target_for(scale)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = high / low
    uncertain = ~np.isfinite(ratio) | ~(low > 0) | (ratio > modelpredict.MAX_INTERVAL_RATIO)
    status = np.where(uncertain, "uncertain", np.where(
        np.isnan(target), "no-target", np.where(eff > target, "pass", "fail")))
    return target, status, uncertain


def _phase_sum(forecast: GroupForecast, cores: np.ndarray,
               phase_seconds: dict[str, np.ndarray] | None
               ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Each phase's columns and the sum of the phases and the remainder with its interval."""
    values, lows, highs, out = [], [], [], {}
    for choice in forecast.phases:
        v, lo, hi = _phase_values(choice, cores)
        if phase_seconds and choice.phase in phase_seconds:
            new = phase_seconds[choice.phase]
            with np.errstate(divide="ignore", invalid="ignore"):
                scale = np.where(v > 0, new / v, 1.0)
            v, lo, hi = new, lo * scale, hi * scale
        out[f"phase_{choice.phase}"], out[f"low_{choice.phase}"], out[f"high_{choice.phase}"] = \
            v, lo, hi
        values.append(v), lows.append(lo), highs.append(hi)
    rest = forecast.remainder.predict(cores)
    rest_low, rest_high = forecast.remainder.interval(cores)
    out["remainder"] = rest
    return out, combine([*values, rest], [*lows, rest_low], [*highs, rest_high])


def _total(forecast: GroupForecast, cores: np.ndarray, phase_sum: np.ndarray,
           phase_low: np.ndarray, phase_high: np.ndarray,
           phase_seconds: dict[str, np.ndarray] | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The total by its chosen method (:mod:`harness.totalchoice`) and its interval, and each
    row's method. With the whole-curve model chosen, a what-if (``phase_seconds``) scales its
    total by the phase sum's new / old ratio (the change the phases' models attribute)."""
    method = np.full(len(cores), totalchoice.PHASES, dtype=object)
    if forecast.whole is None:
        return phase_sum, phase_low, phase_high, method
    whole, low, high = forecast.whole.at(cores)
    if phase_seconds:
        _, (base, _, _) = _phase_sum(forecast, cores, None)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(base > 0, phase_sum / base, 1.0)
        whole, low, high = whole * ratio, low * ratio, high * ratio
    use = np.isfinite(whole)
    method[use] = totalchoice.WHOLE
    return (np.where(use, whole, phase_sum), np.where(use, low, phase_low),
            np.where(use, high, phase_high), method)


def predict_totals(forecast: GroupForecast, cores: np.ndarray, targets: Targets,
                   phase_seconds: dict[str, np.ndarray] | None = None) -> pd.DataFrame:
    """Rows per core count: each phase, the remainder, their sum, the total (by the group's
    method, :attr:`GroupForecast.total`) and the efficiency, with 95 % intervals;
    ``phase_seconds`` replaces phases' predictions (what-ifs)."""
    out, (phase_sum, phase_low, phase_high) = _phase_sum(forecast, cores, phase_seconds)
    total, low, high, method = _total(forecast, cores, phase_sum, phase_low, phase_high,
                                      phase_seconds)
    scale = cores / forecast.baseline_cores
    mode = forecast.keys["mode"]
    eff = efficiency(mode, scale, forecast.baseline_seconds, total)
    eff_low = efficiency(mode, scale, forecast.baseline_seconds, high)
    eff_high = efficiency(mode, scale, forecast.baseline_seconds, low)
    target, status, uncertain = _status(eff, eff_low, eff_high, scale, targets)
    largest = max(forecast.measured_cores) / forecast.baseline_cores
    distance = modelpredict.extrapolation(scale, largest)
    frame = pd.DataFrame({
        "scale": scale, "cores": cores, "label": "predicted", "extrapolation": distance,
        "far_extrapolated": distance > modelpredict.FAR_EXTRAPOLATION, "seconds": total,
        "pi95_low": low, "pi95_high": high, "efficiency": eff, "efficiency_pi95_low": eff_low,
        "efficiency_pi95_high": eff_high,
        "speedup": eff * scale,
        "target": target, "status": status, "uncertain": uncertain,
        "alert": ~uncertain & (eff < targets.p2_alert),
        "interval_assumed": interval_assumed(forecast), "total_method": method,
        "phase_sum": phase_sum, **out})
    return frame


def interval_assumed(forecast: GroupForecast) -> bool:
    """True when a chosen phase's interval rests on the assumed factor, not on measured spread
    (a mechanistic model calibrated on one run, or a phase held at its one measured time)."""
    for choice in forecast.phases:
        if choice.chosen == HELD:
            return True
        if choice.chosen == MECHANISTIC and choice.mechanistic.spread_assumed:
            return True
    return False


def async_phase_seconds(forecast: GroupForecast, cores: np.ndarray
                        ) -> dict[str, np.ndarray] | None:
    """``reduce`` replaced by ``max(0, reduce − compute)``; None without both phases."""
    models = {c.phase: c.model() for c in forecast.phases}
    if models.get("reduce") is None or models.get("compute") is None:
        return None
    reduce = models["reduce"].predict(cores)
    compute = models["compute"].predict(cores)
    return {"reduce": np.maximum(reduce - compute, 0.0)}


def _dominant(forecast: GroupForecast) -> dict[str, Any] | None:
    rows = forecast.rows.loc[forecast.rows["feasible"]]
    if rows.empty or not forecast.phases:
        return None
    last = rows.iloc[-1]
    # shares of the phases' sum: the breakdown adds up to it whichever method gives the total
    shares = {c.phase: last[f"phase_{c.phase}"] / last["phase_sum"] for c in forecast.phases}
    shares[REMAINDER] = last["remainder"] / last["phase_sum"]
    shares = {k: float(v) for k, v in shares.items() if math.isfinite(v)}
    if not shares:
        return None
    phase = max(shares, key=lambda k: shares[k])
    return {"scale": float(last["scale"]), "cores": int(last["cores"]), "phase": phase,
            "name": diagnosis.PHASE_NAMES.get(phase, "loop overhead and waits outside the phases"
                                              if phase == REMAINDER else phase),
            "share": shares[phase],
            "shares": shares}


def forecast_group(keys: dict[str, str], group: pd.DataFrame, scales: np.ndarray | None,
                   cores: np.ndarray | None, targets: Targets,
                   machine: MachineModel | None, asynchronous: bool = False, *,
                   nested: bool = True, pool_provenance: bool = False) -> GroupForecast:
    """Predict one group at ``scales`` (× its baseline) or at absolute ``cores``; with
    ``asynchronous`` the reduce phase costs ``max(0, reduce − compute)`` (:mod:`harness.whatif`).
    With ``nested`` the total's method is chosen (:func:`harness.totalchoice.nested_choice`,
    the phase sum by this same function without ``nested``); without it the total is the
    phase sum.
    """
    notes: list[str] = []
    runs = run_table(group)
    counts = sorted(int(c) for c in runs["cores"].unique())
    baseline = counts[0]
    baseline_seconds = float(runs.loc[runs["cores"] == baseline, "seconds"].mean())
    phase_names = [c for c in runs.columns if c not in ("cores", "seconds")]
    study = phasechoice.study(keys, group, notes)
    if machine is None:
        notes.append("no machine model (--machine): every phase is fitted empirically")
    choices = _phase_choices(runs, phase_names, study, machine, notes)
    remainder = fit_remainder(runs, phase_names)
    if remainder.note:
        notes.append(remainder.note)
    wanted = (np.rint(np.asarray(scales) * baseline) if cores is None else np.asarray(cores))
    wanted = np.unique(np.maximum(wanted.astype(np.int64), 1))
    forecast = GroupForecast(keys, baseline, baseline_seconds, counts, choices, remainder,
                             pd.DataFrame(), notes=notes, study=study)
    reasons = [study.feasible(int(p)) if study is not None else None for p in wanted]
    feasible = np.array([r is None for r in reasons], dtype=bool)
    if nested:
        _choose_total(forecast, group, wanted[feasible], targets, machine, pool_provenance)
    replaced = None
    if asynchronous:
        replaced = async_phase_seconds(forecast, wanted[feasible])
        notes.append("asynchronous algorithm assumed (--variant async): reduce costs max(0, "
                     "reduce - compute)" if replaced is not None else
                     "--variant async does not apply: no reduce and compute phases")
    forecast.rows = _rows(predict_totals(forecast, wanted[feasible], targets, replaced),
                          wanted[~feasible], baseline, [r for r in reasons if r is not None])
    forecast.dominant = _dominant(forecast)
    if not any(c.chosen for c in choices):
        notes.append("no phase could be modelled: measure at least two core counts")
    return forecast


def _phase_choices(runs: pd.DataFrame, phase_names: list[str], study: Any,
                   machine: MachineModel | None, notes: list[str]) -> list[Any]:
    """Per phase: the empirical fit, the mechanistic model and the choice between them (a
    phase measured at one core count with neither is held at its measured time)."""
    choices = []
    for phase in phase_names:
        rows = runs.loc[runs[phase].notna()]
        # the run totals set the interval's noise floor: a phase of a few microseconds is
        # not held to 1 % of itself when the run it sits in takes milliseconds
        emp = phasefit.fit_phase(phase, rows["cores"].to_numpy(), rows[phase].to_numpy(),
                                 totals=rows["seconds"].to_numpy())
        mech = phasechoice.mechanistic(study, phase, rows, machine, notes)
        nested = phasechoice.empirical_holdout(phase, rows["cores"].to_numpy(),
                                               rows[phase].to_numpy(), rows["seconds"].to_numpy())
        choice = phasechoice.choose(phase, emp, mech, nested if emp is not None else None)
        if choice.chosen is None and len(rows):
            choice.held = phasechoice.Held(float(rows[phase].median()))
            choice.chosen = phasechoice.HELD
            choice.reason = ("held at its measured time (one core count, no mechanistic "
                             "model), interval an assumed factor "
                             f"{phasemodel.ASSUMED_SPREAD_FACTOR:g} either way")
        choices.append(choice)
    for choice in choices:
        mech = choice.mechanistic
        far = phasechoice.FACTOR_FAR
        if mech is not None and not 1 / far <= mech.factor <= far:
            notes.append(f"{choice.phase}: the calibration factor is {mech.factor:.3g}, far "
                         "from 1: the mechanistic model misses something at the measured "
                         "points (caches, per-call software overhead, timer resolution, "
                         "contention)")
    return choices


def _rows(frame: pd.DataFrame, infeasible: np.ndarray, baseline: int,
          reasons: list[str]) -> pd.DataFrame:
    """The predicted rows with the infeasible scales (``infeasible`` cores, their
    ``reasons``) among them, sorted by cores, flags as booleans."""
    skipped = pd.DataFrame({"scale": infeasible / baseline, "cores": infeasible})
    frame = pd.concat([frame.assign(feasible=True, infeasible=""),
                       skipped.assign(feasible=False, label="infeasible",
                                      infeasible=reasons)],
                      ignore_index=True).sort_values("cores", ignore_index=True)
    frame["status"] = frame["status"].fillna("infeasible")
    for column in ("uncertain", "alert", "far_extrapolated", "interval_assumed"):
        frame[column] = frame[column].fillna(False).astype(bool)
    return frame


def _choose_total(forecast: GroupForecast, group: pd.DataFrame, cores: np.ndarray,
                  targets: Targets, machine: MachineModel | None,
                  pool_provenance: bool) -> None:
    """Set the group's total method (:mod:`harness.totalchoice`): the phase sum is this
    module's own prediction of the held-out core count (phases by their chosen models, the
    remainder), the whole-curve model ``harness analyze``'s."""
    def phase_sum(train: pd.DataFrame, held: int) -> float | None:
        inner = forecast_group(forecast.keys, train, None, np.array([held]), targets, machine,
                               nested=False, pool_provenance=pool_provenance)
        rows = inner.rows.loc[inner.rows["feasible"], "phase_sum"]
        return float(rows.iloc[0]) if len(rows) else None

    def whole_at(train: pd.DataFrame, held: int) -> float | None:
        fit = totalchoice.whole_curve(train, np.array([held]), targets, pool_provenance)
        return None if fit is None else float(fit.seconds[0])

    choice = totalchoice.nested_choice(group, phase_sum, whole_at)
    forecast.total = choice
    if choice.method == totalchoice.WHOLE:
        forecast.whole = totalchoice.whole_curve(group, cores, targets, pool_provenance)
        model = forecast.whole.model if forecast.whole is not None else "?"
        forecast.notes.append(
            f"the total is the whole-curve model's ({model}, as harness analyze), not the sum "
            "of the phases: it predicted the largest measured core count better from those "
            "below; the phase breakdown is each phase's own prediction, as fitted (it adds up "
            "to the phase sum, not to the total), and the dominant phase is the largest share "
            "of that sum")


def forecast(repetitions: pd.DataFrame, targets: Targets, *, scales: Any = None,
             cores: Any = None, machine: MachineModel | None = None,
             asynchronous: bool = False, pool_provenance: bool = False
             ) -> list[GroupForecast]:
    """Predict every group of a repetitions frame (:func:`harness.inputs.load`).

    Parameters
    ----------
    repetitions
        One row per repetition, as the analyzer reads it.
    targets
        The target table; its scales are the default ``scales``.
    scales, cores
        Scales over each group's baseline (float > 0) or absolute core counts (int ≥ 1);
        at most one; neither: the targets' scales.
    machine
        The machine model; without it every phase is fitted empirically.
    asynchronous
        Predict the asynchronous algorithm (reductions overlap the compute).
    pool_provenance
        Pool runs made with different code versions, as ``harness analyze --pool-provenance``.

    Raises
    ------
    BadInputError
        Both ``scales`` and ``cores`` given; runs that may not be pooled (:mod:`harness.pooling`).
    """
    if scales is not None and cores is not None:
        raise BadInputError("give scales or core counts, not both")
    if scales is None and cores is None:
        scales = np.asarray(targets.scales, dtype=np.float64)
    summary = metrics.summarize(repetitions)  # checks the columns and values
    warnings = pooling.check(repetitions, KEYS, pool_provenance)
    del summary
    out = []
    for key_values, group in repetitions.groupby(KEYS, sort=True, observed=True):
        keys = {k: str(v) for k, v in zip(KEYS, key_values, strict=True)}
        result = forecast_group(keys, group, scales, cores, targets, machine, asynchronous,
                                pool_provenance=pool_provenance)
        result.notes[:0] = warnings.get(tuple(keys.values()), [])
        out.append(result)
    return out
