"""Reading the records a push, ``harness compare`` or the report's history is given: every file
read and validated once, grouped by sweep.

Each file is read, parsed and checked (:func:`harness.records.from_json`: the harness's own
checks and the record's JSON Schema) and its bytes digested (:func:`prepared.record_digest`).
One process reads them all: handing a parsed record from another process costs more (pickling
its dict, about 60 us) than reading, parsing and checking it here (about 90 us).
"""

from __future__ import annotations

import gc
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from harness import analysis, records
from harness.errors import DataError
from harness.store import prepared


@dataclass
class SweepInput:
    """One sweep's records as found on disk, with their analysis."""

    sweep_id: str
    records: list[records.RunRecord] = field(default_factory=list)
    paths: list[Path] = field(default_factory=list)
    #: each record's JSON as read, stored whole (with any fields this harness does not know)
    raw: list[dict] = field(default_factory=list)
    #: run id -> SHA-256 of the record file's bytes (:func:`prepared.record_digest`)
    digests: dict[str, str] = field(default_factory=dict)
    spec_name: str | None = None
    result: analysis.Analysis | None = None
    #: the directories its records are in, in the order first found
    directories: list[Path] = field(default_factory=list)
    #: the sweep's ``kpi.json`` rows, when they stand for the analysis of exactly these records
    prepared: prepared.Prepared | None = None


def _read(path: Path, in_directory: bool) -> tuple[records.RunRecord, dict, str] | None:
    """The validated record, its JSON as read and the digest of its bytes; None for a JSON
    document in a directory that is not a run record (sweep.json, analysis.json and the like).

    Raises
    ------
    DataError
        A file that is not ``.json``.
    RecordError
        A record that cannot be read, is not JSON, or fails :func:`records.validate` or the
        record's JSON Schema.
    """
    if path.suffix.lower() != ".json":
        why = ("; CSV timings carry no sweep or run id" if path.suffix.lower() == ".csv"
               else "")
        raise DataError(f"{path}: not a run record: the KPI store reads run records (.json) "
                        f"and directories of them{why}")
    data, raw = records.read_json_bytes(path)
    schema = data.get("schema") if isinstance(data, dict) else None
    if in_directory and not (isinstance(schema, str) and schema.startswith("harness.run")):
        return None
    return records.from_json(data, str(path)), data, prepared.record_digest(raw)


def _spec_name(directory: Path) -> str | None:
    try:
        state = json.loads((directory / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    spec = state.get("spec") if isinstance(state, dict) else None
    if isinstance(spec, dict):
        spec = spec.get("name")
    return str(spec)[:255] if spec else None


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector off for the block (as it was before, after it)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def collect(paths: Iterable[str | os.PathLike[str]]) -> list[SweepInput]:
    """Read the records under ``paths`` and group them by sweep id (sorted).

    Python's cyclic garbage collector is paused meanwhile: records are many small containers
    without cycles, and each of its collections walks every object alive (a third of the
    time of reading 100,000 records here).

    Raises
    ------
    DataError
        A path that does not exist, a file that is not a run record, no records at all, or a
        run id that appears twice with different contents.
    """
    with _collector_paused():
        return _collect(paths)


def _collect(paths: Iterable[str | os.PathLike[str]]) -> list[SweepInput]:
    sweeps_found: dict[str, SweepInput] = {}
    seen: dict[str, tuple[Path, records.RunRecord]] = {}
    spec_names: dict[Path, str | None] = {}
    files: list[tuple[Path, bool]] = []
    for given in map(Path, paths):
        if not given.exists():
            raise DataError(f"{given}: no such file or directory")
        in_directory = given.is_dir()
        files.extend((path, in_directory) for path in records.find([given]))
    for path, in_directory in files:
        read = _read(path, in_directory)
        if read is None:
            continue
        rec, data, digest = read
        if rec.run_id in seen:
            first, first_rec = seen[rec.run_id]
            if first.resolve() != path.resolve() and first_rec.to_dict() != rec.to_dict():
                raise DataError(f"{path}: run id {rec.run_id} is also in {first} with "
                                "other contents")
            continue
        seen[rec.run_id] = (path, rec)
        entry = sweeps_found.setdefault(rec.sweep_id, SweepInput(rec.sweep_id))
        entry.records.append(rec)
        entry.paths.append(path)
        entry.raw.append(data)
        entry.digests[rec.run_id] = digest
        parent = path.parent
        if parent not in entry.directories:  # one or a few per sweep
            entry.directories.append(parent)
        if entry.spec_name is None:
            if parent not in spec_names:  # one sweep.json read per directory
                spec_names[parent] = _spec_name(parent)
            entry.spec_name = spec_names[parent]
    if not sweeps_found:
        shown = ", ".join(map(str, paths))
        raise DataError(f"{shown}: no run records found")
    return [sweeps_found[k] for k in sorted(sweeps_found)]


