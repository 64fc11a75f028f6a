"""``harness compare BASE NEW``: per point, is NEW slower than BASE, beyond noise?

BASE and NEW are sweep directories, or sweep ids in the KPI store. Both are read as the analyzer
reads them (:mod:`harness.inputs`: failed, unverified and oversubscribed runs left out) and
compared point by point (workload, mode, variant, problem, cores) on the points they share.

Runs are the replicates (docs/design.md, "Analysis contract"): a point's time is the median of its
runs' median times, ``ratio = T_new / T_base``, and its efficiency change is ``E_new - E_base``. A
point is a *regression* when it is slower by more than the threshold (``ratio > 1 + threshold``)
**and** the slowdown is significant: Welch's one-sided t-test on the logarithms of the run medians
(unequal variances), p < 0.05. It needs at least two runs on each side; with fewer the point is
reported as ``slower, significance not reachable`` and not flagged, rather than guessed.

Sweeps made on different machines (Slurm partition or host, and CPU model) are refused, and so are
sweeps that share no point (different problems).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats

from harness import analysis, inputs, metrics, records
from harness.errors import BadInputError, DataError
from harness.store import engine as store_engine
from harness.store import push, rows
from harness.store.schema import runs
from harness.targets import Targets

POINT = [*metrics.KEYS, "cores"]
ALPHA = 0.05
TEST = "Welch's one-sided t-test on log run-median times, p < 0.05"


@dataclass
class Side:
    """One side of a comparison: its label, machine(s) and repetitions frame."""

    label: str
    machines: set[str]
    repetitions: pd.DataFrame


def parse_threshold(text: str) -> float:
    """``"5%"`` or ``"0.05"`` as a fraction in (0, 10).

    Raises
    ------
    BadInputError
        When it is not a number or percentage in that range.
    """
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise BadInputError(f"--threshold {text!r}: expected a percentage such as 5% or a "
                            "fraction such as 0.05") from None
    if not (0 < value < 10) or not math.isfinite(value):
        raise BadInputError(f"--threshold {text!r}: must be above 0 (and below 1000%)")
    return value


def _machine(rec: records.RunRecord) -> str:
    cpu = (rec.provenance or {}).get("cpu_model") or "unknown CPU"
    return f"{rows.machine(rec)} ({cpu})"


def _from_records(label: str, recs: list[tuple[records.RunRecord, str]]) -> Side:
    """One side from ``(record, source)`` pairs already validated."""
    try:
        data = inputs.from_records(recs)
    except DataError as e:
        raise DataError(f"{label}: {e}") from None
    return Side(label, {_machine(r) for r, _ in recs}, data.repetitions)


def load_side(which: str, store_url: str | None) -> Side:
    """A sweep directory (or record file), else a sweep id in the store.

    Raises
    ------
    DataError
        When it is neither, or holds nothing to compare.
    StoreError
        When the store cannot be read.
    """
    path = Path(which)
    if path.exists():
        found = push.collect([path])  # each record read and validated once
        return _from_records(which, [(r, str(p)) for entry in found
                                     for r, p in zip(entry.records, entry.paths, strict=True)])
    if "/" in which or not which:
        raise DataError(f"{which}: no such sweep directory")
    store = store_engine.create(store_url)
    try:
        with store_engine.connect(store) as conn:
            stored = [r for (r,) in conn.execute(sa.select(runs.c.record)
                                                 .where(runs.c.sweep_id == which))]
    finally:
        store.dispose()
    if not stored:
        raise DataError(f"{which}: not a directory, and no sweep of that id in the store "
                        f"{store_engine.masked(store.url)}")
    source = f"{which} (store)"
    return _from_records(which, [(records.from_json(data, source), source) for data in stored])


def run_medians(repetitions: pd.DataFrame) -> pd.DataFrame:
    """One row per point and run: the median of that run's repetitions (``seconds``)."""
    reps = repetitions.assign(**{k: repetitions[k].astype(str) for k in metrics.KEYS})
    return reps.groupby([*POINT, "run"], observed=True, sort=True)["seconds"].median() \
        .reset_index()


def welch_slower(base: np.ndarray, new: np.ndarray) -> float | None:
    """One-sided p-value that NEW's log times exceed BASE's (Welch), or None when either side
    has fewer than two runs or neither varies."""
    if len(base) < 2 or len(new) < 2:
        return None
    lb, ln = np.log(base), np.log(new)
    if np.ptp(lb) == 0 and np.ptp(ln) == 0:
        return 0.0 if ln.mean() > lb.mean() else 1.0
    return float(stats.ttest_ind(ln, lb, equal_var=False, alternative="greater").pvalue)


