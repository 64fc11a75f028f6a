"""Slurm job states: what each one means, and reading them from ``sacct`` or ``squeue``.

Every state ``squeue`` and ``sacct`` print is in exactly one of three sets, named once here (as
ReFrame's Slurm scheduler names its own): :data:`FINISHED` (ended and succeeded),
:data:`FAILED` (ended otherwise) and :data:`ACTIVE` (pending, running, or on its way to either,
requeues and holds included). The states and their short codes are those of the JOB STATE CODES
sections of squeue(1) and sacct(1) and of https://slurm.schedmd.com/job_state_codes.html.
``PREEMPTED`` counts as ended (a job requeued after preemption shows ``REQUEUED`` or
``PENDING`` again) and ``REVOKED`` as active (its federated sibling runs on another cluster).

A controller whose job counter restarted hands out the same ids again, so an id alone does not
say a job is the sweep's: a task counts only when its job name is the one the sweep submitted and
its submit time is within :data:`SUBMIT_SLACK` seconds of when ``sbatch`` returned its id.
"""

from __future__ import annotations

import re
import subprocess
from datetime import datetime, timezone

#: ended and succeeded
FINISHED = frozenset({"COMPLETED"})
#: ended without success
FAILED = frozenset({
    "BOOT_FAIL", "CANCELLED", "DEADLINE", "FAILED", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED",
    "TIMEOUT",
})
#: not ended: waiting, starting, running, stopping, held or being requeued
ACTIVE = frozenset({
    "PENDING", "RUNNING", "REQUEUED", "CONFIGURING", "COMPLETING", "SUSPENDED", "RESIZING",
    "RESV_DEL_HOLD", "REQUEUE_FED", "REQUEUE_HOLD", "REVOKED", "SIGNALING", "SPECIAL_EXIT",
    "STAGE_OUT", "STOPPED",
})
#: every state Slurm reports
STATES = FINISHED | FAILED | ACTIVE
#: the short codes of ``squeue -t``/``%t`` and sacct's documentation
CODES = {
    "BF": "BOOT_FAIL", "CA": "CANCELLED", "CD": "COMPLETED", "CF": "CONFIGURING",
    "CG": "COMPLETING", "DL": "DEADLINE", "F": "FAILED", "NF": "NODE_FAIL",
    "OOM": "OUT_OF_MEMORY", "PD": "PENDING", "PR": "PREEMPTED", "R": "RUNNING",
    "RD": "RESV_DEL_HOLD", "RF": "REQUEUE_FED", "RH": "REQUEUE_HOLD", "RQ": "REQUEUED",
    "RS": "RESIZING", "RV": "REVOKED", "SI": "SIGNALING", "SE": "SPECIAL_EXIT",
    "SO": "STAGE_OUT", "ST": "STOPPED", "S": "SUSPENDED", "TO": "TIMEOUT",
}
#: what ``harness status`` says of a job no scheduler reports and its records do not settle
UNKNOWN = "UNKNOWN"

#: one part of a :func:`summarise` text of mixed states: ``STATExN``
_COUNTED = re.compile(r"([A-Z_]+)x(\d+)")
#: seconds between sbatch's answer (sweep.json's submitted_at) and Slurm's submit time
SUBMIT_SLACK = 300

#: per job id, the job name and the time (ISO 8601) sbatch gave us its id
Expected = dict[str, tuple[str | None, str | None]]
#: per job id, the states of its tasks; and per reused id, what the other job is
States = tuple[dict[str, list[str]], dict[str, str]]


def base_state(text: str) -> str:
    """The state name in what Slurm printed: ``"CANCELLED by 123"`` → ``CANCELLED``, sacct's
    truncated ``"CANCELLED+"`` → ``CANCELLED``, a short code ``"CA"`` → ``CANCELLED``; other
    text comes back upper-cased and stripped."""
    word = (text.split() or [""])[0].rstrip("+").upper()
    return CODES.get(word, word)


def classify(text: str) -> str:
    """``finished``, ``failed`` or ``active`` for a state as Slurm prints it (see
    :func:`base_state`); ``unknown`` for anything else (``UNKNOWN``, an empty string, a state a
    later Slurm adds)."""
    state = base_state(text)
    if state in FINISHED:
        return "finished"
    if state in FAILED:
        return "failed"
    return "active" if state in ACTIVE else "unknown"


def summarise(states: list[str]) -> str:
    """One state for a job's tasks: the state when all agree, else ``STATExN`` parts sorted by
    state (``"PENDINGx2 RUNNINGx1"``)."""
    counts: dict[str, int] = {}
    for s in states:
        counts[s] = counts.get(s, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return " ".join(f"{s}x{n}" for s, n in sorted(counts.items()))


def summary_states(summary: str) -> list[str]:
    """The states in a :func:`summarise` text (``"PENDINGx2 RUNNINGx1"`` → both names)."""
    parts = [_COUNTED.fullmatch(part) for part in summary.split()]
    if parts and all(parts):
        return [m.group(1) for m in parts if m]
    return [summary]


def ended(summary: str) -> bool:
    """Whether every task in a :func:`summarise` text has ended (finished or failed), or the
    job is :data:`UNKNOWN` (gone from the scheduler, its records not all there)."""
    return summary == UNKNOWN or all(classify(s) in ("finished", "failed")
                                     for s in summary_states(summary))


def _query(cmd: list[str]) -> subprocess.CompletedProcess[str] | None:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return None


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


def task_states(text: str, expected: Expected) -> States:
    """``JOBID|STATE[|NAME|SUBMIT]`` lines (array tasks as ``JOBID_TASK``) -> per job id, the
    states (:func:`base_state`) of its tasks that are this sweep's job (same name, submitted
    when sbatch answered); and the ids that now name another job."""
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
            states.setdefault(base, []).append(base_state(state))
        else:
            reused[base] = f"{name or '?'}, submitted {submit or '?'}"
    return states, reused


def from_sacct(expected: Expected) -> States | None:
    """Task states from sacct (see :func:`task_states`); None when accounting is off."""
    done = _query(["sacct", "-n", "-P", "-X", "-j", ",".join(expected), "-o",
                   "JobID,State,JobName,Submit"])
    if done is None or done.returncode != 0 or "disabled" in done.stderr.lower():
        return None
    return task_states(done.stdout, expected)


def from_squeue(expected: Expected) -> States | None:
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
    return task_states(done.stdout, expected)
