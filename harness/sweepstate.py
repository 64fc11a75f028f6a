"""A sweep directory's state: ``sweep.json``, its records, what is done and what is left.

A sweep lives in ``<out>/<sweep_id>/``: one run record per run (written by ``harness run``, or
by :func:`fallback_record` for a run that ended without one) and a ``sweep.json`` that says
which spec and points it holds (on Slurm, which jobs went out; run locally, the ``progress``),
rewritten atomically (:func:`write_state`). Both backends open a sweep here
(:func:`open_sweep`: new, or reopened by ``--resume`` when the spec is unchanged); ``--resume``
counts the ``ok`` records per point against the runs the spec asks for (:func:`tally`,
:func:`runs_to_do`). Running the points is the backends' job: :mod:`harness.sweep` here,
:mod:`harness.launch.slurm` on a cluster.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import atomic, provenance, records
from harness.errors import BadInputError, RecordError
from harness.specs import Point, Spec

SWEEP_SCHEMA = "harness.sweep/1"
STATE_FILE = "sweep.json"
NOT_RECORDS = {*records.NOT_RECORDS, STATE_FILE, "analysis.json"}


# -- the sweep directory -----------------------------------------------------------------------


def write_state(sweep_dir: Path, state: dict[str, Any]) -> None:
    """Write ``sweep.json`` atomically (:func:`harness.atomic.write_json`, replacing)."""
    state["updated_at"] = records.now_iso()
    atomic.write_json(sweep_dir / STATE_FILE, state, replace=True, prefix=".sweep-")


def read_state(sweep_dir: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``sweep.json`` of a sweep directory.

    Raises
    ------
    BadInputError
        When the directory holds no readable ``sweep.json``.
    """
    path = Path(sweep_dir) / STATE_FILE
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInputError(f"{sweep_dir}: not a sweep directory (no {STATE_FILE})") from None
    except (OSError, json.JSONDecodeError) as e:
        raise BadInputError(f"{path}: cannot read sweep state ({e})") from None
    if not isinstance(state, dict) or state.get("schema") != SWEEP_SCHEMA:
        raise BadInputError(f"{path}: not a {SWEEP_SCHEMA} file")
    return state