def _efficiency(repetitions: pd.DataFrame, table: Targets) -> dict[tuple, float]:
    try:
        points = analysis.analyze(repetitions, table).points
    except DataError:
        return {}
    return {(*(str(p[k]) for k in metrics.KEYS), int(p["cores"])): float(p["efficiency"])
            for _, p in points.iterrows()}


def compare(base: Side, new: Side, threshold: float, table: Targets) -> pd.DataFrame:
    """One row per shared point: base and new time, ratio, efficiency change, runs, p-value,
    verdict (``regression``, ``slower (not significant)``, ``slower, significance not
    reachable``, ``faster``, ``unchanged``).

    Raises
    ------
    DataError
        When the machines differ or the sweeps share no point.
    """
    if base.machines != new.machines:
        raise DataError(f"cannot compare sweeps from different machines: {base.label} ran on "
                        f"{', '.join(sorted(base.machines))}; {new.label} on "
                        f"{', '.join(sorted(new.machines))}")
    b, n = run_medians(base.repetitions), run_medians(new.repetitions)
    keys_b = {tuple(r) for r in b[POINT].itertuples(index=False)}
    keys_n = {tuple(r) for r in n[POINT].itertuples(index=False)}
    shared = sorted(keys_b & keys_n)
    if not shared:
        raise DataError(f"{base.label} and {new.label} share no point (workload, mode, variant, "
                        "problem and cores): they measured different problems")
    eff_b, eff_n = _efficiency(base.repetitions, table), _efficiency(new.repetitions, table)
    out: list[dict[str, Any]] = []
    by_b = dict(tuple(g) for g in b.groupby(POINT, sort=False)["seconds"])
    by_n = dict(tuple(g) for g in n.groupby(POINT, sort=False)["seconds"])
    for key in shared:
        tb, tn = by_b[key].to_numpy(), by_n[key].to_numpy()
        ratio = float(np.median(tn) / np.median(tb))
        p = welch_slower(tb, tn)
        if ratio > 1 + threshold:
            verdict = ("slower, significance not reachable" if p is None
                       else "regression" if p < ALPHA else "slower (not significant)")
        elif ratio < 1 / (1 + threshold):
            verdict = "faster"
        else:
            verdict = "unchanged"
        e_b, e_n = eff_b.get(key), eff_n.get(key)
        out.append({**dict(zip(POINT, key, strict=True)), "base_seconds": float(np.median(tb)),
                    "new_seconds": float(np.median(tn)), "ratio": ratio,
                    "base_efficiency": e_b, "new_efficiency": e_n,
                    "efficiency_change": None if e_b is None or e_n is None else e_n - e_b,
                    "base_runs": len(tb), "new_runs": len(tn), "p_value": p,
                    "verdict": verdict})
    return pd.DataFrame(out)


def render(frame: pd.DataFrame, base: str, new: str, threshold: float) -> str:
    """The comparison as text: one line per point, then the test used and the count."""
    lines = [f"compare {base} -> {new}: threshold {threshold:.1%}; {TEST}"]
    for _, r in frame.iterrows():
        name = metrics.label(r["workload"], r["mode"], r["variant"], r["problem"])
        eff = ("" if pd.isna(r["efficiency_change"]) or r["efficiency_change"] is None
               else f", E {r['base_efficiency']:.3f} -> {r['new_efficiency']:.3f}")
        p = "" if r["p_value"] is None or pd.isna(r["p_value"]) else f", p = {r['p_value']:.3g}"
        lines.append(f"  {name} at {r['cores']} cores: {r['base_seconds']:.4g} s -> "
                     f"{r['new_seconds']:.4g} s (x{r['ratio']:.3f}{eff}; runs "
                     f"{r['base_runs']}/{r['new_runs']}{p}): {r['verdict']}")
    flagged = int((frame["verdict"] == "regression").sum())
    unreachable = int((frame["verdict"] == "slower, significance not reachable").sum())
    lines.append(f"{flagged} regression(s) in {len(frame)} shared point(s)"
                 + (f"; {unreachable} slower point(s) had fewer than 2 runs on a side, so "
                    "significance could not be reached" if unreachable else ""))
    return "\n".join(lines) + "\n"
