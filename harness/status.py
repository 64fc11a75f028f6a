"""What ``harness status`` reports of a sweep directory, local or Slurm: each job's state and
the records present versus expected.

A local sweep has no jobs: its report is ``sweep.json``'s state and the record counts. A Slurm
sweep's jobs are asked of ``sacct`` when accounting works, else of one ``squeue`` call
(:mod:`harness.launch.jobstate`); a job that neither knows any more is judged by what it left.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from harness import records, sweepstate
from harness.launch import jobstate

_ATTEMPT = re.compile(r"-a\d+\Z")


def _latest_attempts(recs: list[records.RunRecord]) -> list[records.RunRecord]:
    """One record per array task and point: of a requeued task's attempts (run ids ending
    ``-a<SLURM_RESTART_COUNT>``), an ok one if any, else the last."""
    best: dict[str, records.RunRecord] = {}
    for rec in sorted(recs, key=lambda r: r.created_at):
        task = _ATTEMPT.sub("", rec.run_id)
        if task not in best or best[task].status != "ok":
            best[task] = rec
    return list(best.values())


def _scheduler_states(jobs: list[dict[str, Any]]) -> tuple[
        dict[str, list[str]] | None, dict[str, list[str]] | None, dict[str, str]]:
    """Per job id, its tasks' states from sacct (None: accounting off) and from squeue for the
    ids sacct did not know (None: squeue did not answer); and the ids that now name another
    job."""
    wanted: jobstate.Expected = {j["job_id"]: (j.get("name"), j.get("submitted_at"))
                                 for j in jobs if j.get("job_id")}
    found = jobstate.from_sacct(wanted) if wanted else None
    accounted, reused = (None, {}) if found is None else found
    unaccounted = {i: w for i, w in wanted.items() if accounted is None or i not in accounted}
    found = jobstate.from_squeue(unaccounted) if unaccounted else ({}, {})
    queued = None
    if found is not None:
        queued, more = found
        reused = {**more, **reused}
    return accounted, queued, reused


def status(sweep_dir: str | Path) -> dict[str, Any]:
    """Job states and records present versus expected for a sweep directory.

    States come from ``sacct`` when accounting works, else from one ``squeue`` call for all the
    sweep's jobs (pending, running, and finished ones the controller still holds). A job that
    neither knows (it left the controller after ``MinJobAge``) is judged by what it left behind:
    COMPLETED when all its records are there and ok (the analysis job: when ``analysis.json``
    is there), FAILED when they are there but some runs failed, UNKNOWN otherwise.

    Raises
    ------
    BadInputError
        When ``sweep_dir`` holds no ``sweep.json``.
    """
    sweep_dir = Path(sweep_dir).resolve()
    state = sweepstate.read_state(sweep_dir)
    recs, unreadable = sweepstate.sweep_records(sweep_dir)
    accounted, queued, reused = _scheduler_states(state.get("jobs", []))
    rows = []
    for job in state.get("jobs", []):
        job_id = job.get("job_id")
        mine = _latest_attempts([r for r in recs if f"-j{job_id}-r" in r.run_id]
                                if job_id else [])
        expected = len(job.get("points", [])) * job.get("array", 1)
        row = {"key": job["key"], "name": job["name"], "job_id": job_id,
               "records": len(mine), "expected": expected}
        if job_id in reused and not (accounted and job_id in accounted) and not (
                queued and job_id in queued):
            gone = f"job id {job_id} now names another job ({reused[job_id]})"
        else:
            gone = "left the queue" if queued is not None else "squeue did not answer"
        if not job_id:
            row.update(state="NOT SUBMITTED", source="sweep.json")
        elif accounted is not None and job_id in accounted:
            row.update(state=jobstate.summarise(accounted[job_id]), source="sacct")
        elif queued and job_id in queued:
            row.update(state=jobstate.summarise(queued[job_id]), source="squeue")
        else:
            row.update(_inferred(job, mine, expected, sweep_dir, gone))
        rows.append(row)
    by_status = {s: sum(r.status == s for r in recs) for s in records.STATUSES}
    return {
        "sweep_id": state["sweep_id"], "sweep_dir": str(sweep_dir), "backend": state["backend"],
        "state": state.get("state"), "jobs": rows,
        "records": {**by_status, "present": len(recs), "unreadable": unreadable,
                    "expected": state.get("expected_records", 0)},
        "analysis": (sweep_dir / "analysis.json").exists(),
    }


def _inferred(job: dict[str, Any], mine: list[records.RunRecord], expected: int,
              sweep_dir: Path, gone: str) -> dict[str, str]:
    """The state of a job the scheduler no longer reports, from what it left behind."""
    if job["key"] == "analysis":
        ok = (sweep_dir / "analysis.json").exists()
        return {"state": "COMPLETED" if ok else jobstate.UNKNOWN,
                "source": f"{gone}; " + ("analysis.json present" if ok else "no analysis.json")}
    if len(mine) >= expected:
        bad = sum(r.status != "ok" for r in mine)
        return {"state": "FAILED" if bad else "COMPLETED",
                "source": f"{gone}; inferred from records ({bad} not ok)"}
    return {"state": jobstate.UNKNOWN, "source": f"{gone}; records missing"}
