"""``harness status`` for Slurm sweeps: job states from sacct or squeue, matched to the sweep's
jobs by id, name and submit time, and the records present versus expected.

A controller whose job counter restarted hands out the same ids again, so an id alone does not
say a job is this sweep's: a task counts only when its job name is the one the sweep submitted
and its submit time is within :data:`SUBMIT_SLACK` seconds of when ``sbatch`` returned its id.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import records, sweepstate

#: seconds between sbatch's answer (sweep.json's submitted_at) and Slurm's submit time
SUBMIT_SLACK = 300
_ATTEMPT = re.compile(r"-a\d+\Z")


def _query(cmd: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None


#: per job id, the job name and the time (ISO 8601) sbatch gave us its id
Expected = dict[str, tuple[str | None, str | None]]
#: per job id, the states of its tasks; and per reused id, what the other job is
States = tuple[dict[str, list[str]], dict[str, str]]


def _utc(text: str) -> datetime | None:
    """A time as Slurm prints it (local time, no zone) or as sweep.json stores it, in UTC."""
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return stamp.astimezone(timezone.utc)  # naive: taken as local time, as Slurm prints it


def _same_job(name: str | None, submit: str | None, expected: tuple[str | None, str | None]
              ) -> bool:
    want_name, want_time = expected
    if name is not None and want_name is not None and name != want_name:
        return False
    if submit is not None and want_time is not None:
        got, want = _utc(submit), _utc(want_time)
        if got is not None and want is not None:
            return abs((got - want).total_seconds()) <= SUBMIT_SLACK
    return True


def _task_states(text: str, expected: Expected) -> States:
    """``JOBID|STATE[|NAME|SUBMIT]`` lines (array tasks as ``JOBID_TASK``) -> per job id, the
    states of its tasks that are this sweep's job (same name, submitted when sbatch answered);
    and the ids that now name another job."""
    states: dict[str, list[str]] = {}
    reused: dict[str, str] = {}
    for line in text.splitlines():
        fields = line.split("|")
        if len(fields) < 2 or not fields[1].strip():
            continue
        job, state = fields[0], fields[1]
        name = fields[2].strip() if len(fields) > 2 else None
        submit = fields[3].strip() if len(fields) > 3 else None
        base = job.split("_")[0].split(".")[0]
        if base not in expected:
            continue
        if _same_job(name, submit, expected[base]):
            states.setdefault(base, []).append(state.split()[0])  # "CANCELLED by 0"
        else:
            reused[base] = f"{name or '?'}, submitted {submit or '?'}"
    return states, reused


def _sacct(expected: Expected) -> States | None:
    """Task states from sacct (see :func:`_task_states`); None when accounting is off."""
    done = _query(["sacct", "-n", "-P", "-X", "-j", ",".join(expected), "-o",
                   "JobID,State,JobName,Submit"])
    if done is None or done.returncode != 0 or "disabled" in done.stderr.lower():
        return None
    return _task_states(done.stdout, expected)


def _squeue(expected: Expected) -> States | None:
    """Task states of the jobs the controller still holds, from one ``squeue`` call
    (``--states=all``: finished jobs too, until ``MinJobAge``); a job that has left the
    controller is absent. None when squeue cannot answer."""
    done = _query(["squeue", "--noheader", "--array", "--states=all",
                   "--jobs=" + ",".join(expected), "--format=%i|%T|%j|%V"])
    if done is None:
        return None
    if done.returncode != 0:
        # squeue fails this way only when none of the ids is known any more
        return ({}, {}) if "invalid job id" in done.stderr.lower() else None
    return _task_states(done.stdout, expected)


def _summarise(states: list[str]) -> str:
    counts: dict[str, int] = {}
    for s in states:
        counts[s] = counts.get(s, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return " ".join(f"{s}x{n}" for s, n in sorted(counts.items()))


def _latest_attempts(recs: list[records.RunRecord]) -> list[records.RunRecord]:
    """One record per array task and point: of a requeued task's attempts (run ids ending
    ``-a<SLURM_RESTART_COUNT>``), an ok one if any, else the last."""
    best: dict[str, records.RunRecord] = {}
    for rec in sorted(recs, key=lambda r: r.created_at):
        task = _ATTEMPT.sub("", rec.run_id)
        if task not in best or best[task].status != "ok":
            best[task] = rec
    return list(best.values())


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
    jobs = [j for j in state.get("jobs", []) if j.get("job_id")]
    wanted: Expected = {j["job_id"]: (j.get("name"), j.get("submitted_at")) for j in jobs}
    accounted, reused = _sacct(wanted) if wanted else None, {}
    if accounted is not None:
        accounted, reused = accounted
    unaccounted = {i: w for i, w in wanted.items() if accounted is None or i not in accounted}
    queued = _squeue(unaccounted) if unaccounted else ({}, {})
    if queued is not None:
        queued, more = queued
        reused = {**more, **reused}
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
            row.update(state=_summarise(accounted[job_id]), source="sacct")
        elif queued and job_id in queued:
            row.update(state=_summarise(queued[job_id]), source="squeue")
        elif job["key"] == "analysis":
            ok = (sweep_dir / "analysis.json").exists()
            row.update(state="COMPLETED" if ok else "UNKNOWN",
                       source=f"{gone}; " + ("analysis.json present" if ok
                                             else "no analysis.json"))
        elif len(mine) >= expected:
            bad = sum(r.status != "ok" for r in mine)
            row.update(state="FAILED" if bad else "COMPLETED",
                       source=f"{gone}; inferred from records ({bad} not ok)")
        else:
            row.update(state="UNKNOWN", source=f"{gone}; records missing")
        rows.append(row)
    by_status = {s: sum(r.status == s for r in recs) for s in records.STATUSES}
    return {
        "sweep_id": state["sweep_id"], "sweep_dir": str(sweep_dir), "backend": state["backend"],
        "state": state.get("state"), "jobs": rows,
        "records": {**by_status, "present": len(recs), "unreadable": unreadable,
                    "expected": state.get("expected_records", 0)},
        "analysis": (sweep_dir / "analysis.json").exists(),
    }


def format_status(report: dict[str, Any]) -> str:
    """``status``'s report as plain text: one line per job, then the record counts."""
    lines = [f"sweep {report['sweep_id']} ({report['backend']}, {report['state']}): "
             f"{report['sweep_dir']}"]
    width = max([len(j["name"]) for j in report["jobs"]] + [4])
    for j in report["jobs"]:
        lines.append(f"  {j['name']:<{width}}  {j['job_id'] or '-':>9}  {j['state']:<13} "
                     f"records {j['records']}/{j['expected']}  ({j['source']})")
    r = report["records"]
    lines.append(f"records: {r['present']} of {r['expected']} expected present "
                 f"(ok {r['ok']}, verification_failed {r['verification_failed']}, "
                 f"failed {r['failed']}" + (f", unreadable {r['unreadable']}" if r["unreadable"]
                                            else "") + ")")
    lines.append("analysis: " + ("analysis.json present" if report["analysis"] else "not yet"))
    return "\n".join(lines)