def _latest_sweep(out: Path, spec: Spec) -> str:
    found = []
    for state_file in out.glob(f"*/{STATE_FILE}"):
        try:
            state = json.loads(state_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(state, dict) and state.get("spec", {}).get("name") == spec.name:
            found.append((state.get("created_at", ""), state_file.parent.name))
    if not found:
        raise BadInputError(f"no earlier sweep of {spec.name!r} under {out}; nothing to resume")
    return max(found)[1]


def open_sweep(spec: Spec, out: str | os.PathLike[str], sweep_id: str | None, resume: bool,
               backend: str) -> tuple[Path, dict[str, Any]]:
    """Create or reopen the sweep directory and return it with its state.

    A new sweep gets the id ``<spec name>-<UTC time>``. ``resume`` reopens ``sweep_id`` (or the
    latest sweep of this spec under ``out``); its points must be the ones the spec gives now.

    Raises
    ------
    BadInputError
        When ``out`` is not writable, when a new sweep would reuse a directory that already
        holds one, when there is nothing to resume (``--resume --sweep-id`` of a sweep that
        does not exist), or when the spec changed since the sweep began.
    """
    out, sweep_id = _choose_id(spec, out, sweep_id, resume)
    sweep_dir = out / sweep_id
    if (sweep_dir / STATE_FILE).exists():
        return sweep_dir, _reopen(spec, sweep_dir, resume, backend)
    return sweep_dir, _new_state(spec, out, sweep_id, backend)


def _choose_id(spec: Spec, out: str | os.PathLike[str], sweep_id: str | None,
               resume: bool) -> tuple[Path, str]:
    """The writable ``out`` and the sweep's id: the one given, the latest sweep of the spec
    (``resume``), or a new ``<spec name>-<UTC time>[-n]``."""
    if sweep_id is not None:
        try:
            records.check_id("sweep id", sweep_id)
        except RecordError as e:
            raise BadInputError(str(e)) from None
    if resume and sweep_id is not None and not (Path(out) / sweep_id / STATE_FILE).is_file():
        raise BadInputError(f"--resume: no sweep {sweep_id!r} under {out} (no "
                            f"{sweep_id}/{STATE_FILE}); drop --resume to start it")
    out = records.check_writable(out)
    if sweep_id is None and resume:
        sweep_id = _latest_sweep(out, spec)
    if sweep_id is None:
        base = f"{spec.name}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}"
        sweep_id, n = base, 1
        while (out / sweep_id).exists():
            n += 1
            sweep_id = f"{base}-{n}"
    try:
        records.check_id("sweep id", sweep_id)
    except RecordError as e:
        raise BadInputError(str(e)) from None
    return out, sweep_id


def _reopen(spec: Spec, sweep_dir: Path, resume: bool, backend: str) -> dict[str, Any]:
    """The state of the sweep already in ``sweep_dir``, when ``resume`` asks for it and the
    spec and backend are the ones it began with."""
    if not resume:
        raise BadInputError(f"{sweep_dir} already holds a sweep; pass --resume to complete "
                            "it, or choose another --sweep-id or --out")
    state = read_state(sweep_dir)
    points = [p.to_dict() for p in spec.points]
    if state.get("spec", {}).get("name") != spec.name or state.get("points") != points:
        raise BadInputError(f"{sweep_dir}: the spec {spec.path} changed since this sweep "
                            "began; start a new sweep")
    if state.get("backend") != backend and not state.get("dry_run"):
        raise BadInputError(f"{sweep_dir} is a {state.get('backend')} sweep; resume it "
                            f"with --{state.get('backend')}")
    state["backend"] = backend
    return state


def _new_state(spec: Spec, out: Path, sweep_id: str, backend: str) -> dict[str, Any]:
    """The ``sweep.json`` of a new sweep (not yet written)."""
    return {
        "schema": SWEEP_SCHEMA,
        "sweep_id": sweep_id,
        "spec": {"name": spec.name, "path": str(Path(spec.path).resolve()),
                 "description": spec.description},
        "backend": backend,
        "out": str(out),
        "created_at": records.now_iso(),
        "host": socket.gethostname(),
        "cores": list(spec.cores),
        "baseline_cores": spec.baseline_cores,
        "repetitions": spec.runs,  # runs per point: the key harness.sweep/1 has always had
        "points": [p.to_dict() for p in spec.points],
        "expected_records": sum(p.runs for p in spec.points),
        "jobs": [],
        "state": "new",
    }


def _same_point(point: dict[str, Any], rec: records.RunRecord) -> bool:
    if (rec.workload, rec.variant, rec.mode, rec.size, rec.ranks) != (
            point["workload"], point["variant"], point["mode"], point["size"], point["ranks"]):
        return False
    # JSON round trip so 2 and 2.0 or tuples and lists compare as the record stores them
    resolved = json.loads(json.dumps(point["resolved"]))
    return all(rec.params.get(k) == v for k, v in resolved.items())


def sweep_records(sweep_dir: Path) -> tuple[list[records.RunRecord], int]:
    """The run records in a sweep directory, and how many JSON files failed to load."""
    found, unreadable = [], 0
    for path in sorted(sweep_dir.glob("*.json")):
        if path.name in NOT_RECORDS or path.name.startswith("."):
            continue
        try:
            found.append(records.load(path))
        except RecordError:
            unreadable += 1
    return found, unreadable


def tally(state: dict[str, Any], sweep_dir: Path) -> list[dict[str, Any]]:
    """Per point of ``state``: the records present by status, and the expected count."""
    recs, _ = sweep_records(sweep_dir)
    rows = []
    for point in state["points"]:
        mine = [r for r in recs if _same_point(point, r)]
        rows.append({
            "point": point,
            "ok": sum(r.status == "ok" for r in mine),
            "failed": sum(r.status != "ok" for r in mine),
            "expected": point["repetitions"],  # sweep.json's name for the runs per point
            "seconds": [statistics.median(r.seconds) for r in mine
                        if r.status == "ok" and r.seconds],
            "errors": [r.error for r in mine if r.status != "ok" and r.error],
        })
    return rows


def fallback_record(point: dict[str, Any], out: Path, sweep_id: str, run_id: str,
                    error: str) -> records.RunRecord:
    """Write a ``failed`` record for a run that ended without one, so nothing goes missing.

    ``point`` is a point as ``sweep.json`` stores it (:meth:`Point.to_dict`).
    """
    rec = records.failed(
        run_id=run_id, sweep_id=sweep_id, workload=point["workload"], variant=point["variant"],
        mode=point["mode"], size=point["size"], params=point["resolved"], ranks=point["ranks"],
        error=error, provenance=provenance.collect("", {"written_by": "harness sweep"}),
    )
    records.write(out, rec)
    return rec


def runs_to_do(spec: Spec, state: dict[str, Any], sweep_dir: Path,
               resume: bool) -> tuple[list[Point], int]:
    """The runs a sweep still has to make, one entry per run in spec order, and how many it
    skips: with ``resume``, every point's ``ok`` records (up to its runs) count as done."""
    done = {row["point"]["key"]: row["ok"] for row in tally(state, sweep_dir)} if resume else {}
    todo: list[Point] = []
    skipped = 0
    for point in spec.points:
        have = min(done.get(point.key, 0), point.runs)
        skipped += have
        todo += [point] * (point.runs - have)
    return todo, skipped
