"""``harness status``: job states from sacct or squeue matched to the sweep's jobs, inferred
from records when the jobs have left the controller, and the records present versus expected."""

import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from spectools import SMALL

from harness import records, sweepstate
from harness.cli.status import format_status
from harness.errors import BadInputError
from harness.launch import jobstate, slurm
from harness.specs import load_spec
from harness.status import status as sweep_status


def spec_from(tmp_path, text):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return load_spec(path)


def fake_queries(monkeypatch, answers):
    """Answer jobstate._query by command prefix; returns the list of commands asked."""
    calls = []

    def query(cmd):
        calls.append(cmd)
        for prefix, (rc, out, err) in answers.items():
            if " ".join(cmd).startswith(prefix):
                return subprocess.CompletedProcess(cmd, rc, out, err)
        return None

    monkeypatch.setattr(jobstate, "_query", query)
    return calls


def submitted_sweep(tmp_path, ids):
    spec = spec_from(tmp_path, SMALL)
    sweep_dir, state = sweepstate.open_sweep(spec, tmp_path, "sw", False, "slurm")
    for job, job_id in zip(slurm.render(spec, sweep_dir), ids, strict=True):
        state["jobs"].append({"key": job.key, "name": job.name, "job_id": job_id,
                              "array": job.array, "points": job.points})
    sweepstate.write_state(sweep_dir, state)
    return spec, sweep_dir


def test_status_from_one_squeue_call_and_inferred_when_jobs_left(tmp_path, monkeypatch):
    spec, sweep_dir = submitted_sweep(tmp_path, ["11", "12", None])
    p1 = spec.points_at(1)[0]
    sweepstate.fallback_record(p1.to_dict(), tmp_path, "sw", f"{p1.key}-j11-r0", "boom")
    calls = fake_queries(monkeypatch, {
        "sacct": (1, "", "sacct: error: Slurm accounting storage is disabled\n"),
        "squeue": (0, "12|RUNNING\n", ""),  # 11 has left the controller
    })
    report = sweep_status(sweep_dir)
    # one squeue call for every submitted job, finished ones included; no per-job scontrol
    assert [c[0] for c in calls] == ["sacct", "squeue"]
    squeue = calls[1]
    assert "--jobs=11,12" in squeue and "--states=all" in squeue and "--array" in squeue
    rows = {r["key"]: r for r in report["jobs"]}
    assert (rows["p1"]["state"], rows["p1"]["records"], rows["p1"]["expected"]) == ("FAILED", 1, 1)
    assert rows["p1"]["source"] == "left the queue; inferred from records (1 not ok)"
    assert (rows["p2"]["state"], rows["p2"]["source"]) == ("RUNNING", "squeue")
    assert rows["analysis"]["state"] == "NOT SUBMITTED"
    assert report["records"] == {"ok": 0, "verification_failed": 0, "failed": 1, "present": 1,
                                 "unreadable": 0, "expected": 2}
    text = format_status(report)
    assert "RUNNING" in text and "1 of 2 expected present" in text


def test_status_from_squeue_with_array_tasks_and_finished_jobs(tmp_path, monkeypatch):
    _, sweep_dir = submitted_sweep(tmp_path, ["41", "42", "43"])
    fake_queries(monkeypatch, {"sacct": (1, "", "disabled"), "squeue": (
        0, "41|COMPLETED\n42_0|RUNNING\n42_1|PENDING\n42_2|PENDING\n43|PENDING\n"
           "4200|RUNNING\n", "")})  # 4200: not this sweep's
    rows = {r["key"]: (r["state"], r["source"]) for r in sweep_status(sweep_dir)["jobs"]}
    assert rows == {"p1": ("COMPLETED", "squeue"), "p2": ("PENDINGx2 RUNNINGx1", "squeue"),
                    "analysis": ("PENDING", "squeue")}


def test_status_asks_squeue_only_for_jobs_sacct_does_not_know(tmp_path, monkeypatch):
    _, sweep_dir = submitted_sweep(tmp_path, ["51", "52", "53"])
    calls = fake_queries(monkeypatch, {"sacct": (0, "51|COMPLETED\n52|RUNNING\n", ""),
                                       "squeue": (0, "53|PENDING\n", "")})
    rows = {r["key"]: (r["state"], r["source"]) for r in sweep_status(sweep_dir)["jobs"]}
    assert rows == {"p1": ("COMPLETED", "sacct"), "p2": ("RUNNING", "sacct"),
                    "analysis": ("PENDING", "squeue")}
    assert "--jobs=53" in calls[1]


