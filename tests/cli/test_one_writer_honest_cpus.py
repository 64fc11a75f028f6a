"""One sweep, one writer; honest CPU counts: a second writer is refused with the holder's pid
and host, a stale lock is taken over, a cgroup CPU quota makes a run oversubscribed, and
other work on the run's CPUs makes it contended (and excluded from the analysis)."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from clitools import harness

from harness import records

LONG_SPEC = ('name = "long"\ncores = [1]\nruns = 3\nreps = 1000\nwarmup = 0\n'
             'time_limit = "30:00"\n[[workload]]\nname = "cfd"\nsize = "small"\n'
             "params = { steps = 30000, nu = 0.0 }\n")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}


@pytest.mark.mpi
def test_a_second_writer_is_refused_with_the_holders_pid_and_host(tmp_path: Path) -> None:
    spec = tmp_path / "long.toml"
    spec.write_text(LONG_SPEC, encoding="utf-8")
    first = subprocess.Popen([sys.executable, "-m", "harness", "sweep", str(spec), "--out",
                              str(tmp_path), "--sweep-id", "one"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=_env())
    try:
        deadline = time.monotonic() + 120
        state = tmp_path / "one" / "sweep.json"
        while not (state.exists() and json.loads(state.read_text())["state"] == "running"):
            assert first.poll() is None and time.monotonic() < deadline, "the sweep never ran"
            time.sleep(0.1)
        # the first writer keeps writing (sweep.json, scratch files); the second adds nothing
        before = sorted(p.name for p in (tmp_path / "one").glob("*.json"))
        second = harness("sweep", spec, "--out", tmp_path, "--sweep-id", "one", "--resume",
                         env=_env())
        assert second.returncode == 2, second.stderr
        (line,) = second.stderr.strip().splitlines()
        assert f"pid {first.pid} on host {socket.gethostname()}" in line
        assert sorted(p.name for p in (tmp_path / "one").glob("*.json")) == before
        assert json.loads(state.read_text())["state"] == "running"  # the first's, untouched
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=120)
    assert first.returncode == 143


def test_a_stale_lock_is_taken_over(tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\ncores = [1]\nreps = 1\nwarmup = 0\n[[workload]]\n'
                    'name = "cfd"\n', encoding="utf-8")
    dead = subprocess.Popen(["true"])
    dead.wait()
    (tmp_path / "s1").mkdir()
    (tmp_path / "s1" / ".lock").write_text(json.dumps(
        {"pid": dead.pid, "host": socket.gethostname(), "since": "2026-01-01T00:00:00+00:00"}))
    done = harness("sweep", spec, "--out", tmp_path, "--sweep-id", "s1", env=_env())
    assert done.returncode == 0, done.stderr
    assert f"taking over the lock of {tmp_path / 's1'} left by pid {dead.pid}" in done.stderr
    assert len([p for p in (tmp_path / "s1").glob("*.json") if p.name != "sweep.json"]) == 1


def _cgroup_v1_cpu() -> Path | None:
    base = Path("/sys/fs/cgroup/cpu")
    if os.geteuid() != 0 or not (base / "cpu.cfs_quota_us").exists():
        return None
    group = base / f"harness-test-{uuid.uuid4().hex[:8]}"
    try:
        group.mkdir()
    except OSError:
        return None
    return group


@pytest.mark.mpi
def test_a_cpu_quota_counts_as_fewer_cpus(tmp_path: Path) -> None:
    """In a cgroup limited to half a CPU (affinity still every CPU), 2 ranks are oversubscribed."""
    group = _cgroup_v1_cpu()
    if group is None:
        pytest.skip("needs root and a writable cgroup v1 cpu controller to set a quota")
    try:
        (group / "cpu.cfs_quota_us").write_text("50000")
        (group / "cpu.cfs_period_us").write_text("100000")
        procs = group / "cgroup.procs"

        def enter() -> None:
            procs.write_text(str(os.getpid()))

        done = subprocess.run([sys.executable, "-m", "harness", "run", "cfd", "--ranks", "2",
                               "--json", "--out", str(tmp_path)], capture_output=True,
                              text=True, timeout=600, env=_env(), preexec_fn=enter, check=False)
    finally:
        deadline = time.monotonic() + 30
        while True:
            try:
                group.rmdir()
                break
            except OSError:
                assert time.monotonic() < deadline, "cgroup still busy"
                time.sleep(0.2)
    assert done.returncode == 0, done.stderr
    rec = json.loads(done.stdout)
    assert rec["cpu_quota"] == pytest.approx(0.5)
    assert rec["oversubscribed"] is True
    assert rec["provenance"]["cpus_per_node"] == pytest.approx(0.5)


@pytest.mark.mpi
def test_other_work_on_the_cpus_makes_a_run_contended(tmp_path: Path) -> None:
    """Busy loops on every CPU during the run: the record says contended, analyze excludes it."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]
    try:
        done = harness("run", "cfd", "--size", "small", "--set", "steps=2000", "--reps", "3",
                       "--json", "--out", tmp_path, "--sweep-id", "c", env=_env())
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
    assert done.returncode == 0, done.stderr
    rec = json.loads(done.stdout)
    assert rec["contended"] is True and rec["contention"] > 0.10
    assert "contended" in done.stderr
    analysis = harness("analyze", tmp_path / "c", env=_env())
    assert analysis.returncode == 2  # its only record is excluded: nothing left to analyze
    assert "contended" in analysis.stderr
    assert records.load(next((tmp_path / "c").glob("*.json"))).contended is True
