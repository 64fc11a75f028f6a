"""A sweep's KPI rows prepared where the sweep ends, so that pushing it is a store operation.

Analyzing a sweep (the model fits and their cross-validation: about 0.4 s for ten scaling
studies here) costs far more than storing it. The sweep's own analysis step (the Slurm analysis
job, ``harness sweep --push``, or ``harness kpi prepare`` for sweeps already on disk) writes
``kpi.json`` beside the records: per sweep whose records start in that directory, the ``kpi``
and ``alerts`` rows of its analysis (:func:`harness.store.rows.kpi_rows`,
:func:`~harness.store.rows.alert_rows`) with what they were computed from. ``harness kpi
push`` uses those rows instead of analyzing again only when they are exactly what it would
compute:

- the same sweep, and the same runs: every record's run id and the SHA-256 of its file's bytes
  (a record changed, added or removed since makes the document stale);
- the same target table (:meth:`harness.targets.Targets.to_dict`);
- the rows as written: their digest (:func:`rows_digest`) is in the document, and each row has
  the columns of its table and names the sweep;
- the same code: :func:`code_digest`, a SHA-256 over every source file of the ``harness``
  package, the versions of Python, NumPy, SciPy and pandas and the processor architecture (any
  change to the analyzer, or to anything else in the harness, makes every prepared document
  stale). The rows are those of an analysis where the sweep ended: on a processor of another
  model the model fits could differ in their last bits.

Anything else (no document, a stale one, one that cannot be read) and the push analyzes the
records itself, as it always did; the reason is available to say why
(:attr:`Prepared.reason`). The document is ``harness.kpi/1``; readers of runs skip it
(:data:`harness.documents.NOT_RUNS`).
"""

from __future__ import annotations

import functools
import hashlib
import platform
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa

from harness import atomic, documents
from harness.store import schema
from harness.targets import Targets

#: the prepared document's file name, in the sweep's directory
FILENAME = "kpi.json"
SCHEMA = documents.KPI_SCHEMA


def source_digest(root: Path) -> str:
    """SHA-256 (hex) over every ``.py`` and ``.json`` file under ``root`` (outside
    ``__pycache__``): each one's path relative to ``root`` and its bytes, in path order."""
    h = hashlib.sha256()
    for path in sorted((p for p in root.rglob("*") if p.suffix in (".py", ".json")
                        and "__pycache__" not in p.parts), key=lambda p: p.parts):
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


@functools.lru_cache(maxsize=1)
def code_digest() -> str:
    """SHA-256 (hex) over the harness package's source (:func:`source_digest`), the NumPy,
    SciPy, pandas and Python versions the analyzer runs on and the processor architecture."""
    import numpy
    import pandas
    import scipy

    import harness

    h = hashlib.sha256(source_digest(Path(harness.__file__).resolve().parent).encode())
    for module in (numpy, scipy, pandas):
        h.update(f"\0{module.__name__}={module.__version__}".encode())
    h.update(f"\0python={sys.version}\0machine={platform.machine()}".encode())
    return h.hexdigest()


def record_digest(raw: bytes) -> str:
    """SHA-256 (hex) of a record file's bytes."""
    return hashlib.sha256(raw).hexdigest()


def document(sweeps: list[tuple[str, dict[str, str], list[dict[str, Any]],
                              list[dict[str, Any]]]], table: Targets) -> dict[str, Any]:
    """The ``harness.kpi/1`` document of the sweeps of one directory: per sweep, its rows and
    what they were computed from. ``sweeps``: ``(sweep_id, digests, kpi_rows, alert_rows)``,
    ``digests`` mapping each analyzed record's run id to its :func:`record_digest`."""
    return {"schema": SCHEMA, "code": code_digest(), "targets": table.to_dict(),
            "sweeps": {sweep_id: {"runs": dict(sorted(digests.items())), "kpi": kpi_rows,
                                  "alerts": alert_rows, "rows": rows_digest(kpi_rows, alert_rows)}
                       for sweep_id, digests, kpi_rows, alert_rows in sweeps}}


def rows_digest(kpi_rows: list[dict[str, Any]], alert_rows: list[dict[str, Any]]) -> str:
    """SHA-256 (hex) of a sweep's rows in canonical JSON (keys sorted): a document whose rows
    were edited after it was written is not used."""
    canonical = orjson.dumps({"kpi": kpi_rows, "alerts": alert_rows},
                             option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()


def _rows_fit(rows: Any, table: sa.Table, sweep_id: str) -> bool:
    """Rows of ``table`` for ``sweep_id``: dicts with one set of keys, all columns of it."""
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        return False
    if not rows:
        return True
    keys = rows[0].keys()
    return (keys <= set(table.c.keys()) and all(r.keys() == keys for r in rows)
            and all(r.get("sweep_id") == sweep_id for r in rows))


def write(directory: Path, doc: dict[str, Any]) -> Path:
    """Write ``doc`` to ``directory/kpi.json`` atomically (replacing an older one).

    Raises
    ------
    OSError
        The directory cannot be written.
    """
    return atomic.write_json(directory / FILENAME, doc, replace=True)


@dataclass
class Prepared:
    """What :func:`find` made of a sweep's ``kpi.json``: its rows when they can be used, else
    None and the reason."""

    kpi: list[dict[str, Any]] | None
    alerts: list[dict[str, Any]] | None
    reason: str

    @property
    def usable(self) -> bool:
        return self.kpi is not None and self.alerts is not None


def _stale(doc: Any, sweep_id: str, digests: dict[str, str], table: Targets) -> str | None:
    """Why ``doc`` cannot stand for this sweep's analysis, or None when it can."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        return f"not a {SCHEMA} document"
    if doc.get("code") != code_digest():
        return ("prepared by other code (the harness, its Python, NumPy, SciPy or pandas, or "
                "the processor architecture differ)")
    if doc.get("targets") != table.to_dict():
        return "prepared against other targets"
    sweeps = doc.get("sweeps")
    entry = sweeps.get(sweep_id) if isinstance(sweeps, dict) else None
    if not isinstance(entry, dict):
        return f"holds no rows of sweep {sweep_id}"
    if entry.get("runs") != digests:
        return "the sweep's records changed since (runs added, removed or rewritten)"
    kpi, alerts = entry.get("kpi"), entry.get("alerts")
    if not (_rows_fit(kpi, schema.kpi, sweep_id) and _rows_fit(alerts, schema.alerts, sweep_id)):
        return "its kpi and alerts are not rows of those tables for this sweep"
    if entry.get("rows") != rows_digest(kpi, alerts):
        return "its rows were edited after it was written"
    return None


def find(directories: list[Path], sweep_id: str, digests: dict[str, str],
         table: Targets) -> Prepared:
    """The prepared rows of sweep ``sweep_id`` from a ``kpi.json`` among ``directories``
    (where its records are), when they were computed from exactly the records ``digests``
    describes (run id -> :func:`record_digest`), with ``table`` and this code; else why not
    (the first directory's reason)."""
    reasons = []
    for directory in directories:
        path = directory / FILENAME
        try:
            doc = orjson.loads(path.read_bytes())
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as e:
            reasons.append(f"{path}: cannot be read ({e})")
            continue
        why = _stale(doc, sweep_id, digests, table)
        if why is None:
            entry = doc["sweeps"][sweep_id]
            return Prepared(entry["kpi"], entry["alerts"], f"{path}: prepared rows used")
        reasons.append(f"{path}: {why}")
    return Prepared(None, None, reasons[0] if reasons else "no kpi.json beside the records")