def test_status_from_sacct_with_array_tasks(tmp_path, monkeypatch):
    _, sweep_dir = submitted_sweep(tmp_path, ["21", "22", "23"])
    calls = fake_queries(monkeypatch, {"sacct": (0, "21|COMPLETED\n22_0|COMPLETED\n22_1|TIMEOUT\n"
                                                    "23|CANCELLED by 0\n", "")})
    rows = {r["key"]: r for r in sweep_status(sweep_dir)["jobs"]}
    assert rows["p1"]["state"] == "COMPLETED" and rows["p1"]["source"] == "sacct"
    assert rows["p2"]["state"] == "COMPLETEDx1 TIMEOUTx1"
    assert rows["analysis"]["state"] == "CANCELLED"
    assert [c[0] for c in calls] == ["sacct"]  # sacct knew them all: no squeue


@pytest.mark.parametrize(("squeue", "gone"), [
    ((1, "", "slurm_load_jobs error: Invalid job id specified\n"), "left the queue"),
    ((1, "", "squeue: error: Unable to contact slurm controller\n"), "squeue did not answer"),
    (None, "squeue did not answer"),  # not installed, or timed out
])
def test_status_of_vanished_jobs_without_records_is_unknown(tmp_path, monkeypatch, squeue, gone):
    _, sweep_dir = submitted_sweep(tmp_path, ["31", "32", "33"])
    answers = {"sacct": (1, "", "disabled")}
    if squeue is not None:
        answers["squeue"] = squeue
    fake_queries(monkeypatch, answers)
    rows = sweep_status(sweep_dir)["jobs"]
    assert [r["state"] for r in rows] == ["UNKNOWN"] * 3
    assert all(r["source"].startswith(gone + ";") for r in rows)
    (sweep_dir / "analysis.json").write_text("{}")
    assert sweep_status(sweep_dir)["jobs"][2]["state"] == "COMPLETED"


def test_status_of_a_directory_without_a_sweep(tmp_path):
    with pytest.raises(BadInputError, match="not a sweep directory"):
        sweep_status(tmp_path)


def test_a_recycled_job_id_is_not_taken_for_the_sweeps_job(tmp_path, monkeypatch):
    """The controller's counter restarted: ids 11 and 12 now name other jobs (another name, or
    the same name submitted a day later). The sweep's jobs are judged by their records."""
    spec, sweep_dir = submitted_sweep(tmp_path, ["11", "12", "13"])
    state = sweepstate.read_state(sweep_dir)
    for job in state["jobs"]:
        job["submitted_at"] = "2026-11-30T03:00:00+00:00"
    sweepstate.write_state(sweep_dir, state)
    for point in spec.points:
        rec = records.RunRecord(
            run_id=f"{point.key}-j{11 if point.ranks == 1 else 12}-r0-a0", sweep_id="sw",
            workload="cfd", variant=point.variant, mode="strong", size="tiny",
            params=point.resolved, ranks=point.ranks, status="ok", seconds=[0.1],
            verification={"passed": True, "method": "m", "checksum": {}, "error": 0.0,
                          "tolerance": 1.0})
        records.write(tmp_path, rec)
    (sweep_dir / "analysis.json").write_text("{}")
    # Slurm prints local time without a zone: one second after sbatch answered, or a day later
    ours = datetime(2026, 11, 30, 3, 0, 1, tzinfo=timezone.utc).astimezone().replace(tzinfo=None)
    local, later = ours.isoformat(), (ours + timedelta(days=1)).isoformat()
    fake_queries(monkeypatch, {"sacct": (1, "", "disabled"), "squeue": (
        0, f"11|RUNNING|someone-else|{local}\n12|PENDING|small-p2|{later}\n"
           f"13|RUNNING|small-analysis|{local}\n", "")})
    rows = {r["key"]: r for r in sweep_status(sweep_dir)["jobs"]}
    assert rows["p1"]["state"] == "COMPLETED" and rows["p2"]["state"] == "COMPLETED"
    assert "job id 11 now names another job (someone-else" in rows["p1"]["source"]
    assert "job id 12 now names another job (small-p2" in rows["p2"]["source"]
    assert (rows["analysis"]["state"], rows["analysis"]["source"]) == ("RUNNING", "squeue")


def test_a_requeued_tasks_attempts_count_once(tmp_path, monkeypatch):
    spec, sweep_dir = submitted_sweep(tmp_path, ["61", "62", "63"])
    (point,) = spec.points_at(1)
    sweepstate.fallback_record(point.to_dict(), tmp_path, "sw", f"{point.key}-j61-r0-a0", "cut")
    rec = records.RunRecord(
        run_id=f"{point.key}-j61-r0-a1", sweep_id="sw", workload="cfd", variant=point.variant,
        mode="strong", size="tiny", params=point.resolved, ranks=1, status="ok", seconds=[0.1],
        verification={"passed": True, "method": "m", "checksum": {}, "error": 0.0,
                      "tolerance": 1.0})
    records.write(tmp_path, rec)
    fake_queries(monkeypatch, {"sacct": (1, "", "disabled"), "squeue": (1, "", "Invalid job id")})
    rows = {r["key"]: r for r in sweep_status(sweep_dir)["jobs"]}
    assert (rows["p1"]["records"], rows["p1"]["expected"], rows["p1"]["state"]) == (
        1, 1, "COMPLETED")
