"""Slurm as it really behaves, with the rendered job scripts run by bash as Slurm would run them
(launcher mpiexec, so no cluster is needed): a requeued array task keeps its ids, a warning
signal cuts the run in progress and the points not started, the submitting shell's HARNESS_*
variables do not reach the runs, and srun without an MPI plugin is refused."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from clitools import harness, processes_with

from harness import records

pytestmark = pytest.mark.mpi

PROFILE = '[profile]\npartition = "local"\ncores_per_node = 2\nlauncher = "mpiexec"\n'


def _scripts(tmp_path: Path, spec_text: str) -> Path:
    spec = tmp_path / "spec.toml"
    spec.write_text(spec_text + PROFILE, encoding="utf-8")
    done = harness("sweep", spec, "--slurm", "--dry-run", "--out", tmp_path, "--sweep-id", "js")
    assert done.returncode == 0, done.stderr
    return tmp_path / "js"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("HARNESS_", "SLURM_", "PMI_"))}
    env.update(extra)
    return env


def _job(sweep: Path, cores: int, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(sweep / "jobs" / f"spec-p{cores}.sbatch")],
                          capture_output=True, text=True, env=env, timeout=600, check=False)


def _records(sweep: Path) -> dict[str, records.RunRecord]:
    return {p.name: records.load(p) for p in sweep.glob("*.json") if p.name != "sweep.json"}


def test_a_requeued_task_keeps_its_measurements_and_runs_only_what_is_missing(tmp_path):
    sweep = _scripts(tmp_path, 'name = "spec"\ncores = [1]\nruns = 2\nreps = 2\n'
                               'warmup = 1\ntime_limit = "05:00"\n'
                               '[[workload]]\nname = "cfd"\n[[workload]]\nname = "param"\n')
    task = {"SLURM_ARRAY_JOB_ID": "77", "SLURM_ARRAY_TASK_ID": "1", "SLURM_JOB_ID": "78"}
    # the submitting shell's option variables must not change the runs
    first = _job(sweep, 1, _env(**task, HARNESS_RUN_SET="steps=3", HARNESS_RUN_REPS="1"))
    assert first.returncode == 0, first.stderr
    recs = _records(sweep)
    assert len(recs) == 2 and all(r.status == "ok" for r in recs.values())
    assert all(r.run_id.endswith("-j77-r1-a0") for r in recs.values())
    assert all(r.repetitions == 2 and len(r.seconds) == 2 for r in recs.values())
    cfd = next(r for r in recs.values() if r.workload == "cfd")
    assert cfd.params["steps"] != 3 and cfd.overrides == {}
    before = {name: (sweep / name).read_bytes() for name in recs}

    # requeued: same job and task ids, SLURM_RESTART_COUNT=1; both points are already ok
    again = _job(sweep, 1, _env(**task, SLURM_RESTART_COUNT="1"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("measured by an earlier attempt of this task; skipped") == 2
    assert "already exists" not in again.stderr
    assert {name: (sweep / name).read_bytes() for name in _records(sweep)} == before

    # an attempt cut after the first point: the next one measures the second point only
    param = next(name for name, r in recs.items() if r.workload == "param")
    (sweep / param).unlink()
    third = _job(sweep, 1, _env(**task, SLURM_RESTART_COUNT="2"))
    assert third.returncode == 0, third.stderr
    now = _records(sweep)
    assert len(now) == 2
    (new,) = [r for name, r in now.items() if name not in before]
    assert new.workload == "param" and new.run_id.endswith("-j77-r1-a2") and new.status == "ok"


@pytest.mark.parametrize("signum", [signal.SIGUSR1, signal.SIGTERM])
def test_a_signal_from_slurm_records_what_was_cut(tmp_path, signum):
    """The time-limit warning (SIGUSR1, --signal=B:USR1@...) or scancel/preemption (SIGTERM):
    the run in progress is stopped and recorded, the point not started is recorded too."""
    sweep = _scripts(tmp_path, 'name = "spec"\ncores = [1]\nreps = 1000\nwarmup = 0\n'
                               'time_limit = "30:00"\n'
                               '[[workload]]\nname = "cfd"\nsize = "small"\n'
                               'params = { steps = 30000, nu = 0.0 }\n'
                               '[[workload]]\nname = "param"\n')
    marker = f"HARNESS_TEST_MARK={uuid.uuid4().hex}"
    env = _env(SLURM_JOB_ID="91", **dict([marker.split("=")]))
    proc = subprocess.Popen(["bash", str(sweep / "jobs" / "spec-p1.sbatch")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 180
        while not any("--run-id" in argv and "python" in Path(argv[0]).name
                      for argv in processes_with(marker).values()):
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "the first run never started"
            time.sleep(0.1)
        time.sleep(1)  # into the run proper
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    deadline = time.monotonic() + 30
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert processes_with(marker) == {}
    recs = {r.workload: r for r in _records(sweep).values()}
    assert set(recs) == {"cfd", "param"}
    name = "SIGUSR1" if signum == signal.SIGUSR1 else "SIGTERM"
    assert recs["cfd"].status == "failed"
    assert recs["cfd"].error.startswith(f"interrupted ({name} from Slurm")
    assert recs["param"].status == "failed"
    assert recs["param"].error.startswith(f"interrupted (not started: {name} from Slurm")


def test_srun_without_an_mpi_plugin_is_refused(tmp_path):
    """What every task of `srun -n 2 --mpi=none harness run --ranks 2` sees: Slurm's task
    variables and no PMI. It must not start an mpiexec of its own in every task."""
    env = _env(SLURM_JOB_ID="5", SLURM_STEP_ID="0", SLURM_PROCID="1", SLURM_STEP_NUM_TASKS="2",
               SLURM_NTASKS="2")
    done = subprocess.run([sys.executable, "-m", "harness", "run", "cfd", "--ranks", "2",
                           "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          env=env, timeout=120, check=False)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "--mpi=pmi2" in line and "without an MPI plugin" in line
    assert not (tmp_path / "o").exists()


def test_the_local_sweep_ignores_the_shells_run_options(tmp_path):
    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\ncores = [1]\nreps = 2\nwarmup = 1\n[[workload]]\n'
                    'name = "cfd"\n', encoding="utf-8")
    done = harness("sweep", spec, "--out", tmp_path, "--sweep-id", "s",
                   env={"HARNESS_RUN_SET": "steps=3", "HARNESS_RUN_REPS": "1",
                        "HARNESS_RUN_MODE": "weak"})
    assert done.returncode == 0, done.stderr
    (rec,) = [records.load(p) for p in (tmp_path / "s").glob("*.json") if p.name != "sweep.json"]
    assert (rec.repetitions, rec.mode, rec.overrides) == (2, "strong", {})
    assert rec.params["steps"] != 3
