"""The local backend of a sweep: run its points here, one ``harness run`` after another.

Each run of a point is ``python -m harness run ... --ranks N`` (which starts ``mpiexec``
itself). ``sweep.json`` (:mod:`harness.sweepstate`) is rewritten before and after every run, so
even a sweep killed outright shows how far it got, and a finished run's record is on disk before
the next one starts. Ctrl-C or SIGTERM stops the run in progress (``harness run``, its
``mpiexec`` and ranks) and marks the sweep ``interrupted``; ``--resume`` runs only what is
missing. Progress is reported to a :class:`SweepEvents` observer: the command line draws it
(``harness/cli/sweep.py``), a caller that passes none sees nothing.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import records, sweeplock, sweepstate
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
from harness.sweepstate import fallback_record

#: seconds past the run's own time limit before the sweep kills a run that did not stop itself
KILL_GRACE = 30


class SweepEvents:
    """What a local sweep tells whoever shows its progress, in this order: :meth:`started`,
    then per run :meth:`run_started` and :meth:`run_finished`, then :meth:`stopped` (however
    the runs ended) and :meth:`ended` (after ``sweep.json`` was written the last time). Every
    method here does nothing; a display overrides the ones it needs."""

    def started(self, sweep_id: str, runs: int, skipped: int) -> None:
        """Before the first run: ``runs`` runs to make now, ``skipped`` already ok (resume)."""

    def run_started(self, point: Point) -> None:
        """A run of ``point`` is about to start."""

    def run_finished(self, done: int, runs: int, point: Point,
                     record: records.RunRecord) -> None:
        """The ``done``-th of ``runs`` runs ended; ``record`` is on disk (status, seconds,
        error)."""

    def stopped(self) -> None:
        """No run is going on any more: all ran, or the sweep was interrupted or crashed."""

    def ended(self, state: dict[str, Any], sweep_dir: Path) -> None:
        """The sweep's final ``state`` (finished, interrupted or crashed) is in ``sweep_dir``."""


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


def run_local(spec: Spec, out: str | os.PathLike[str], sweep_id: str | None = None,
              resume: bool = False, events: SweepEvents | None = None) -> LocalResult:
    """Run every point of ``spec`` here, one ``harness run`` after another.

    ``events`` hears of the start, every run and the end (:class:`SweepEvents`; none: nothing
    is shown). ``sweep.json`` is rewritten before and after every run; its ``progress`` counts
    the runs planned, ran and failed and names the point running.

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
    sweep_dir, _ = sweepstate.open_sweep(spec, out_dir, sweep_id, resume, "local")
    with sweeplock.hold(sweep_dir):  # one writer; read the state again under the lock
        _, state = sweepstate.open_sweep(spec, out_dir, sweep_dir.name, resume, "local")
        return _run_locked(spec, sweep_dir, state, out_dir, resume, events or SweepEvents())


def _run_locked(spec: Spec, sweep_dir: Path, state: dict[str, Any], out_dir: Path,
                resume: bool, events: SweepEvents) -> LocalResult:
    todo, skipped = sweepstate.runs_to_do(spec, state, sweep_dir, resume)
    result = LocalResult(sweep_dir=sweep_dir, ran=0, failed=0, skipped=skipped)
    state.pop("interrupted_by", None)
    state.update(state="running", progress={"planned": len(todo), "ran": 0, "failed": 0,
                                            "skipped": skipped, "current": None})
    sweepstate.write_state(sweep_dir, state)
    with _sigterm_unwinds() as hold_sigterm:
        try:
            _run_all(todo, out_dir, sweep_dir, state, result, events)
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
            sweepstate.write_state(sweep_dir, state)
            events.ended(state, sweep_dir)
    return result


def _run_all(todo: list[Point], out: Path, sweep_dir: Path, state: dict[str, Any],
             result: LocalResult, events: SweepEvents) -> None:
    """The loop of :func:`run_local`: each run, its events, ``sweep.json`` around it."""
    sweep_id, counts = state["sweep_id"], state["progress"]
    events.started(sweep_id, len(todo), result.skipped)
    try:
        for point in todo:
            events.run_started(point)
            counts["current"] = point.key
            sweepstate.write_state(sweep_dir, state)
            rec = run_point(point, out, sweep_id)
            result.ran += 1
            result.failed += rec.status != "ok"
            counts.update(ran=result.ran, failed=result.failed, current=None)
            sweepstate.write_state(sweep_dir, state)
            events.run_finished(result.ran, len(todo), point, rec)
    finally:
        events.stopped()
