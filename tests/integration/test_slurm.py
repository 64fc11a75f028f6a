"""Sweeps on a real Slurm cluster: submit, wait, check records, analysis and ``harness status``.

Needs a running cluster (``slurm/local-cluster.sh install && slurm/local-cluster.sh start`` gives
a one-node one on localhost); without one every test here skips and says why.
"""

import json
import shutil
import subprocess
import sys
import time

import pytest
from clitools import harness

from harness import records
from harness.launch import jobstate

pytestmark = [pytest.mark.slurm, pytest.mark.slow]

START_HINT = ("for a one-node cluster here: slurm/local-cluster.sh install && "
              "slurm/local-cluster.sh start")


@pytest.fixture(scope="module")
def cluster():
    """(partition, cpus per node) of the default partition, or skip with the reason."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        pytest.skip(f"Slurm client tools (sinfo, sbatch) are not installed; {START_HINT}")
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%P|%a|%c|%T"], capture_output=True,
                              text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"sinfo did not answer in 20 s; {START_HINT}")
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.skip(f"no Slurm cluster answers (sinfo: {why}); {START_HINT}")
    usable = []  # (is default, partition, cpus)
    for line in done.stdout.split():
        partition, avail, cpus, node_state = line.split("|")
        if (avail == "up" and int(cpus.rstrip("+")) >= 2
                and node_state.rstrip("*~#!%$@^-") in ("idle", "mixed", "allocated")):
            usable.append((not partition.endswith("*"), partition.rstrip("*"),
                           int(cpus.rstrip("+"))))
    if not usable:
        pytest.skip(f"no partition is up with a node of >= 2 CPUs (sinfo: {done.stdout!r})")
    _, partition, cpus = min(usable)
    return partition, cpus


def write_spec(tmp_path, cluster, *, name, cores, repetitions, launcher="srun",
               time_limit="05:00", workload='name = "cfd"\nsize = "tiny"'):
    partition, cpus = cluster
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""
name = "{name}"
cores = {list(cores)}
runs = {repetitions}
reps = 2
warmup = 1
time_limit = "{time_limit}"

[profile]
partition = "{partition}"
cores_per_node = {cpus}
launcher = "{launcher}"

[[workload]]
{workload}

[analysis]
time_limit = "05:00"
""")
    return path


def wait_for(sweep_dir, timeout=300):
    """Poll ``harness status --json`` until every job has ended and return the last report."""
    deadline = time.monotonic() + timeout
    while True:
        done = harness("status", sweep_dir, "--json")
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        if all(jobstate.ended(j["state"]) for j in report["jobs"]):
            return report
        if time.monotonic() > deadline:
            subprocess.run(["squeue"], check=False)
            pytest.fail(f"sweep did not finish in {timeout} s: {report['jobs']}")
        time.sleep(2)


def run_records(sweep_dir):
    return [records.load(p) for p in sorted(sweep_dir.glob("*.json"))
            if p.name not in ("sweep.json", "analysis.json", "kpi.json")]


