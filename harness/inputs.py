"""Turn run records and timing CSVs into one tidy frame of repetitions for the analyzer.

Inputs are directories of run records (searched recursively), single ``.json`` records, and
timing CSV files (read and checked by :mod:`harness.timingcsv`: columns ``workload, mode, cores,
seconds``, optionally ``variant``, ``size`` and ``phase_<name>`` / ``phasemax_<name>``).

The result has one row per repetition with the columns ``workload, mode, variant, size, problem,
cores, seconds, run, source`` and the phase columns. ``problem`` names the problem solved
(:func:`problem_key`: the size and, for a record, its parameter overrides), so that the analyzer
compares only runs of one problem. ``run`` numbers the measurements: all repetitions of one run
record share it, and so do the rows of one CSV file with the same workload, mode, variant, size
and cores (one row per repetition is the CSV format); separate records, or rows from separate
files, are separate runs. For a record, ``cores`` is ranks times threads per rank, every entry of
``seconds`` is a row, and ``phase_<name>`` / ``phasemax_<name>`` are the mean / max over ranks
of that phase per repetition. Records that did not run cleanly (status not ``ok``,
oversubscribed, JIT in the timed region, a time that is not a finite number > 0) are kept out of
the repetitions and listed, with the reason, in the excluded frame (``source, workload, mode,
variant, cores, reason``), as are other JSON files found in a directory, except the analyzer's
own output (``analysis.json``), which is skipped.

Records also give the columns :mod:`harness.pooling` checks: ``machine`` (CPU model, CPUs per
node, MPI library: a group key), ``host``, ``code`` (harness commit and library versions, JSON)
and ``work`` (the record's ``fixed_work``, JSON); CSV rows leave them empty. A record read twice
(the same ``run_id`` and the same content, e.g. a copied sweep directory) counts once and the copy
is listed as excluded; the same ``run_id`` with different content is an error naming both files.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import records
from harness.documents import NOT_RUNS
from harness.errors import DataError, RecordError
from harness.metrics import KEYS, MAX_CORES, PHASE, PHASE_MAX
from harness.timingcsv import read_csv

EXCLUDED_COLUMNS = ("source", "workload", "mode", "variant", "cores", "reason")


@dataclass
class Inputs:
    """What the analyzer reads: measured repetitions, and the inputs kept out with the reason."""

    repetitions: pd.DataFrame
    excluded: pd.DataFrame


def _value_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return value if value and not any(c.isspace() for c in value) else json.dumps(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def problem_key(size: str, overrides: Mapping[str, Any] | None = None) -> str:
    """The problem a run solves, as one stable string: the size, then ``key=value`` per override.

    Keys are sorted, so the same overrides in any order give the same key: ``"small"``,
    ``"small n=512 steps=200"``, ``""`` (no size, no overrides). Strings with spaces are quoted.
    """
    parts = [str(size).strip()] if str(size).strip() else []
    parts += [f"{k}={_value_text(overrides[k])}" for k in sorted(overrides or {}, key=str)]
    return " ".join(parts)




def _excluded(source: str, reason: str, rec: records.RunRecord | None = None) -> dict[str, Any]:
    return {
        "source": source,
        "workload": rec.workload if rec else "",
        "mode": rec.mode if rec else "",
        "variant": rec.variant if rec else "",
        "cores": rec.ranks * rec.threads_per_rank if rec else 0,
        "reason": reason,
    }


def _exclusion_reason(rec: records.RunRecord) -> str | None:
    """Why a valid record must stay out of every efficiency, or None if it may enter."""
    if rec.status != "ok":
        why = f"status {rec.status!r}"
        check = rec.verification or {}
        if rec.status == "verification_failed" and all(
                isinstance(check.get(k), (int, float)) for k in ("error", "tolerance")):
            why += (f": verification error {check['error']:.3g} exceeds the tolerance "
                    f"{check['tolerance']:.3g}")
        elif rec.error:
            first = str(rec.error).strip().splitlines()
            why += f": {first[0][:200]}" if first else ""
        return why
    if rec.oversubscribed:
        return (f"oversubscribed ({rec.ranks} ranks x {rec.threads_per_rank} threads on fewer "
                "cores): its times do not measure scaling")
    if getattr(rec, "contended", False) is True:
        share = rec.contention
        took = f"{share:.0%}" if isinstance(share, (int, float)) else "a share"
        return (f"contended (other work took {took} of the CPU time the run needed): its "
                "times do not measure scaling")
    if rec.compiled_while_timed:
        return "a kernel was compiled inside the timed region: its times include the JIT"
    if not all(math.isfinite(s) for s in rec.seconds):
        return "a repetition time is not a finite number; times must be finite numbers > 0"
    if any(s <= 0 for s in rec.seconds):
        return "a repetition took 0 s; times must be > 0"
    return None


def _record_problem(rec: records.RunRecord, source: str) -> str:
    """The record's problem key; a record without ``overrides`` (older ones) has none."""
    overrides = rec.overrides if rec.overrides is not None else {}
    if not isinstance(overrides, dict):
        raise RecordError(f"{source}: field 'overrides' must be dict, not "
                          f"{type(overrides).__name__}")
    return problem_key(rec.size, overrides)


