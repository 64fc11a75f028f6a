"""``harness run`` end to end: records, checksum invariance, bad input, failures, time limits."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from clitools import assert_refused, harness, run_json

from harness import records


def test_two_ranks_json_record_verified_and_equal_to_one_rank(tmp_path):
    one = run_json("cfd", "--ranks", 1, "--out", tmp_path)
    two = run_json("cfd", "--ranks", 2, "--out", tmp_path, "--variant", "overlap")
    for rec in (one, two):
        assert rec["status"] == "ok" and rec["verification"]["passed"]
        assert rec["verification"]["error"] <= rec["verification"]["tolerance"]
        assert len(rec["seconds"]) == rec["repetitions"] == 5
        assert all(lo <= hi for lo, hi in zip(rec["seconds_min"], rec["seconds"], strict=True))
        assert set(rec["phases"]) == {"compute", "halo", "reduce"}
        assert rec["fom"]["unit"] == "cell updates/s" and rec["fom"]["value"] > 0
        assert rec["provenance"]["mpi_library"] and rec["provenance"]["python"]
    assert one["ranks"] == 1 and two["ranks"] == 2
    for key in ("sum", "l2"):
        assert two["verification"]["checksum"][key] == pytest.approx(
            one["verification"]["checksum"][key], rel=1e-12, abs=1e-12)
    files = sorted((tmp_path / "adhoc").glob("*.json"))
    assert [f.name.split("-")[2] for f in files] == ["p1", "p2"]
    for f in files:
        records.load(f)


def test_oversubscription_is_recorded_and_warned(tmp_path):
    ranks = len(os.sched_getaffinity(0)) + 1
    done = harness("run", "cfd", "--ranks", ranks, "--out", tmp_path, "--json", "--reps", 1)
    assert done.returncode == 0, done.stderr
    rec = json.loads(done.stdout)
    assert rec["oversubscribed"] is True
    assert "oversubscribed" in done.stderr


def test_weak_mode_keeps_cells_per_rank(tmp_path):
    rec = run_json("cfd", "--ranks", 4, "--mode", "weak", "--out", tmp_path, "--reps", 1)
    assert rec["params"]["n"] == 128 and rec["mode"] == "weak"


@pytest.mark.parametrize("args,needle", [
    (["cfd", "--ranks", "0"], "--ranks"),
    (["cfd", "--set", "n=0"], "n=0"),
    (["cfd", "--set", "n=abc"], "n='abc'"),
    (["cfd", "--set", "steps=-3"], "steps=-3"),
    (["cfd", "--set", "steps=1.5"], "steps="),
    (["cfd", "--ranks", "4", "--set", "n=1"], "process grid"),
    (["nosuch"], "unknown workload 'nosuch'"),
    (["cfd", "--variant", "fast"], "unknown variant 'fast'"),
    (["cfd", "--size", "huge"], "unknown size 'huge'"),
    (["cfd", "--set", "colour=blue"], "unknown parameter 'colour'"),
    (["cfd", "--set", "novalue"], "key=value"),
    (["cfd", "--mode", "sideways"], "sideways"),
    (["cfd", "--set", "steps=100000"], "decays"),
    (["cfd", "--set", "kx=32", "--set", "ky=0"], "zero (or constant)"),
    (["cfd", "--set", "kx=0", "--set", "ky=0"], "zero (or constant)"),
])
def test_bad_input_exits_2_with_one_line_and_no_record(tmp_path, args, needle):
    assert_refused(harness("run", *args, "--out", tmp_path), needle, tmp_path)


def test_failure_on_one_rank_leaves_a_failed_record_and_hangs_no_one(tmp_path):
    done = harness("run", "cfd", "--ranks", 2, "--out", tmp_path, "--json",
                   env={"HARNESS_INJECT_FAULT": "1"}, timeout=120)
    assert done.returncode == 1
    rec = json.loads(done.stdout)
    assert rec["status"] == "failed"
    assert "fault injected on rank 1" in rec["error"]
    assert [p.name for p in (tmp_path / "adhoc").glob("*.json")] == [
        f"cfd-strong-p2-{rec['run_id']}.json"]


def test_failure_in_a_singleton_run_is_recorded(tmp_path):
    done = harness("run", "cfd", "--out", tmp_path, env={"HARNESS_INJECT_FAULT": "0"})
    assert done.returncode == 1
    (path,) = (tmp_path / "adhoc").glob("*.json")
    assert records.load(path).status == "failed"
    assert "harness: error:" in done.stderr


def test_time_limit_kills_the_run_and_records_a_timeout(tmp_path):
    done = harness("run", "cfd", "--ranks", 2, "--set", "n=1024", "--set", "steps=100000",
                   "--time-limit", 3, "--out", tmp_path, "--json", timeout=120)
    assert done.returncode == 1
    rec = json.loads(done.stdout)
    assert rec["status"] == "failed" and rec["error"] == "timeout after 3 s"
    assert records.load(next((tmp_path / "adhoc").glob("*.json"))).status == "failed"


def test_summary_names_fom_time_and_record(tmp_path):
    done = harness("run", "cfd", "--out", tmp_path, "--sweep-id", "mine")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "cell updates/s" in out and "median" in out and "passed" in out
    (path,) = (tmp_path / "mine").glob("cfd-strong-p1-*.json")
    assert str(path) in out


@pytest.mark.parametrize("workload", ["cfd", "fea", "opt", "param", "calibrate"])
def test_precompile_covers_every_kernel_signature(tmp_path, workload):
    # without a warm-up, any signature precompile missed would compile inside the timed region
    rec = run_json(workload, "--ranks", 2, "--warmup", 0, "--reps", 1, "--out", tmp_path)
    assert rec["compiled_while_timed"] is False


def test_environment_variables_set_options(tmp_path):
    done = harness("run", "cfd", env={"HARNESS_RUN_REPS": "2", "HARNESS_RUN_OUT": str(tmp_path),
                                      "HARNESS_RUN_JSON": "1",
                                      "HARNESS_RUN_SET": "steps=20 n=32"})
    assert done.returncode == 0, done.stderr
    rec = json.loads(done.stdout)
    assert rec["repetitions"] == 2
    assert rec["params"]["steps"] == 20 and rec["params"]["n"] == 32
    assert list((tmp_path / "adhoc").glob("*.json"))


def test_sigterm_stops_every_rank_and_leaves_a_failed_record(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "harness", "run", "calibrate", "--ranks", "2",
                             "--set", "serial_iterations=2000000000", "--time-limit", "120",
                             "--out", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    # mpiexec, its proxy and the two ranks
    while time.monotonic() < deadline and len(_ranks_of(proc.pid)) < 4:
        time.sleep(0.2)
    time.sleep(2)  # into the run proper
    ranks = _ranks_of(proc.pid)
    assert len(ranks) >= 4, "the ranks never started"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=60)
    assert proc.returncode == 143  # 128 + SIGTERM, as every command
    time.sleep(1)
    assert not [pid for pid in ranks if _alive(pid)], "a rank outlived its supervisor"
    (path,) = (tmp_path / "adhoc").glob("*.json")
    rec = records.load(path)
    assert rec.status == "failed" and "interrupted" in rec.error


def _ranks_of(parent: int) -> list[int]:
    """Every descendant of ``parent`` (mpiexec, its proxy, the ranks)."""
    children = {}
    for status in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = status.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(status.parent.name))
    out, todo = [], [parent]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_unwritable_out_is_bad_input(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    for ranks in ("1", "2"):
        assert_refused(harness("run", "cfd", "--ranks", ranks, "--out", blocker / "out"),
                       "cannot write run records", tmp_path / "nothing")
