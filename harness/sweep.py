"""Sweeps: the sweep directory's bookkeeping, and the local backend that runs points one by one.

A sweep lives in ``<out>/<sweep_id>/``: one run record per run (written by ``harness run``) and
a ``sweep.json`` that says which spec and points it holds (on Slurm, which jobs went out; run
locally, the ``progress``), rewritten atomically after every change and before and after every
local run, so even a sweep killed outright shows how far it got. The local backend runs each
point as ``python -m harness run ... --ranks N`` (which starts ``mpiexec`` itself), with
progress on stderr and a summary table at the end. A finished run's record is on disk before
the next one starts; Ctrl-C or SIGTERM stops the run in progress (``harness run``, its
``mpiexec`` and ranks) and marks the sweep ``interrupted``. ``--resume`` counts the ``ok``
records per point against the repetitions the spec asks for and runs only what is missing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from harness import atomic, provenance, records, sweeplock
from harness.errors import BadInputError, RecordError
from harness.launch.command import run_command
from harness.launch.local import (
    Terminated,
    child_env,
    die_with_parent,
    raise_terminated,
    stop_group,
)
from harness.specs import Point, Spec

SWEEP_SCHEMA = "harness.sweep/1"
STATE_FILE = "sweep.json"
NOT_RECORDS = {STATE_FILE, "analysis.json"}
#: seconds past the run's own time limit before the sweep kills a run that did not stop itself
KILL_GRACE = 30


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
    sweep_dir = out / sweep_id
    points = [p.to_dict() for p in spec.points]
    if (sweep_dir / STATE_FILE).exists():
        if not resume:
            raise BadInputError(f"{sweep_dir} already holds a sweep; pass --resume to complete "
                                "it, or choose another --sweep-id or --out")
        state = read_state(sweep_dir)
        if state.get("spec", {}).get("name") != spec.name or state.get("points") != points:
            raise BadInputError(f"{sweep_dir}: the spec {spec.path} changed since this sweep "
                                "began; start a new sweep")
        if state.get("backend") != backend and not state.get("dry_run"):
            raise BadInputError(f"{sweep_dir} is a {state.get('backend')} sweep; resume it "
                                f"with --{state.get('backend')}")
        state["backend"] = backend
        return sweep_dir, state
    state = {
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
        "repetitions": spec.repetitions,
        "points": points,
        "expected_records": sum(p.repetitions for p in spec.points),
        "jobs": [],
        "state": "new",
    }
    return sweep_dir, state


def _same_case(point: dict[str, Any], rec: records.RunRecord) -> bool:
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
        mine = [r for r in recs if _same_case(point, r)]
        rows.append({
            "point": point,
            "ok": sum(r.status == "ok" for r in mine),
            "failed": sum(r.status != "ok" for r in mine),
            "expected": point["repetitions"],
            "seconds": [statistics.median(r.seconds) for r in mine
                        if r.status == "ok" and r.seconds],
            "errors": [r.error for r in mine if r.status != "ok" and r.error],
        })
    return rows


# -- the local backend -------------------------------------------------------------------------


@contextmanager
def _sigterm_unwinds() -> Iterator[Callable[[], None]]:
    """Inside, SIGTERM raises :class:`Terminated` (main thread only: nowhere else can Python
    install handlers); yields a function that ignores SIGTERM for the final bookkeeping."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: None
        return
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        yield lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN)
    finally:
        signal.signal(signal.SIGTERM, previous)


@dataclass
class LocalResult:
    """What a local sweep did: its directory, runs attempted now, and those that did not pass."""

    sweep_dir: Path
    ran: int
    failed: int
    skipped: int
    interrupted: bool = False


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


def run_point(point: Point, out: Path, sweep_id: str) -> records.RunRecord:
    """Run one repetition of ``point`` through ``harness run`` and return its record.

    Raises
    ------
    BadInputError
        When ``harness run`` refuses its input (exit 2); the sweep stops there.
    """
    run_id = f"{point.key}-{uuid.uuid4().hex[:8]}"
    env = child_env(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    argv = run_command(point, out, sweep_id, run_id, time_limit=point.time_limit)
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True,
                            preexec_fn=die_with_parent)
    try:
        stdout, stderr = proc.communicate(timeout=point.time_limit + KILL_GRACE)
    except subprocess.TimeoutExpired:
        stop_group(proc, signal.SIGTERM, grace=10)
        stdout, stderr = "", ""
        if records.exists(out, sweep_id, run_id) is None:
            return fallback_record(point.to_dict(), out, sweep_id, run_id,
                                    f"timeout after {point.time_limit} s (killed by the sweep)")
    except BaseException as e:  # Ctrl-C, SIGTERM or a crash: stop the run, keep what is on disk
        # SIGTERM, not SIGINT: a child started from a script or nohup ignores SIGINT; harness
        # run stops its mpiexec and ranks on SIGTERM and writes an interrupted record
        stop_group(proc, signal.SIGTERM, grace=10)
        if records.exists(out, sweep_id, run_id) is None:
            why = "SIGTERM" if isinstance(e, Terminated) else (
                "SIGINT" if isinstance(e, KeyboardInterrupt) else type(e).__name__)
            with contextlib.suppress(RecordError, OSError):
                fallback_record(point.to_dict(), out, sweep_id, run_id,
                                f"interrupted ({why}): the sweep was stopped during this run")
        raise
    finally:  # whatever ended the run, its scratch files go (``harness run`` may be dead)
        shutil.rmtree(out / sweep_id / ".work" / run_id, ignore_errors=True)
    if proc.returncode == 2:
        lines = [x for x in stderr.strip().splitlines() if x.strip()]
        why = lines[-1].removeprefix("harness: error: ") if lines else "exit 2"
        raise BadInputError(f"harness run refused {point.label}: {why}")
    path = records.exists(out, sweep_id, run_id)
    if path is not None:
        return records.load(path)
    lines = [x for x in (stderr or stdout).strip().splitlines() if x.strip()]
    why = lines[-1].removeprefix("harness: error: ") if lines else f"exit status {proc.returncode}"
    return fallback_record(point.to_dict(), out, sweep_id, run_id, f"run left no record: {why}")


