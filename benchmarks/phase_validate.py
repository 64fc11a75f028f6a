"""Hold-out validation of the phase-by-phase prediction (the second table of ``make validate``).

For every series with phase times (``phase_<name>`` columns), the largest core count is held
out: each phase is fitted with :func:`harness.phasefit.fit_phase` on the other core counts and
predicts its time there; the predicted total is the sum of the phase predictions plus the
unassigned remainder (the run's time beyond the sum of its phases, fitted as its own phase
``rest`` when it is there). Beside it, on the same points, the whole-curve model of
``harness analyze`` (``validate.holdout``) and Extra-P's default modeler on the total
(``extrap_peer.extrap_holdout``, as it comes and with negative exponents), when installed.

A weak-scaling series is fitted the same way: its phase times are times at fixed work per rank,
which is what the fit describes; only the efficiency would differ, and none is reported here.

The total is also predicted by two variants, side by side with the phase sum: the remainder by
the whole-curve model instead of a PMNF term (:func:`rest_by_whole_curve`), and a nested choice
per series between the phase sum and the whole-curve model (:func:`nested_choice`, which calls
the harness's own rule, :func:`harness.totalchoice.nested_choice`: whichever predicted the
largest *training* core count better from the core counts below it; the held-out scale plays no
part in the choice). The nested choice is the total's method in ``harness predict``
(docs/design.md, "Empirical per-phase fit"). The total's interval is the phases' in quadrature
(:func:`total_interval`), or the whole-curve model's where the nested choice takes it.

Targets (the phase-by-phase prediction's specification): median |error| of the total at the
held-out scale <= 10 % over the series, of each phase <= 20 % over all phases of all series.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable

import numpy as np
import pandas as pd

from harness import totalchoice
from harness.metrics import PHASE
from harness.phasefit import fit_phase

#: the spec's targets for the median |error| at the held-out scale
TOTAL_TARGET, PHASE_TARGET = 0.10, 0.20
#: a remainder below this fraction of the total (median over runs) is rounding, not a phase
REST_FLOOR = 0.005


def phase_columns(group: pd.DataFrame) -> list[str]:
    """The ``phase_*`` columns with a value in every row of ``group``."""
    return [c for c in group.columns if c.startswith(PHASE) and group[c].notna().all()]


def phase_times(group: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per phase name, the time of every row (seconds); ``rest`` when the total exceeds the
    sum of the phases by more than :data:`REST_FLOOR` of it."""
    columns = phase_columns(group)
    times = {c[len(PHASE):]: group[c].to_numpy(dtype=np.float64) for c in columns}
    rest = group["seconds"].to_numpy(dtype=np.float64) - sum(times.values())
    if np.median(rest / group["seconds"].to_numpy()) > REST_FLOOR:
        times["rest"] = np.maximum(rest, 0.0)
    return times


def phase_holdout(group: pd.DataFrame) -> dict[str, object] | None:
    """Predict the largest core count of ``group`` phase by phase from the others.

    Returns None when the group has no phase columns or fewer than three core counts (two must
    remain for a fit). Otherwise a dict: ``held`` (core count), ``measured`` (median total),
    ``predicted`` (sum of phase predictions), ``error`` (relative), ``phases`` (name ->
    (predicted, measured median, relative error, measured inside the 95 % interval, law)).
    """
    if not phase_columns(group):
        return None
    cores = group["cores"].to_numpy()
    distinct = np.unique(cores)
    if len(distinct) < 3:
        return None
    held = int(distinct[-1])
    train = cores != held
    totals = group["seconds"].to_numpy(dtype=np.float64)
    out_phases, bounds = {}, []
    for name, seconds in phase_times(group).items():
        fit = fit_phase(name, cores[train], seconds[train], totals=totals[train])
        predicted = float(fit.predict(held))
        measured = float(np.median(seconds[~train]))
        low, high = (float(v) for v in fit.interval(held))
        bounds.append((predicted, low, high))
        error = predicted / measured - 1.0 if measured > 0 else math.nan
        out_phases[name] = (predicted, measured, error, bool(low <= measured <= high),
                            fit.describe())
    measured_total = float(np.median(totals[~train]))
    predicted_total = sum(p[0] for p in out_phases.values())
    return {"held": held, "cores": [int(c) for c in distinct], "measured": measured_total,
            "predicted": predicted_total, "error": predicted_total / measured_total - 1.0,
            "phases": out_phases, "interval": total_interval(bounds)}


