"""Every child dies with its parent: whatever way `harness run` or `harness sweep` ends (SIGTERM
from a script that ignores SIGINT, `kill -9`), nothing it started is left in the process table,
records present before are all still there, and the exit status follows one rule (130 SIGINT,
143 SIGTERM)."""

import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from clitools import processes_with

from harness import records

pytestmark = pytest.mark.mpi

# a 2-rank run that computes for a long while, so a signal finds its ranks at work
LONG_RUN = ["run", "cfd", "--ranks", "2", "--size", "small", "--set", "steps=30000",
            "--set", "nu=0.0", "--reps", "1000", "--warmup", "0"]


def _ranks(marker: str) -> set[int]:
    return {pid for pid, argv in processes_with(marker).items() if "--supervised" in argv
            and "python" in Path(argv[0]).name}


def _start(argv: list[str], marker: str, ignore_sigint: bool = False) -> subprocess.Popen:
    name, value = marker.split("=")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARNESS_")}
    env[name] = value

    def detach() -> None:  # like `nohup cmd &` from a script: SIGINT ignored
        if ignore_sigint:
            signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.Popen([sys.executable, "-m", "harness", *argv], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, preexec_fn=detach)


def _wait_for(condition, what: str, proc: subprocess.Popen, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert proc.poll() is None, f"ended before {what}: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"no {what} within {seconds} s"
        time.sleep(0.1)


def _nothing_left(marker: str, seconds: float = 60) -> dict[int, list[str]]:
    """Wait (the kernel delivers death signals asynchronously) until no process with the
    marker is left; return what is left after ``seconds``."""
    deadline = time.monotonic() + seconds
    while processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.2)
    return processes_with(marker)


def _kill_all(marker: str) -> None:
    for pid in processes_with(marker):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_kill_9_of_the_supervisor_takes_mpiexec_and_the_ranks(tmp_path: Path) -> None:
    marker = f"HARNESS_TEST_MARK={uuid.uuid4().hex}"
    proc = _start([*LONG_RUN, "--out", str(tmp_path), "--sweep-id", "k"], marker)
    try:
        _wait_for(lambda: len(_ranks(marker)) == 2, "two ranks", proc)
        proc.kill()  # SIGKILL: no handler, no cleanup in the supervisor itself
        proc.communicate(timeout=30)
        left = _nothing_left(marker)
        assert left == {}, f"orphans: {left}"
    finally:
        _kill_all(marker)


def test_sigterm_to_run_exits_143_with_an_interrupted_record(tmp_path: Path) -> None:
    marker = f"HARNESS_TEST_MARK={uuid.uuid4().hex}"
    proc = _start([*LONG_RUN, "--out", str(tmp_path), "--sweep-id", "t"], marker,
                  ignore_sigint=True)
    try:
        _wait_for(lambda: len(_ranks(marker)) == 2, "two ranks", proc)
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 143
        assert _nothing_left(marker) == {}
    finally:
        _kill_all(marker)
    (path,) = (tmp_path / "t").glob("*.json")
    rec = records.load(path)
    assert rec.status == "failed" and rec.error.startswith("interrupted (SIGTERM)")


def test_sigterm_to_a_sweep_started_from_a_script(tmp_path: Path) -> None:
    """SIGINT ignored (nohup, CI): SIGTERM still stops the run in progress and its ranks; the
    run gets an interrupted record; the ok record from before is still there."""
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'name = "long"\ncores = [1, 2]\nruns = 1\nreps = 1000\nwarmup = 0\n'
        'time_limit = "30:00"\n[[workload]]\nname = "cfd"\nsize = "small"\n'
        "params = { steps = 30000, nu = 0.0 }\n", encoding="utf-8")
    # an earlier ok run of the same sweep, which must survive
    done = subprocess.run([sys.executable, "-m", "harness", "run", "cfd", "--size", "tiny",
                           "--out", str(tmp_path / "o"), "--sweep-id", "sw"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    (earlier,) = (tmp_path / "o" / "sw").glob("*.json")
    earlier_bytes = earlier.read_bytes()
    marker = f"HARNESS_TEST_MARK={uuid.uuid4().hex}"
    proc = _start(["sweep", str(spec), "--out", str(tmp_path / "o"), "--sweep-id", "sw"],
                  marker, ignore_sigint=True)
    try:
        _wait_for(lambda: len(_ranks(marker)) >= 1, "a run in progress", proc)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
        assert proc.returncode == 143, err
        left = _nothing_left(marker)
        assert left == {}, f"orphans: {left}"
    finally:
        _kill_all(marker)
    recs = {p: records.load(p) for p in (tmp_path / "o" / "sw").glob("*.json")
            if p.name != "sweep.json"}
    assert earlier in recs and earlier.read_bytes() == earlier_bytes
    stopped = [r for p, r in recs.items() if p != earlier]
    assert len(stopped) == 1
    assert stopped[0].status == "failed" and stopped[0].error.startswith("interrupted")