def _plan(spec: Spec, state: dict[str, Any], sweep_dir: Path,
          resume: bool) -> tuple[list[Point], int]:
    done = {row["point"]["key"]: row["ok"] for row in tally(state, sweep_dir)} if resume else {}
    todo: list[Point] = []
    skipped = 0
    for point in spec.points:
        have = min(done.get(point.key, 0), point.repetitions)
        skipped += have
        todo += [point] * (point.repetitions - have)
    return todo, skipped


def summary_table(state: dict[str, Any], sweep_dir: Path) -> Table:
    """A table of every point: runs ok / expected, failures, median seconds, status."""
    table = Table(title=f"sweep {state['sweep_id']}", title_justify="left")
    for col, justify in (("point", "left"), ("ranks", "right"), ("ok", "right"),
                         ("failed", "right"), ("median s", "right"), ("status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in tally(state, sweep_dir):
        p = row["point"]
        med = f"{statistics.median(row['seconds']):.4g}" if row["seconds"] else "-"
        status = ("done" if row["ok"] >= row["expected"]
                  else "failed" if row["failed"] else "missing")
        name = f"{p['workload']}/{p['variant']} {p['mode']} {p['size']}"
        name += "".join(f" {k}={v}" for k, v in sorted(p["params"].items()))
        table.add_row(name, str(p["ranks"]), f"{row['ok']}/{row['expected']}",
                      str(row["failed"]), med, status)
    return table


def run_local(spec: Spec, out: str | os.PathLike[str], sweep_id: str | None = None,
              resume: bool = False, console: Console | None = None) -> LocalResult:
    """Run every point of ``spec`` here, one ``harness run`` after another.

    Progress (points done/total, current point, elapsed, ETA) goes to stderr; the summary
    table to ``console`` (stdout by default). ``sweep.json`` is rewritten before and after
    every run; its ``progress`` counts the runs planned, ran and failed and names the point
    running.

    Raises
    ------
    BadInputError
        When the sweep directory cannot be used (another process is writing it: see
        :mod:`harness.sweeplock`) or a run refuses its input.
    KeyboardInterrupt
        On Ctrl-C (:class:`Terminated` on SIGTERM), after stopping the run in progress and
        marking the sweep ``interrupted``; finished records stay on disk.
    """
    out_dir = Path(out).resolve()
    sweep_dir, _ = open_sweep(spec, out_dir, sweep_id, resume, "local")
    with sweeplock.hold(sweep_dir):  # one writer; read the state again under the lock
        _, state = open_sweep(spec, out_dir, sweep_dir.name, resume, "local")
        return _run_locked(spec, sweep_dir, state, out_dir, resume, console)


def _run_locked(spec: Spec, sweep_dir: Path, state: dict[str, Any], out_dir: Path,
                resume: bool, console: Console | None) -> LocalResult:
    todo, skipped = _plan(spec, state, sweep_dir, resume)
    console = console or Console()
    result = LocalResult(sweep_dir=sweep_dir, ran=0, failed=0, skipped=skipped)
    state.pop("interrupted_by", None)
    state.update(state="running", progress={"planned": len(todo), "ran": 0, "failed": 0,
                                            "skipped": skipped, "current": None})
    write_state(sweep_dir, state)
    with _sigterm_unwinds() as hold_sigterm:
        try:
            _run_all(todo, out_dir, sweep_dir, state, result)
            state["state"] = "finished"
        except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM as Terminated
            state["state"] = "interrupted"
            state["interrupted_by"] = "SIGTERM" if isinstance(e, Terminated) else "SIGINT"
            result.interrupted = True
            raise
        except BaseException:
            state["state"] = "crashed"
            raise
        finally:
            hold_sigterm()  # a SIGTERM now must not cut the bookkeeping short
            state["progress"]["current"] = None
            write_state(sweep_dir, state)
            console.print(summary_table(state, sweep_dir))
            console.print(f"records in {sweep_dir}")
    return result


def _run_all(todo: list[Point], out: Path, sweep_dir: Path, state: dict[str, Any],
             result: LocalResult) -> None:
    """The loop of :func:`run_local`: each run, its progress line, ``sweep.json`` around it."""
    sweep_id, counts = state["sweep_id"], state["progress"]
    stderr = Console(stderr=True)
    if result.skipped:
        stderr.print(f"resume {sweep_id}: {result.skipped} run(s) already ok, {len(todo)} to go")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=stderr) as progress:
        task = progress.add_task("starting", total=len(todo))
        for point in todo:
            progress.update(task, description=point.label)
            counts["current"] = point.key
            write_state(sweep_dir, state)
            rec = run_point(point, out, sweep_id)
            result.ran += 1
            result.failed += rec.status != "ok"
            counts.update(ran=result.ran, failed=result.failed, current=None)
            write_state(sweep_dir, state)
            secs = f" {statistics.median(rec.seconds):.4g} s" if rec.seconds else ""
            note = f" ({rec.error.splitlines()[0]})" if rec.error else ""
            progress.console.print(f"[{result.ran}/{len(todo)}] {point.label}: "
                                   f"{rec.status}{secs}{note}", markup=False, highlight=False)
            progress.advance(task)
