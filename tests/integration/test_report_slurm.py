"""The Slurm analysis job writes the report when the spec says ``[analysis] report = true``.

Needs a running cluster (``slurm/local-cluster.sh install && slurm/local-cluster.sh start``);
without one the test skips and says why (and fails under ``HARNESS_REQUIRE_SERVICES=1``).
"""

import json
import shutil
import subprocess
import time

import pytest
from clitools import harness

from harness.launch import jobstate

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
HINT = "slurm/local-cluster.sh install && slurm/local-cluster.sh start"


@pytest.fixture(scope="module")
def partition():
    """(partition, cpus) of an idle partition with a node of >= 2 CPUs, or skip saying why."""
    if shutil.which("sinfo") is None or shutil.which("sbatch") is None:
        pytest.skip(f"Slurm client tools are not installed; {HINT}")
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%P|%a|%c|%T"], capture_output=True,
                              text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        pytest.skip(f"sinfo did not answer in 20 s; {HINT}")
    usable = sorted((not p.endswith("*"), p.rstrip("*"), int(c.rstrip("+")))
                    for p, a, c, s in (line.split("|") for line in done.stdout.split())
                    if a == "up" and int(c.rstrip("+")) >= 2
                    and s.rstrip("*~#!%$@^-") in ("idle", "mixed", "allocated"))
    if done.returncode != 0 or not usable:
        pytest.skip(f"no usable Slurm partition (sinfo: {done.stdout or done.stderr!r}); {HINT}")
    return usable[0][1], usable[0][2]


def test_the_analysis_job_writes_the_report(tmp_path, partition):
    name, cpus = partition
    spec = tmp_path / "spec.toml"
    spec.write_text(f"""
name = "reportjob"
cores = [1, 2]
runs = 1
reps = 2
warmup = 1
time_limit = "05:00"

[profile]
partition = "{name}"
cores_per_node = {cpus}
launcher = "srun"

[[workload]]
name = "cfd"
size = "tiny"

[analysis]
time_limit = "05:00"
report = true
""")
    done = harness("sweep", spec, "--slurm", "--out", tmp_path, "--sweep-id", "rj")
    assert done.returncode == 0, done.stderr
    sweep_dir = tmp_path / "rj"
    deadline = time.monotonic() + 300
    while True:
        status = json.loads(harness("status", sweep_dir, "--json").stdout)
        analysis = next(j for j in status["jobs"] if j["key"] == "analysis")
        if jobstate.classify(analysis["state"]) in ("finished", "failed"):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"the analysis job did not end in 300 s: {status['jobs']}")
        time.sleep(2)
    assert analysis["state"] == "COMPLETED", status["jobs"]
    report = sweep_dir / "report"
    page = (report / "index.html").read_text(encoding="utf-8")
    assert "cfd/strong/blocking [tiny]" in page and "<svg" in page
    job_ids = [j["job_id"] for j in status["jobs"] if j["key"] in ("p1", "p2")]
    assert all(job_id in page for job_id in job_ids)  # provenance names the Slurm jobs
    assert (report / "summary.md").is_file() and (report / "points.csv").is_file()
