"""What the scale job script calls between runs: records for runs that ended without one.

``python -m harness.launch.jobscript ensure-record SWEEP_DIR POINT RUN_ID RC [REASON]`` writes a
``failed`` record for a run that ended without one (killed at its time limit, lost with its
launcher, cut by a signal); ``done-before SWEEP_DIR POINT JOB REP`` exits 0 when an earlier
attempt of this array task (a requeued job keeps its id) left an ``ok`` record for the point.
Never called by users.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness import records, sweepstate
from harness.errors import BadInputError


def _point(state: dict, sweep_dir: Path, point_key: str) -> dict:
    point = next((p for p in state["points"] if p["key"] == point_key), None)
    if point is None:
        raise BadInputError(f"{sweep_dir}: no point {point_key!r} in sweep.json")
    return point


def ensure_record(sweep_dir: str | Path, point_key: str, run_id: str, returncode: int,
                  reason: str | None = None) -> None:
    """Write a ``failed`` record for a run that ended without one: killed at its time limit
    (``returncode`` 124 or 137), lost with its launcher, or — with ``reason`` — stopped or never
    started because the job got a signal (time limit near, scancel, preemption)."""
    sweep_dir = Path(sweep_dir)
    state = sweepstate.read_state(sweep_dir)
    if records.exists(sweep_dir.parent, state["sweep_id"], run_id) is not None:
        return
    point = _point(state, sweep_dir, point_key)
    if reason:
        error = f"interrupted ({reason})"
    elif returncode in (124, 137):
        error = f"timeout after {point['time_limit_s']} s"
    else:
        error = f"the launcher exited with code {returncode} and the run left no record"
    sweepstate.fallback_record(point, sweep_dir.parent, state["sweep_id"], run_id, error)


def attempt_prefix(point_key: str, job: str, rep: str) -> str:
    """The run id of every attempt of one array task at one point, up to the attempt number:
    ``<point>-j<job>-r<rep>-a`` (the job script appends ``SLURM_RESTART_COUNT``)."""
    return f"{point_key}-j{job}-r{rep}-a"


def done_before(sweep_dir: str | Path, point_key: str, job: str, rep: str) -> bool:
    """Whether an earlier attempt of this array task left an ``ok`` record for the point (a
    requeued job keeps its job and task ids; its points already measured are not run again)."""
    sweep_dir = Path(sweep_dir)
    prefix = attempt_prefix(point_key, job, rep)
    recs, _ = sweepstate.sweep_records(sweep_dir)
    return any(r.status == "ok" and r.run_id.startswith(prefix) for r in recs)


USAGE = ("usage: python -m harness.launch.jobscript ensure-record SWEEP_DIR POINT RUN_ID RC "
         "[REASON] | done-before SWEEP_DIR POINT JOB REP")


def main(argv: list[str]) -> int:
    """The job script's entry point; returns the exit status."""
    if len(argv) in (6, 7) and argv[1] == "ensure-record":
        ensure_record(argv[2], argv[3], argv[4], int(argv[5]), argv[6] if len(argv) == 7
                      else None)
        return 0
    if len(argv) == 6 and argv[1] == "done-before":
        return 0 if done_before(argv[2], argv[3], argv[4], argv[5]) else 1
    sys.stderr.write(USAGE + "\n")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