def _record_cores(rec: records.RunRecord, source: str) -> int:
    for name in ("ranks", "threads_per_rank"):
        if getattr(rec, name) < 1:
            raise RecordError(f"{source}: field {name!r} is {getattr(rec, name)}; must be >= 1")
    cores = rec.ranks * rec.threads_per_rank
    if cores >= MAX_CORES:
        raise RecordError(f"{source}: ranks x threads_per_rank is {cores} cores; it must be "
                          "below 2^53")
    return cores


#: provenance fields that name the code a run was made with
CODE_FIELDS = ("git_sha", "harness", "python", "numba", "numpy", "mpi4py")


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def machine(prov: Mapping[str, Any]) -> str:
    """A record's machine identity: CPU model, CPUs per node and MPI library ("" if unknown)."""
    parts = [str(prov.get("cpu_model") or "").strip()]
    if prov.get("cpus_per_node"):
        parts.append(f"{prov['cpus_per_node']} CPUs per node")
    library = str(prov.get("mpi_library") or "").strip()
    parts.append(" ".join(library.splitlines()[0].split()) if library else "")
    return "; ".join(p for p in parts if p)


def _record_rows(rec: records.RunRecord, source: str, run: int) -> list[dict[str, Any]]:
    prov = rec.provenance if isinstance(rec.provenance, dict) else {}
    base: dict[str, Any] = {
        "workload": rec.workload, "mode": rec.mode, "variant": rec.variant, "size": rec.size,
        "problem": _record_problem(rec, source), "machine": machine(prov),
        "cores": _record_cores(rec, source), "run": run, "source": source,
        "run_id": rec.run_id, "host": str(prov.get("host") or ""),
        "code": _canonical({k: prov.get(k) for k in CODE_FIELDS}),
        "work": _canonical(rec.fixed_work) if rec.fixed_work else "",
        "nodes": rec.nodes,
    }
    for name, stats in rec.phases.items():
        base[PHASE + name] = float(stats["mean"])
        base[PHASE_MAX + name] = float(stats["max"])
    return [{**base, "seconds": float(s)} for s in rec.seconds]


def _read_record(path: Path, in_directory: bool) -> records.RunRecord | str | None:
    """A validated record; for a JSON file in a directory that is not a run record, the string
    ``"analysis"`` for the harness's own documents that are not runs (an analysis, a
    prediction, a probe record: skipped) or None (listed as excluded)."""
    if not in_directory:
        return records.load(path)
    data = records.read_json(path)
    schema = data.get("schema") if isinstance(data, dict) else None
    if isinstance(schema, str) and schema.startswith(NOT_RUNS):
        return "analysis"
    if not (isinstance(schema, str) and schema.startswith("harness.run")):
        return None
    return records.from_json(data, str(path))


def _expand(paths: Iterable[str | os.PathLike[str]]) -> list[tuple[Path, str, bool]]:
    """(file, kind, found in a directory) for every input; kind is 'csv' or 'record'.

    A file reached twice (named twice, or inside two given directories) is read once: counting
    it twice would pool a run with itself and inflate the repetitions.
    """
    files: list[tuple[Path, str, bool]] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = records.find([p])
            if not found:
                raise DataError(f"{p}: no run records (*.json) under this directory")
            files.extend((f, "record", True) for f in found)
        elif not p.exists():
            raise DataError(f"{p}: no such file or directory")
        elif p.suffix.lower() == ".csv":
            files.append((p, "csv", False))
        elif p.suffix.lower() == ".json":
            files.append((p, "record", False))
        else:
            raise DataError(f"{p}: expected a directory of run records, a .json run record "
                            "or a .csv file")
    seen: set[Path] = set()
    unique = []
    for entry in files:
        resolved = entry[0].resolve()
        if resolved not in seen:
            seen.add(resolved)
            unique.append(entry)
    return unique


#: the record-only columns (empty for CSV rows)
RECORD_COLUMNS = ("run_id", "host", "code", "work")