def total_interval(bounds: list[tuple[float, float, float]]) -> tuple[float, float]:
    """The total's 95 % interval from the phases' ``(predicted, low, high)``, seconds: the
    phases' distances below and above their predictions added in quadrature about the sum of
    the predictions (the phases' errors taken as independent; their covariance is not
    estimated)."""
    predicted = sum(b[0] for b in bounds)
    below = math.sqrt(sum((b[0] - b[1]) ** 2 for b in bounds))
    above = math.sqrt(sum((b[2] - b[0]) ** 2 for b in bounds))
    return max(predicted - below, 0.0), predicted + above


def rest_by_whole_curve(group: pd.DataFrame, result: dict[str, object],
                        whole_curve: Callable[[pd.DataFrame], dict[str, object]]
                        ) -> float | None:
    """The held-out total with the remainder (``rest``) predicted by the whole-curve model
    (``whole_curve`` on the remainder's times as a run's time) instead of a PMNF term, the
    phases as in ``result`` (:func:`phase_holdout`); None without a remainder, or when the
    whole-curve model refuses it or a remainder time is zero (no log time)."""
    if "rest" not in result["phases"]:
        return None
    rest = phase_times(group)["rest"]
    if not np.all(rest > 0):
        return None
    frame = group.drop(columns=phase_columns(group)).assign(seconds=rest)
    predicted = _whole_prediction(frame, whole_curve)
    if predicted is None:
        return None
    phases = sum(p[0] for name, p in result["phases"].items() if name != "rest")
    return phases + predicted


def phase_sum_at(train: pd.DataFrame, held: int) -> float | None:
    """The total at ``held`` cores as the sum of the phases (and ``rest``) of ``train``, each
    fitted with :func:`harness.phasefit.fit_phase` (the run totals given) — what ``harness
    predict`` does for a series without a machine model; a
    :data:`harness.totalchoice.Predictor`. None when a phase cannot be fitted."""
    cores = train["cores"].to_numpy()
    totals = train["seconds"].to_numpy(dtype=np.float64)
    total = 0.0
    for name, seconds in phase_times(train).items():
        fit = fit_phase(name, cores, seconds, totals=totals)
        if fit is None:
            return None
        total += float(fit.predict(held))
    return total


def nested_choice(group: pd.DataFrame,
                  whole: totalchoice.Predictor = totalchoice.whole_curve_at) -> str:
    """``"phases"`` or ``"whole"``: :func:`harness.totalchoice.nested_choice` (the total's rule
    in ``harness predict``) on the *training* points (``group`` without its largest core
    count), the phase sum by :func:`phase_sum_at`, so the held-out scale plays no part. The
    phase sum without four or more core counts (three must remain for the nested hold-out)."""
    cores = group["cores"].to_numpy()
    if len(np.unique(cores)) < totalchoice.MIN_COUNTS + 1:
        return "phases"
    train = group.loc[cores != cores.max()].reset_index(drop=True)
    return totalchoice.nested_choice(train, phase_sum_at, whole).method


def _whole_prediction(group: pd.DataFrame, whole_curve) -> float | None:
    r = _whole(group, whole_curve)
    return r.get("predicted") if r else None


