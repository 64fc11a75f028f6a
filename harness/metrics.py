"""The metrics table: per point, speedup, efficiency, Karp–Flatt, target and status.

Pure pandas: a frame of repetitions (:mod:`harness.inputs`) in, frames out; no I/O. A group is
one scaling study, named by the columns :data:`KEYS`: workload, mode, variant and the problem
(its ``size``, and the ``problem`` key that adds the parameter overrides, built by
:func:`harness.inputs.problem_key`); runs of different problems are never compared. Per group,
with baseline ``p0`` the smallest core count measured unless ``baseline_cores`` is given, ``T0``
its median time and ``r = p/p0`` (docs/design.md, "Analysis contract"):

- strong: speedup ``S = T0/T``, efficiency ``E = S/r`` (fixed-size speedup, Amdahl 1967);
- weak: ``E = T0/T``, scaled speedup ``S = r E`` (Gustafson 1988);
- Karp–Flatt serial fraction, r > 1: ``e = (1/S - 1/r)/(1 - 1/r)`` (Karp & Flatt 1990; on the
  scaled speedup in weak mode);
- ``T`` is the median of a point's repetitions, reported with min, max and relative IQR
  (interquartile range over median). Efficiencies above 1 are kept as measured. Repetitions of
  separate runs at one core count (``run`` differs: several records, or several CSV files) are
  pooled.

Status per point is ``pass`` when E is strictly above its target, ``fail`` otherwise,
``no-target`` above the last target row, and ``below-baseline`` for a point with fewer cores than
the baseline (shown, never judged or fitted). At a measured scale the measured value alone sets the
status. :func:`label` and :func:`cores_text` are how groups and core counts are named in messages.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from harness import modelfit
from harness.errors import DataError
from harness.targets import Targets

#: the columns that name a group (one scaling study); variant, size, problem and machine may be
#: empty. ``machine`` (CPU model, CPUs per node, MPI library) keeps runs of different machines
#: in different groups: they are never pooled.
KEYS = ["workload", "mode", "variant", "size", "problem", "machine"]
#: prefixes of the phase columns: mean over ranks, max over ranks (seconds per repetition)
PHASE, PHASE_MAX = "phase_", "phasemax_"
MODES = ("strong", "weak")
#: core counts must stay below this: exact in float64, safe in int64
MAX_CORES = 2**53
POINT_COLUMNS = [*KEYS, "cores", "scale", "seconds", "seconds_min",
                 "seconds_max", "repetitions", "runs", "rel_iqr", "speedup", "efficiency",
                 "karp_flatt", "target", "status", "model_efficiency", "model_residual"]
#: what a point's status is when it has fewer cores than the baseline
BELOW_BASELINE = "below-baseline"


def label(workload: str, mode: str, variant: str, problem: str = "") -> str:
    """How a group is named in messages: ``workload/mode[/variant]``, then ``[problem]``."""
    name = f"{workload}/{mode}/{variant}" if variant else f"{workload}/{mode}"
    return f"{name} [{problem}]" if problem else name


def cores_text(cores: float) -> str:
    """``1 core``, ``4 cores``, ``12.5 cores``."""
    return f"{cores:g} core" + ("" if cores == 1 else "s")


def _bad_rows(reps: pd.DataFrame, bad: np.ndarray, column: str, rule: str) -> DataError:
    first = int(np.flatnonzero(bad)[0])
    return DataError(f"repetitions: row {first}, column {column!r}: "
                     f"{reps[column].iloc[first]!r} is not allowed; {rule}")


def checked_repetitions(repetitions: pd.DataFrame) -> pd.DataFrame:
    """The repetitions with every key column present (missing optional keys are empty), after
    checking the values the formulas divide by or take logs of.

    Raises
    ------
    DataError
        When a required column is missing, there are no rows, or a core count (a whole number
        from 1 to below 2^53), time (a finite number > 0) or mode (strong, weak) is not allowed.
    """
    missing = [c for c in ("workload", "mode", "cores", "seconds") if c not in repetitions]
    if missing:
        raise DataError(f"repetitions lack the column(s) {', '.join(missing)}; needed: "
                        "workload, mode, cores, seconds (optional: variant, size, problem, run, "
                        "phase_<name>)")
    if repetitions.empty:
        raise DataError("nothing to analyze: no repetitions")
    extra: dict[str, Any] = {k: "" for k in ("variant", "size", "machine")
                             if k not in repetitions}
    if "problem" not in repetitions:
        extra["problem"] = repetitions.get("size", "")
    if "run" not in repetitions:  # no run numbers: each point is one run
        extra["run"] = 0
    reps = repetitions.assign(**extra) if extra else repetitions
    with np.errstate(invalid="ignore"):
        cores = pd.to_numeric(reps["cores"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(cores) | (cores < 1) | (cores >= MAX_CORES) | (cores != np.floor(cores))
        if bad.any():
            raise _bad_rows(reps, bad, "cores", "cores must be a whole number >= 1 (and < 2^53)")
        seconds = pd.to_numeric(reps["seconds"], errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(seconds) | (seconds <= 0)
        if bad.any():
            raise _bad_rows(reps, bad, "seconds", "seconds must be a finite number > 0")
    bad = ~reps["mode"].isin(MODES).to_numpy()
    if bad.any():
        raise _bad_rows(reps, bad, "mode", "mode must be strong or weak")
    if reps["cores"].dtype != np.int64:
        reps = reps.assign(cores=cores.astype(np.int64))
    if reps["seconds"].dtype != np.float64:
        reps = reps.assign(seconds=seconds)
    return reps


def summarize(repetitions: pd.DataFrame) -> pd.DataFrame:
    """One row per (group, cores): median, spread and repetitions of the time, phase medians.

    Also ``runs`` (distinct runs behind the point; ``measurements`` is the same number, kept
    for readers of older output) and the run-level statistics the model fits use: each run's
    median over its repetitions is one replicate, ``log_mean`` and ``log_ss`` are the mean and
    sum of squared deviations of their logs (:func:`harness.modelfit.run_stats`).

    Raises
    ------
    DataError
        When a required column is missing, or a core count, time or mode is not allowed.
    """
    reps = checked_repetitions(repetitions)
    by = [*KEYS, "cores"]
    grouped = reps.groupby(by, observed=True, sort=True)
    out = grouped.agg(seconds=("seconds", "median"), seconds_min=("seconds", "min"),
                      seconds_max=("seconds", "max"), repetitions=("seconds", "size"),
                      measurements=("run", "nunique"))
    quartiles = grouped["seconds"].quantile([0.25, 0.75]).unstack()
    out["rel_iqr"] = (quartiles[0.75] - quartiles[0.25]) / out["seconds"]
    run_medians = reps.groupby([*by, "run"], observed=True, sort=True)["seconds"].median()
    stats = modelfit.run_stats(run_medians.reset_index(), by).set_index(by)
    out = out.join(stats[["runs", "log_mean", "log_ss"]])
    phases = [c for c in reps.columns if c.startswith((PHASE, PHASE_MAX))]
    if phases:
        out = out.join(grouped[phases].median())
    if "nodes" in reps:
        out = out.join(grouped["nodes"].max())
    out = out.reset_index()
    for key in KEYS:
        out[key] = out[key].astype(str)
    return out


def _baselines(summary: pd.DataFrame, baseline_cores: int | None) -> pd.Series:
    """Baseline cores per summary row; raises if a requested baseline was not measured."""
    by_group = summary.groupby(KEYS, sort=False)["cores"]
    if baseline_cores is None:
        return by_group.transform("min")
    has = by_group.transform(lambda c: bool((c == baseline_cores).any()))
    if not has.all():
        row = summary.loc[~has.astype(bool)].iloc[0]
        measured = summary.loc[(summary[KEYS] == row[KEYS]).all(axis=1), "cores"]
        raise DataError(
            f"--baseline-cores {baseline_cores} was not measured for "
            f"{label(row['workload'], row['mode'], row['variant'], row['problem'])}; "
            "measured core counts: "
            f"{', '.join(map(str, measured))}"
        )
    return pd.Series(baseline_cores, index=summary.index)


def scaling(summary: pd.DataFrame, targets: Targets, baseline_cores: int | None = None
            ) -> pd.DataFrame:
    """Add scale, speedup, efficiency, Karp–Flatt, target and status to a summary.

    Raises
    ------
    DataError
        When ``baseline_cores`` was not measured for some group.
    """
    out = summary.copy()
    p0 = _baselines(out, baseline_cores)
    at_base = out.loc[out["cores"] == p0, [*KEYS, "seconds"]].rename(columns={"seconds": "t0"})
    t0 = out[KEYS].merge(at_base, on=KEYS, how="left")["t0"].to_numpy()
    r = out["cores"].to_numpy(dtype=np.float64) / p0.to_numpy(dtype=np.float64)
    t = out["seconds"].to_numpy(dtype=np.float64)
    strong = (out["mode"] == "strong").to_numpy()
    # strong: fixed-size speedup (Amdahl 1967); weak: scaled speedup r E (Gustafson 1988)
    speedup = np.where(strong, t0 / t, r * (t0 / t))
    eff = np.where(strong, speedup / r, t0 / t)
    with np.errstate(divide="ignore", invalid="ignore"):
        # the experimentally determined serial fraction (Karp & Flatt, CACM 33(5), 1990)
        karp_flatt = np.where(r > 1, (1.0 / speedup - 1.0 / r) / (1.0 - 1.0 / r), np.nan)
    below = r < 1.0
    target = np.where(below, np.nan, targets.target_for(r))
    out["baseline_cores"] = p0.to_numpy()
    out["scale"], out["speedup"], out["efficiency"] = r, speedup, eff
    out["karp_flatt"], out["target"] = np.where(below, np.nan, karp_flatt), target
    out["status"] = np.where(below, BELOW_BASELINE, np.where(
        np.isnan(target), "no-target", np.where(eff > target, "pass", "fail")))
    return out