def _as_keys(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ("machine", *RECORD_COLUMNS):
        frame[column] = frame[column].fillna("").astype(str) if column in frame else ""
    for key in KEYS:
        if not isinstance(frame[key].dtype, pd.CategoricalDtype):
            frame[key] = frame[key].astype(str).astype("category")
    frame["cores"] = frame["cores"].astype(np.int64)
    frame["run"] = frame["run"].astype(np.int64)
    phases = sorted(c for c in frame.columns if c.startswith(PHASE))
    maxima = sorted(c for c in frame.columns if c.startswith(PHASE_MAX))
    frame["nodes"] = (pd.to_numeric(frame["nodes"], errors="coerce") if "nodes" in frame
                      else np.nan)
    return frame[[*KEYS, "cores", "seconds", "run", "source", *RECORD_COLUMNS, "nodes", *phases,
                  *maxima]]


class _RecordRows:
    """The repetitions of run records, each run id once, and the inputs left out (in order)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.excluded: list[dict[str, Any]] = []
        self._seen: dict[str, tuple[str, records.RunRecord]] = {}

    def add(self, rec: records.RunRecord, source: str, run: int) -> bool:
        """Add the repetitions of ``rec`` as run number ``run``; False when it is left out (a
        copy of a run already read, or a run that did not run cleanly).

        Raises
        ------
        DataError
            When a run id already read holds different content.
        RecordError
            When the record's overrides, ranks or threads cannot name a problem and cores.
        """
        if rec.run_id in self._seen:
            first, first_rec = self._seen[rec.run_id]
            # compared only on a repeated id: a record's canonical JSON is not free
            if first_rec is not rec and _canonical(first_rec.to_dict()) != _canonical(
                    rec.to_dict()):
                raise DataError(f"{source} and {first} both hold run id {rec.run_id!r} with "
                                "different content; a run id names one run: remove or "
                                "rename the wrong one")
            self.excluded.append(_excluded(source, f"the same run as {first} (run id "
                                                   f"{rec.run_id}): counted once", rec))
            return False
        self._seen[rec.run_id] = (source, rec)
        reason = _exclusion_reason(rec)
        if reason is not None:
            self.excluded.append(_excluded(source, reason, rec))
            return False
        self.rows.extend(_record_rows(rec, source, run))
        return True


def _inputs(frames: list[pd.DataFrame], collected: _RecordRows) -> Inputs:
    """The repetitions of ``frames`` (CSV files) and ``collected``, and the excluded inputs.

    Raises
    ------
    DataError
        When nothing is left to analyze.
    """
    if collected.rows:
        frames = [*frames, pd.DataFrame(collected.rows)]
    excluded = collected.excluded
    excluded_frame = pd.DataFrame(excluded, columns=list(EXCLUDED_COLUMNS))
    if not frames:
        if excluded:
            first = excluded[0]
            raise DataError(f"nothing to analyze: all {len(excluded)} inputs were excluded "
                            f"(first: {first['source']}: {first['reason']})")
        raise DataError("nothing to analyze: no repetitions in the inputs")
    if len(frames) == 1:
        repetitions = frames[0]
    else:
        for frame in frames:  # categoricals of different files concatenate as plain strings
            for key in (*KEYS, "source"):
                if key in frame:
                    frame[key] = frame[key].astype(str)
        repetitions = pd.concat(frames, ignore_index=True, sort=False)
    return Inputs(_as_keys(repetitions), excluded_frame)


def load(paths: Iterable[str | os.PathLike[str]], strict: bool = False) -> Inputs:
    """Read every input into one frame of repetitions plus the excluded inputs.

    Parameters
    ----------
    paths
        Directories of run records (searched recursively; JSON files there that are not run
        records are listed as excluded), ``.json`` run records and ``.csv`` timing files.
    strict
        Raise on a run record in a directory that does not validate (truncated, newer schema)
        instead of skipping it with a warning on stderr and listing it as excluded.

    Raises
    ------
    DataError
        A path that does not exist or is of an unknown kind, a directory without records, a bad
        CSV (see :func:`harness.timingcsv.read_csv`), or nothing left to analyze.
    RecordError
        A run record named on the command line that does not validate, or, with ``strict``,
        any run record that does not validate.
    """
    files = _expand(paths)
    if not files:
        raise DataError("no inputs given; pass directories of run records or CSV files")
    frames: list[pd.DataFrame] = []
    collected = _RecordRows()
    run = 0
    for path, kind, in_directory in files:
        if kind == "csv":
            frame = read_csv(path, first_run=run)
            run = int(frame["run"].max()) + 1
            frames.append(frame)
            continue
        try:
            rec = _read_record(path, in_directory)
            if isinstance(rec, str):
                continue
            if rec is None:
                collected.excluded.append(
                    _excluded(str(path), "not a run record (no harness.run schema)"))
                continue
            added = collected.add(rec, str(path), run)
        except RecordError as e:
            # one truncated or newer-schema record in a directory must not sink the rest
            if strict or not in_directory:
                raise
            sys.stderr.write(f"harness: warning: skipped {e} (--strict to stop instead)\n")
            collected.excluded.append(_excluded(str(path), f"unreadable run record: {e}"))
            continue
        if added:
            run += 1
    return _inputs(frames, collected)


def from_records(recs: Iterable[tuple[records.RunRecord, str]]) -> Inputs:
    """The analyzer's input from run records already read and validated, as :func:`load` reads
    run records named one by one, without reading or validating them again.

    Parameters
    ----------
    recs
        ``(record, source)`` pairs in input order: each record as :func:`records.validate`
        returns it, for JSON that the caller has also checked with
        :func:`harness.record_schema.validate`; ``source`` names it in the ``source`` column
        and in messages (its file, usually).

    Raises
    ------
    DataError
        A run id that appears twice with different content, or nothing left to analyze (every
        record failed, is unverified, oversubscribed, contended or compiled while timed).
    RecordError
        A record whose overrides are not a mapping, or whose ranks x threads per rank is not
        a core count from 1 to 2^53.
    """
    collected = _RecordRows()
    run = 0
    for rec, source in recs:
        if collected.add(rec, source, run):
            run += 1
    return _inputs([], collected)