def _percent(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{100 * value:+.1f}%"


def print_table(series: list[tuple[str, str, pd.DataFrame]],
                whole_curve: Callable[[pd.DataFrame], dict[str, object]],
                peer: Callable | None,
                holdout: Callable[[pd.DataFrame], dict | None] = phase_holdout
                ) -> dict[str, list[float]]:
    """Print the phase-by-phase hold-out table for ``series`` ((label, mode, repetitions)) and
    its summary; return the absolute errors by column (``total``, ``phase``, ``whole``,
    ``extrap``, ``extrap-``, ``rest-whole``, ``nested``). ``holdout`` makes each series'
    prediction (:func:`phase_holdout`'s dict); where it carries ``nested`` (``harness predict``
    on run records: ``benchmarks/records_validate.py``) that is the total's nested choice."""
    header = (f"{'series':34} {'mode':6} {'cores':>15} {'measured':>9} {'by phase':>9} "
              f"{'error':>7} {'whole':>7} {'Extra-P':>8} {'Extra-P-':>8}  "
              "per phase: error (law fitted without the held-out scale)")
    print(header)
    print("-" * len(header))
    errors: dict[str, list[float]] = {k: [] for k in ("total", "phase", "whole", "extrap",
                                                      "extrap-", "rest-whole", "nested")}
    variants: list[tuple[str, float, float, str, float, float | None]] = []
    covered: list[bool] = []
    total_covered: list[bool] = []
    nested_covered: list[bool] = []
    for label, mode, group in series:
        result = holdout(group)
        if result is None:
            continue
        errors["total"].append(abs(result["error"]))
        low, high = result["interval"]
        total_covered.append(low <= result["measured"] <= high)
        whole_result = _whole(group, whole_curve)
        whole = whole_result.get("error") if whole_result else None
        errors["whole"].append(abs(whole) if whole is not None else math.inf)
        variants.append(_variants(label, group, result, whole_result, whole_curve, errors))
        if "nested" in result:
            nested_covered.append(result["nested"][2])
        else:
            nested_covered.append(bool(whole_result["covered"]) if variants[-1][3] == "whole"
                                  else total_covered[-1])
        xp = _peer_errors(group, result, peer)
        for key, value in zip(("extrap", "extrap-"), xp, strict=True):
            if value is not None:
                errors[key].append(abs(value))
        parts = []
        for name, (_, _, err, inside, law) in result["phases"].items():
            if math.isfinite(err):
                errors["phase"].append(abs(err))
            covered.append(inside)
            parts.append(f"{name} {_percent(err)}{'' if inside else '!'} ({law})")
        span = f"{result['cores'][0]}-{result['cores'][-2]}>{result['held']}"
        print(f"{label[:34]:34} {mode:6} {span:>15} {result['measured']:9.4g} "
              f"{result['predicted']:9.4g} {_percent(result['error']):>7} {_percent(whole):>7} "
              f"{_percent(xp[0]):>8} {_percent(xp[1]):>8}  " + "; ".join(parts))
    print("-" * len(header))
    _summary(errors, covered, total_covered)
    _print_variants(variants, errors, nested_covered)
    return errors


def _variants(label: str, group: pd.DataFrame, result: dict, whole_result: dict | None,
              whole_curve, errors: dict[str, list[float]]
              ) -> tuple[str, float, float, str, float, float | None]:
    """The total's error by each variant (phase sum; remainder by the whole-curve model; the
    nested choice) for one series, appended to ``errors``; the table row."""
    by_phase = result["error"]
    whole = whole_result.get("error") if whole_result else None
    rest = rest_by_whole_curve(group, result, whole_curve)
    rest_error = rest / result["measured"] - 1.0 if rest is not None else by_phase
    if "nested" in result:  # harness predict's own total, its choice made inside
        choice, nested, _ = result["nested"]
    else:
        choice = nested_choice(group)
        if whole is None:  # the whole-curve model refused the full series: the phase sum stands
            choice = "phases"
        nested = whole if choice == "whole" else by_phase
    errors["rest-whole"].append(abs(rest_error))
    errors["nested"].append(abs(nested))
    return label, by_phase, rest_error, choice, nested, whole


def _print_variants(rows: list, errors: dict[str, list[float]], covered: list[bool]) -> None:
    """The total at the held-out scale by each variant, per series, with median and worst; the
    nested choice (the total's method) against the target, with its intervals' coverage."""
    if not rows:
        return
    print("\nThe total at the held-out scale by variant: phase sum; remainder by the whole-curve "
          "model; nested choice (phase sum or whole-curve, whichever predicted the largest "
          "training scale better from those below); whole-curve model")
    print(f"{'series':34} {'phases':>8} {'rest-whole':>10} {'nested':>15} {'whole':>8}")
    for label, by_phase, rest, choice, nested, whole in rows:
        print(f"{label[:34]:34} {_percent(by_phase):>8} {_percent(rest):>10} "
              f"{choice + ' ' + _percent(nested):>15} {_percent(whole):>8}")
    for key, name in (("total", "phase sum"), ("rest-whole", "remainder by whole-curve"),
                      ("nested", "nested choice"), ("whole", "whole-curve model")):
        values = errors[key]
        print(f"{name:26} median |error| {100 * statistics.median(values):5.1f} %, "
              f"worst {100 * max(values):5.1f} %")
    nested = statistics.median(errors["nested"])
    print(f"the total (nested choice): median |error| {100 * nested:.1f} % (target <= "
          f"{100 * TOTAL_TARGET:.0f} %: {'met' if nested <= TOTAL_TARGET else 'NOT met'}); "
          f"inside its 95 % interval {100 * sum(covered) / len(covered):.0f} % of {len(covered)}")


def _whole(group: pd.DataFrame, whole_curve) -> dict[str, object] | None:
    """The whole-curve model's hold-out result, None when it refuses (a miss, reported as
    such); without a prediction its dict has no ``error``."""
    try:
        with np.errstate(over="ignore"):  # a vast interval overflows to inf: still an interval
            return whole_curve(group)
    except Exception:  # the whole-curve model's refusal
        return None


def _whole_error(group: pd.DataFrame, whole_curve) -> float | None:
    r = _whole(group, whole_curve)
    return r.get("error") if r else None


def _peer_errors(group: pd.DataFrame, result: dict, peer) -> tuple[float | None, float | None]:
    if peer is None:
        return None, None
    by = group.loc[group["cores"] != result["held"]].groupby("cores")["seconds"]
    out = []
    for negative in (False, True):
        try:
            xp = peer(list(by.groups), [list(v) for _, v in by], int(result["held"]),
                      negative_exponents=negative)
            out.append(xp / result["measured"] - 1.0)
        except Exception:  # the peer's failure is a gap in its column, not fatal
            out.append(None)
    return out[0], out[1]


def _summary(errors: dict[str, list[float]], covered: list[bool],
             total_covered: list[bool]) -> None:
    def median(key: str) -> float:
        return statistics.median(errors[key]) if errors[key] else math.nan

    n = len(errors["total"])
    if not n:
        print("no series with phase times and three or more core counts")
        return
    total, phase = median("total"), median("phase")
    print(f"{n} series with phase times; median |error| at the held-out scale: total as the "
          f"phase sum {100 * total:.1f} % (the total's target is judged on the nested choice "
          f"below), per phase {100 * phase:.1f} % "
          f"over {len(errors['phase'])} phases (target <= {100 * PHASE_TARGET:.0f} %: "
          f"{'met' if phase <= PHASE_TARGET else 'NOT met'})")
    print(f"whole-curve model (harness analyze) on the same series: {100 * median('whole'):.1f} %"
          " (refusals count as misses)")
    for key, label in (("extrap", "as it comes"), ("extrap-", "with negative exponents")):
        if errors[key]:
            print(f"Extra-P default modeler ({label}) on the total: {100 * median(key):.1f} % "
                  f"over {len(errors[key])} series")
    if covered:
        print(f"held-out phase times inside their 95 % interval: "
              f"{100 * sum(covered) / len(covered):.0f} % of {len(covered)} ('!' marks a miss); "
              f"totals inside theirs (phases in quadrature): "
              f"{100 * sum(total_covered) / len(total_covered):.0f} % of {len(total_covered)}")