def test_two_scale_sweep_runs_end_to_end_on_slurm(tmp_path, cluster):
    spec = write_spec(tmp_path, cluster, name="itest", cores=[1, 2], repetitions=2)
    done = harness("sweep", spec, "--slurm", "--out", tmp_path, "--sweep-id", "it")
    assert done.returncode == 0, done.stderr
    sweep_dir = tmp_path / "it"
    state = json.loads((sweep_dir / "sweep.json").read_text())
    ids = {j["key"]: j["job_id"] for j in state["jobs"]}
    assert set(ids) == {"p1", "p2", "analysis"} and all(i.isdigit() for i in ids.values())
    assert f"itest-p1: submitted as job {ids['p1']}" in done.stdout

    # just submitted, every job is in the controller: one squeue call (or sacct) reports them
    early = json.loads(harness("status", sweep_dir, "--json").stdout)
    assert {j["source"] for j in early["jobs"]} <= {"squeue", "sacct"}, early["jobs"]
    states = {s for j in early["jobs"] for s in jobstate.summary_states(j["state"])}
    assert states <= {"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "COMPLETED"}, states

    report = wait_for(sweep_dir)
    assert [j["state"] for j in report["jobs"]] == ["COMPLETED"] * 3, report["jobs"]
    assert [(j["records"], j["expected"]) for j in report["jobs"]] == [(2, 2), (2, 2), (0, 0)]
    assert report["records"]["ok"] == report["records"]["expected"] == 4
    assert report["analysis"] is True

    recs = run_records(sweep_dir)
    assert sorted(r.ranks for r in recs) == [1, 1, 2, 2]
    for rec in recs:
        assert rec.status == "ok" and rec.verification["passed"]
        job = ids[f"p{rec.ranks}"]
        assert rec.run_id.endswith((f"-j{job}-r0-a0", f"-j{job}-r1-a0"))  # attempt 0
        slurm_info = rec.provenance.get("slurm") or {}
        assert slurm_info.get("partition") == cluster[0]
    ref = recs[0].verification["checksum"]
    for rec in recs:  # decomposition invariance across the two scales
        assert rec.verification["checksum"] == pytest.approx(ref, rel=1e-12, abs=1e-12)

    analysis = json.loads((sweep_dir / "analysis.json").read_text())
    assert isinstance(analysis, dict) and analysis
    table = (sweep_dir / "analysis.txt").read_text()
    assert "cfd" in table
    # the analysis job prepares the sweep's KPI rows for any later push
    prepared = json.loads((sweep_dir / "kpi.json").read_text())
    [rows] = prepared["sweeps"].values()
    assert prepared["schema"] == "harness.kpi/1" and len(rows["runs"]) == 4
    assert any(row["metric"] == "parallel_efficiency" for row in rows["kpi"])
    logs = sorted(p.name for p in (sweep_dir / "logs").iterdir())
    assert f"itest-p2-{ids['p2']}_1.out" in logs
    assert f"itest-analysis-{ids['analysis']}.out" in logs

    text = harness("status", sweep_dir)
    assert text.returncode == 0
    assert "records: 4 of 4 expected present (ok 4" in text.stdout


def test_mpiexec_launcher_inside_the_allocation(tmp_path, cluster):
    spec = write_spec(tmp_path, cluster, name="itmpi", cores=[2], repetitions=1,
                      launcher="mpiexec")
    done = harness("sweep", spec, "--slurm", "--out", tmp_path, "--sweep-id", "mp")
    assert done.returncode == 0, done.stderr
    report = wait_for(tmp_path / "mp")
    assert [j["state"] for j in report["jobs"]] == ["COMPLETED", "COMPLETED"], report["jobs"]
    (rec,) = run_records(tmp_path / "mp")
    assert (rec.status, rec.ranks) == ("ok", 2)


def test_a_run_past_its_time_limit_fails_the_job_and_leaves_a_failed_record(tmp_path, cluster):
    spec = write_spec(tmp_path, cluster, name="ittime", cores=[1], repetitions=1,
                      time_limit="00:03",
                      workload='name = "cfd"\nsize = "small"\n'
                               'params = { steps = 100000, nu = 0.0 }')  # minutes of work
    done = harness("sweep", spec, "--slurm", "--out", tmp_path, "--sweep-id", "tl")
    assert done.returncode == 0, done.stderr
    report = wait_for(tmp_path / "tl")
    states = {j["key"]: j["state"] for j in report["jobs"]}
    # afterany: the analysis job still ran; with no ok record it had nothing to analyze
    assert states == {"p1": "FAILED", "analysis": "FAILED"}, report["jobs"]
    assert report["analysis"] is False
    (rec,) = run_records(tmp_path / "tl")
    assert rec.status == "failed" and rec.error == "timeout after 3 s"


def test_srun_without_an_mpi_plugin_is_refused(tmp_path, cluster):
    """`srun --mpi=none`: every task sees Slurm's variables and an MPI world of 1; each refuses
    (exit 2, naming the plugin to use) instead of starting an mpiexec of its own."""
    partition, _ = cluster
    done = subprocess.run(["srun", "-p", partition, "-n", "2", "--mpi=none", "-t", "5",
                           sys.executable, "-m", "harness", "run", "cfd", "--ranks", "2",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 2, done.stderr
    refusals = [x for x in done.stderr.splitlines() if x.startswith("harness: error:")]
    assert len(refusals) == 2 and all("--mpi=pmi2" in x for x in refusals)
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_scancel_records_the_run_in_progress_and_the_points_not_started(tmp_path, cluster):
    spec = write_spec(tmp_path, cluster, name="itcut", cores=[1], repetitions=1,
                      time_limit="30:00",
                      workload='name = "cfd"\nsize = "small"\n'
                               'params = { steps = 100000, nu = 0.0 }\n'
                               '[[workload]]\nname = "param"\nsize = "tiny"')
    done = harness("sweep", spec, "--slurm", "--out", tmp_path, "--sweep-id", "cut")
    assert done.returncode == 0, done.stderr
    sweep_dir = tmp_path / "cut"
    state = json.loads((sweep_dir / "sweep.json").read_text())
    job = next(j["job_id"] for j in state["jobs"] if j["key"] == "p1")
    deadline = time.monotonic() + 240
    while "RUNNING" not in subprocess.run(["squeue", "-h", "-j", job, "-o", "%T"],
                                          capture_output=True, text=True, check=False).stdout:
        assert time.monotonic() < deadline, "the job never ran"
        time.sleep(1)
    time.sleep(15)  # the first point is computing
    subprocess.run(["scancel", job], check=True, timeout=60)
    wait_for(sweep_dir)
    recs = {r.workload: r for r in run_records(sweep_dir)}
    assert set(recs) == {"cfd", "param"}, recs
    assert recs["cfd"].status == "failed" and recs["cfd"].error.startswith("interrupted (SIGTERM")
    assert recs["param"].error.startswith("interrupted (not started: SIGTERM")
