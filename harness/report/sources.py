"""Where a report's numbers come from: inputs, provenance per group, and runs left out.

Reads the inputs through :func:`harness.inputs.load`. When every run was left out (only failed
runs, say), the analyzer has nothing to compute, but the report must still say what was left out
and why: :func:`load` then lists the records itself. Provenance (hosts, CPU, MPI library, commits,
Slurm job ids, dates) is collected from the run records behind each group; a CSV input has none
beyond its file name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from harness import inputs, records
from harness.errors import DataError, HarnessError
from harness.metrics import KEYS


@dataclass
class Loaded:
    """The inputs of a report: repetitions (None when every run was left out) and exclusions."""

    repetitions: pd.DataFrame | None
    excluded: pd.DataFrame


def _reason(rec: records.RunRecord) -> str:
    why = getattr(inputs, "_exclusion_reason", None)
    reason = why(rec) if why is not None else None
    if reason:
        return reason
    first = (rec.error or "").strip().splitlines()
    return f"status {rec.status!r}" + (f": {first[0][:200]}" if first else "")


def _all_excluded(paths: list[Path]) -> pd.DataFrame:
    """Every record under ``paths`` with why it cannot be used (called when none can)."""
    rows = []
    for path in records.find([p for p in paths if p.is_dir() or p.suffix == ".json"]):
        try:
            rec = records.load(path)
        except HarnessError as e:
            rows.append({"source": str(path), "workload": "", "mode": "", "variant": "",
                         "cores": 0, "reason": str(e)})
            continue
        rows.append({"source": str(path), "workload": rec.workload, "mode": rec.mode,
                     "variant": rec.variant, "cores": rec.ranks * rec.threads_per_rank,
                     "reason": _reason(rec)})
    return pd.DataFrame(rows, columns=list(inputs.EXCLUDED_COLUMNS))


def load(paths: Iterable[str | os.PathLike[str]]) -> Loaded:
    """Read the inputs; ``repetitions`` is None when every input run was excluded.

    Raises
    ------
    DataError
        ``nothing to report in PATH: ...`` when there are no records or rows at all, or an
        input does not exist or does not parse.
    """
    paths = [Path(p) for p in paths]
    shown = " ".join(map(str, paths))
    try:
        data = inputs.load(paths)
    except DataError as e:
        if str(e).startswith("nothing to analyze: all"):
            excluded = _all_excluded(paths)
            if len(excluded):
                return Loaded(None, excluded)
        raise DataError(f"nothing to report in {shown}: {e}") from e
    return Loaded(data.repetitions, data.excluded)


def _record_facts(path: str) -> dict[str, Any] | None:
    if not path.endswith(".json"):
        return None
    try:
        rec = records.load(path)
    except HarnessError:
        return None
    prov = rec.provenance or {}
    slurm = prov.get("slurm") or {}
    return {"host": prov.get("host"), "cpu": prov.get("cpu_model"),
            "mpi": prov.get("mpi_library"),
            "commit": (str(prov.get("git_sha"))[:12] + (" (dirty)" if prov.get("git_dirty")
                                                        else "")) if prov.get("git_sha") else None,
            "python": prov.get("python"), "numba": prov.get("numba"),
            "slurm_job": slurm.get("job_id") if isinstance(slurm, dict) else None,
            "date": rec.created_at}


def _distinct(values: Iterable[Any]) -> list[str]:
    return sorted({str(v).strip().splitlines()[0] for v in values if v not in (None, "")})


def provenance(repetitions: pd.DataFrame, key: dict[str, str]) -> dict[str, Any]:
    """Provenance of one group: ``runs, records, csv`` and the distinct ``host, cpu, mpi,
    commit, python, numba, slurm_job`` values, ``first`` and ``last`` dates."""
    mask = pd.Series(True, index=repetitions.index)
    for k in KEYS:
        if k in repetitions:  # frames from timing CSVs may lack the machine column
            mask &= repetitions[k].astype(str) == key[k]
    sources = sorted(set(repetitions.loc[mask, "source"].astype(str)))
    facts = [f for f in map(_record_facts, sources) if f is not None]
    csvs = [s for s in sources if not s.endswith(".json")]
    out: dict[str, Any] = {"records": len(facts), "csv": csvs}
    for name in ("host", "cpu", "mpi", "commit", "python", "numba", "slurm_job"):
        out[name] = _distinct(f[name] for f in facts)
    dates = sorted(str(f["date"]) for f in facts if f["date"])
    out["first"], out["last"] = (dates[0], dates[-1]) if dates else ("", "")
    return out


def excluded_for(excluded: pd.DataFrame, key: dict[str, str]) -> pd.DataFrame:
    """The excluded runs of one group's workload, mode and variant."""
    if excluded.empty:
        return excluded
    mask = pd.Series(True, index=excluded.index)
    for k in ("workload", "mode", "variant"):
        mask &= excluded[k].astype(str) == key[k]
    return excluded.loc[mask]
