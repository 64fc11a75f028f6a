"""Slurm job states: every state squeue(1) and sacct(1) document (JOB STATE CODES), by name,
short code and the forms sacct prints ("CANCELLED by 123", "CANCELLED+"), in exactly one set."""

import pytest

from harness.launch import jobstate

#: squeue(1) JOB STATE CODES (a superset of sacct(1)'s): code, name, what the harness makes of it
DOCUMENTED = [
    ("BF", "BOOT_FAIL", "failed"),
    ("CA", "CANCELLED", "failed"),
    ("CD", "COMPLETED", "finished"),
    ("CF", "CONFIGURING", "active"),
    ("CG", "COMPLETING", "active"),
    ("DL", "DEADLINE", "failed"),
    ("F", "FAILED", "failed"),
    ("NF", "NODE_FAIL", "failed"),
    ("OOM", "OUT_OF_MEMORY", "failed"),
    ("PD", "PENDING", "active"),
    ("PR", "PREEMPTED", "failed"),
    ("R", "RUNNING", "active"),
    ("RD", "RESV_DEL_HOLD", "active"),
    ("RF", "REQUEUE_FED", "active"),
    ("RH", "REQUEUE_HOLD", "active"),
    ("RQ", "REQUEUED", "active"),
    ("RS", "RESIZING", "active"),
    ("RV", "REVOKED", "active"),
    ("SI", "SIGNALING", "active"),
    ("SE", "SPECIAL_EXIT", "active"),
    ("SO", "STAGE_OUT", "active"),
    ("ST", "STOPPED", "active"),
    ("S", "SUSPENDED", "active"),
    ("TO", "TIMEOUT", "failed"),
]


@pytest.mark.parametrize(("code", "name", "kind"), DOCUMENTED)
def test_every_documented_state(code, name, kind):
    for printed in (name, code, name.lower(), f" {name} ", f"{name}+"):
        assert jobstate.base_state(printed) == name
        assert jobstate.classify(printed) == kind
    assert jobstate.CODES[code] == name


def test_the_sets_partition_the_documented_states():
    assert not (jobstate.FINISHED & jobstate.FAILED or jobstate.FINISHED & jobstate.ACTIVE
                or jobstate.FAILED & jobstate.ACTIVE)
    assert {name for _, name, _ in DOCUMENTED} == jobstate.STATES
    assert set(jobstate.CODES.values()) == jobstate.STATES
    assert all(isinstance(s, frozenset) for s in (jobstate.FINISHED, jobstate.FAILED,
                                                  jobstate.ACTIVE))


@pytest.mark.parametrize(("printed", "name", "kind"), [
    ("CANCELLED by 123", "CANCELLED", "failed"),
    ("CANCELLED by 0", "CANCELLED", "failed"),
    ("CANCELLED+", "CANCELLED", "failed"),
    ("UNKNOWN", "UNKNOWN", "unknown"),
    ("NOT SUBMITTED", "NOT", "unknown"),
    ("", "", "unknown"),
    ("LAUNCH_FAILED", "LAUNCH_FAILED", "unknown"),  # a flag squeue/sacct do not print
])
def test_printed_forms(printed, name, kind):
    assert (jobstate.base_state(printed), jobstate.classify(printed)) == (name, kind)


@pytest.mark.parametrize(("states", "summary", "ended"), [
    (["COMPLETED"], "COMPLETED", True),
    (["COMPLETED", "COMPLETED"], "COMPLETED", True),
    (["COMPLETED", "TIMEOUT"], "COMPLETEDx1 TIMEOUTx1", True),
    (["OUT_OF_MEMORY", "COMPLETED", "OUT_OF_MEMORY"], "COMPLETEDx1 OUT_OF_MEMORYx2", True),
    (["RUNNING", "PENDING", "PENDING"], "PENDINGx2 RUNNINGx1", False),
    (["COMPLETED", "RUNNING"], "COMPLETEDx1 RUNNINGx1", False),
    (["PENDING"], "PENDING", False),
    (["REQUEUED"], "REQUEUED", False),
])
def test_summaries_of_a_jobs_tasks(states, summary, ended):
    assert jobstate.summarise(states) == summary
    assert sorted(set(jobstate.summary_states(summary))) == sorted(set(states))
    assert jobstate.ended(summary) is ended


def test_what_harness_status_says_of_jobs_slurm_no_longer_reports():
    assert jobstate.ended(jobstate.UNKNOWN)  # gone, records missing: nothing more will come
    assert not jobstate.ended("NOT SUBMITTED")
