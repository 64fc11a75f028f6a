"""``harness sweep`` and ``harness status`` as a user runs them: local sweeps end to end, resume
after an interruption, time limits, Slurm dry runs and submissions against a stand-in sbatch,
and bad input."""

import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from clitools import harness, processes_with
from rich.console import Console
from spectools import tiny_sweep

from harness import records, sweep
from harness.specs import load_spec

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = str(Path(sys.executable).parent)



def spec_file(tmp_path, text=None, repetitions=1, name="spec.toml"):
    path = tmp_path / name
    path.write_text(text if text is not None else tiny_sweep(repetitions))
    return path


def run_records(sweep_dir):
    return {p.name: records.load(p) for p in sweep_dir.glob("*.json")
            if p.name not in ("sweep.json", "analysis.json")}


def one_line_error(done, code=2):
    assert done.returncode == code, (done.stdout, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("harness: error: ")
    return lines[0]


# -- local sweeps ------------------------------------------------------------------------------


def test_local_sweep_then_resume_runs_only_the_missing_record(tmp_path):
    spec = spec_file(tmp_path)
    done = harness("sweep", spec, "--out", tmp_path, "--sweep-id", "s1", timeout=120)
    assert done.returncode == 0, done.stderr
    sweep_dir = tmp_path / "s1"
    recs = run_records(sweep_dir)
    assert sorted(r.ranks for r in recs.values()) == [1, 2]
    for rec in recs.values():
        assert (rec.status, rec.sweep_id, rec.workload, rec.size) == ("ok", "s1", "cfd", "tiny")
        assert len(rec.seconds) == 2 and rec.warmup == 1
    a, b = recs.values()  # same problem at 1 and 2 ranks: the same checksum
    assert a.verification["checksum"] == pytest.approx(b.verification["checksum"], rel=1e-12)
    state = json.loads((sweep_dir / "sweep.json").read_text())
    assert (state["state"], state["backend"], state["expected_records"]) == ("finished",
                                                                            "local", 2)
    assert [p["ranks"] for p in state["points"]] == [1, 2]
    assert "[2/2]" in done.stderr and "ETA" in done.stderr  # progress on stderr
    assert done.stdout.count("1/1") == 2 and done.stdout.count("done") == 2  # summary table

    status = harness("status", sweep_dir, "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["records"]["ok"] == 2

    # lose the 2-rank record: --resume (latest sweep of this spec) runs that one only
    (lost,) = [name for name, r in recs.items() if r.ranks == 2]
    (kept,) = [name for name, r in recs.items() if r.ranks == 1]
    (sweep_dir / lost).unlink()
    again = harness("sweep", spec, "--out", tmp_path, "--resume", timeout=120)
    assert again.returncode == 0, again.stderr
    assert "1 run(s) already ok, 1 to go" in again.stderr
    now = run_records(sweep_dir)
    assert len(now) == 2 and kept in now and lost not in now
    assert sorted(r.ranks for r in now.values()) == [1, 2]

    nothing = harness("sweep", spec, "--out", tmp_path, "--resume", "--sweep-id", "s1")
    assert nothing.returncode == 0 and "2 run(s) already ok, 0 to go" in nothing.stderr
    assert len(run_records(sweep_dir)) == 2


def test_ctrl_c_keeps_finished_records_and_resume_completes_the_sweep(tmp_path):
    spec = spec_file(tmp_path, repetitions=2)
    sweep_dir = tmp_path / "s2"
    proc = subprocess.Popen([sys.executable, "-m", "harness", "sweep", str(spec), "--out",
                             str(tmp_path), "--sweep-id", "s2"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 90
    while not run_records(sweep_dir) if sweep_dir.exists() else True:
        assert time.monotonic() < deadline and proc.poll() is None, "no record appeared"
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err
    state = json.loads((sweep_dir / "sweep.json").read_text())
    assert state["state"] == "interrupted"
    kept = run_records(sweep_dir)
    ok_before = {n for n, r in kept.items() if r.status == "ok"}
    assert 1 <= len(ok_before) < 4

    done = harness("sweep", spec, "--out", tmp_path, "--resume", "--sweep-id", "s2",
                   timeout=120)
    assert done.returncode == 0, done.stderr
    after = run_records(sweep_dir)
    assert ok_before <= set(after)  # nothing finished was lost or rewritten
    ok = [r for r in after.values() if r.status == "ok"]
    assert sorted(r.ranks for r in ok) == [1, 1, 2, 2]  # each point exactly its repetitions
    assert json.loads((sweep_dir / "sweep.json").read_text())["state"] == "finished"


def test_a_run_past_its_time_limit_is_recorded_as_failed(tmp_path):
    text = tiny_sweep(1).replace('"02:00"', '"00:02"').replace(
        "cores = [1, 2]", "cores = [1]").replace(
        'size = "tiny"', 'size = "small"\nparams = { steps = 100000, nu = 0.0 }')  # minutes
    done = harness("sweep", spec_file(tmp_path, text), "--out", tmp_path, "--sweep-id", "s3",
                   timeout=120)
    assert done.returncode == 1, done.stderr
    *progress, line = done.stderr.strip().splitlines()  # progress, then the one-line error
    assert line.startswith("harness: error: 1 of 1 runs did not pass")
    assert "failed (timeout after 2 s)" in " ".join(" ".join(progress).split())  # rich wraps
    (rec,) = run_records(tmp_path / "s3").values()
    assert rec.status == "failed" and "timeout after 2 s" in rec.error


def test_sigterm_stops_the_run_in_progress_and_resume_completes_the_sweep(tmp_path):
    # each run computes for a second or two, so SIGTERM finds the second one's ranks at work
    text = tiny_sweep(2).replace("cores = [1, 2]", "cores = [2]").replace(
        "reps = 2\nwarmup = 1", "reps = 1\nwarmup = 0").replace(
        'size = "tiny"', 'size = "small"\nparams = { steps = 30000, nu = 0.0 }')
    spec = spec_file(tmp_path, text)
    sweep_dir = tmp_path / "st"
    marker = f"HARNESS_SWEEP_TEST={uuid.uuid4().hex}"
    env = {**os.environ, marker.split("=")[0]: marker.split("=")[1]}
    proc = subprocess.Popen([sys.executable, "-m", "harness", "sweep", str(spec), "--out",
                             str(tmp_path), "--sweep-id", "st"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 90
        while True:  # sweep.json says the first run is over, and the second run's ranks are up
            assert time.monotonic() < deadline and proc.poll() is None, "no second run"
            state_file = sweep_dir / "sweep.json"
            ran = json.loads(state_file.read_text())["progress"]["ran"] if (
                state_file.exists()) else 0
            ranks = {pid for pid, argv in processes_with(marker).items()
                     if "--supervised" in argv and "python" in Path(argv[0]).name}
            if ran == 1 and len(ranks) == 2:  # both ranks started, not just the first
                break
            time.sleep(0.05)
        (first,) = run_records(sweep_dir)
        first_bytes = (sweep_dir / first).read_bytes()
        tree = processes_with(marker)
        (child,) = [pid for pid, argv in tree.items()
                    if "run" in argv and "--supervised" not in argv]  # harness run, from the sweep
        assert child != proc.pid and set(tree) - {proc.pid, child} > ranks
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 143, err
        assert err.strip().splitlines()[-1].startswith("harness: terminated (SIGTERM)")
        # nothing the sweep started outlives it: harness run, mpiexec and its proxy, the ranks
        with pytest.raises(ProcessLookupError):
            os.killpg(child, 0)  # harness run's own process group is empty
        deadline = time.monotonic() + 60  # a loaded machine reaps slowly
        while processes_with(marker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with(marker) == {}
    finally:
        for pid in processes_with(marker):  # only after a failure: stop what this test started
            os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()
            proc.communicate()

    state = json.loads((sweep_dir / "sweep.json").read_text())
    assert (state["state"], state["interrupted_by"]) == ("interrupted", "SIGTERM")
    assert (state["progress"]["ran"], state["progress"]["current"]) == (1, None)
    assert (sweep_dir / first).read_bytes() == first_bytes  # the finished record is kept
    assert records.load(sweep_dir / first).status == "ok"

    done = harness("sweep", spec, "--out", tmp_path, "--resume", "--sweep-id", "st",
                   timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 run(s) already ok, 1 to go" in done.stderr
    ok = [r for r in run_records(sweep_dir).values() if r.status == "ok"]
    assert len(ok) == 2 and (sweep_dir / first).read_bytes() == first_bytes
    state = json.loads((sweep_dir / "sweep.json").read_text())
    assert state["state"] == "finished" and "interrupted_by" not in state
    assert state["progress"] == {"planned": 1, "ran": 1, "failed": 0, "skipped": 1,
                                 "current": None}


def test_sweep_json_is_rewritten_around_every_run(tmp_path, monkeypatch):
    """What a sweep killed outright (SIGKILL) leaves: sweep.json as of its last run."""
    spec = load_spec(spec_file(tmp_path, repetitions=2))
    seen = []

    def fake_run(point, out, sweep_id):  # records what sweep.json says while this run goes on
        state = json.loads((out / sweep_id / "sweep.json").read_text())
        seen.append((state["state"], state["progress"]))
        status = "failed" if len(seen) == 2 else "ok"  # the second run fails
        return SimpleNamespace(status=status, seconds=[0.5], error="")

    monkeypatch.setattr(sweep, "run_point", fake_run)
    result = sweep.run_local(spec, tmp_path, "sj")
    keys = [p.key for p in spec.points for _ in range(2)]
    assert seen == [("running", {"planned": 4, "ran": k, "failed": int(k >= 2), "skipped": 0,
                                 "current": keys[k]}) for k in range(4)]
    final = json.loads((tmp_path / "sj" / "sweep.json").read_text())
    assert final["state"] == "finished" and (result.ran, result.failed) == (4, 1)
    assert final["progress"] == {"planned": 4, "ran": 4, "failed": 1, "skipped": 0,
                                 "current": None}


def test_a_local_sweep_reports_to_its_observer_and_the_display_draws_it(tmp_path, monkeypatch):
    """The backend tells an observer each step (harness/sweep.py SweepEvents); the command
    line's RichProgress turns them into the lines on stderr and the table on stdout."""
    from harness.cli.sweep import RichProgress

    spec = load_spec(spec_file(tmp_path, repetitions=2))
    runs = iter(["ok", "failed", "ok", "ok"])

    def fake_run(point, out, sweep_id):  # no record on disk: the table says "missing"
        status = next(runs)
        return SimpleNamespace(status=status, seconds=[0.5] if status == "ok" else [],
                               error="boom\ntrace" if status == "failed" else "")

    monkeypatch.setattr(sweep, "run_point", fake_run)
    heard = []

    class Recorder(sweep.SweepEvents):
        def started(self, sweep_id, runs, skipped):
            heard.append(("started", sweep_id, runs, skipped))

        def run_started(self, point):
            heard.append(("run_started", point.key))

        def run_finished(self, done, runs, point, record):
            heard.append(("run_finished", done, runs, point.key, record.status))

        def stopped(self):
            heard.append(("stopped",))

        def ended(self, state, sweep_dir):
            heard.append(("ended", state["state"], sweep_dir.name))

    sweep.run_local(spec, tmp_path, "ev", events=Recorder())
    keys = [p.key for p in spec.points for _ in range(2)]
    statuses = ["ok", "failed", "ok", "ok"]
    assert heard == [("started", "ev", 4, 0)] + [
        step for k in range(4) for step in (("run_started", keys[k]),
                                            ("run_finished", k + 1, 4, keys[k], statuses[k]))
    ] + [("stopped",), ("ended", "finished", "ev")]

    runs = iter(statuses)
    out, err = io.StringIO(), io.StringIO()
    display = RichProgress(out=Console(file=out, width=200), err=Console(file=err, width=200))
    sweep.run_local(spec, tmp_path, "ev2", events=display)
    lines = [x for x in err.getvalue().splitlines() if x.startswith("[")]
    shown = ["ok 0.5 s", "failed (boom)", "ok 0.5 s", "ok 0.5 s"]
    assert lines == [f"[{k + 1}/4] {spec.points[k // 2].label}: {shown[k]}" for k in range(4)]
    table = out.getvalue()
    assert "sweep ev2" in table and table.count(" 0/2 ") == 2 and table.count("missing") == 2
    assert f"records in {tmp_path.resolve() / 'ev2'}" in table


# -- Slurm without a cluster: dry run and a stand-in sbatch ------------------------------------

FAKE_SBATCH = """#!{python}
import json, os, sys
log = os.environ["FAKE_SBATCH_LOG"]
calls = open(log).read().splitlines() if os.path.exists(log) else []
count_file = log + ".attempts"
attempts = (int(open(count_file).read()) if os.path.exists(count_file) else 0) + 1
open(count_file, "w").write(str(attempts))
if str(attempts) == os.environ.get("FAKE_SBATCH_FAIL"):
    print("sbatch: error: Batch job submission failed: Invalid partition name specified",
          file=sys.stderr)
    sys.exit(1)
open(log, "a").write(json.dumps(sys.argv[1:]) + "\\n")
print(f"{{1001 + len(calls)}};cluster")
"""


@pytest.fixture
def fake_sbatch(tmp_path):
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    path = bin_dir / "sbatch"
    path.write_text(FAKE_SBATCH.format(python=sys.executable))
    path.chmod(0o755)
    log = tmp_path / "sbatch.jsonl"
    env = {"PATH": f"{bin_dir}:{VENV_BIN}:/usr/bin:/bin", "FAKE_SBATCH_LOG": str(log)}

    def calls():
        return [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []

    return env, calls


def test_dry_run_writes_and_prints_scripts_and_commands_without_submitting(tmp_path,
                                                                          fake_sbatch):
    env, calls = fake_sbatch
    done = harness("sweep", ROOT / "jobs" / "platform.toml", "--slurm", "--dry-run", "--out",
                   tmp_path, "--sweep-id", "pf", env=env)
    assert done.returncode == 0, done.stderr
    jobs = tmp_path / "pf" / "jobs"
    names = [f"platform-p{c}" for c in (5, 50, 250, 500, 2500)]
    assert sorted(p.name for p in jobs.iterdir()) == sorted(
        f"{n}.sbatch" for n in [*names, "platform-analysis"])
    for script in jobs.iterdir():
        assert script.read_text() in done.stdout
        assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    for name in names:
        assert f"sbatch --parsable {jobs / name}.sbatch\n" in done.stdout
    deps = ":".join(f"JOBID_p{c}" for c in (5, 50, 250, 500, 2500))
    assert (f"sbatch --parsable --dependency=afterany:{deps} {jobs}/platform-analysis.sbatch"
            in done.stdout)
    assert calls() == []
    state = json.loads((tmp_path / "pf" / "sweep.json").read_text())
    assert state["state"] == "dry-run" and all(j["job_id"] is None for j in state["jobs"])


def test_failed_submission_is_recorded_and_retry_submits_nothing_twice(tmp_path, fake_sbatch):
    env, calls = fake_sbatch
    spec = spec_file(tmp_path)
    first = harness("sweep", spec, "--slurm", "--out", tmp_path, "--sweep-id", "sub",
                    env={**env, "FAKE_SBATCH_FAIL": "2"})
    line = one_line_error(first, code=1)
    assert "Invalid partition name" in line and "1 of 3 jobs went out" in line
    assert "--resume --sweep-id sub" in line
    state = json.loads((tmp_path / "sub" / "sweep.json").read_text())
    assert [j["job_id"] for j in state["jobs"]] == ["1001", None, None]
    assert state["state"] == "submission failed"

    retry = harness("sweep", spec, "--slurm", "--out", tmp_path, "--sweep-id", "sub",
                    "--resume", env=env)
    assert retry.returncode == 0, retry.stderr
    assert "tiny-p1: already submitted as job 1001" in retry.stdout
    scripts = [Path(c[-1]).name for c in calls()]
    assert scripts == ["tiny-p1.sbatch", "tiny-p2.sbatch", "tiny-analysis.sbatch"]
    assert calls()[-1][:2] == ["--parsable", "--dependency=afterany:1001:1002"]
    state = json.loads((tmp_path / "sub" / "sweep.json").read_text())
    assert [j["job_id"] for j in state["jobs"]] == ["1001", "1002", "1003"]
    assert state["state"] == "submitted"

    done = harness("sweep", spec, "--slurm", "--out", tmp_path, "--sweep-id", "sub",
                   "--resume", env=env)
    assert done.returncode == 0 and len(calls()) == 3  # all out already: nothing resubmitted


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "fragment"), [
    ([('name = "tiny"', 'name = "tiny"\ncolour = "red"')], "unknown key 'colour'"),
    ([("cores = [1, 2]", "baseline_cores = 2\nscales = [0, 1]")], "scale 0"),
    ([("cores = [1, 2]", "cores = [4, 6]"),
      ("cores_per_node = 4", "cores_per_node = 4\nfull_nodes = true")], "do not fill whole nodes"),
    ([('"02:00"', '"2:99"')], "time_limit"),
    ([('name = "cfd"', 'name = "nbody"')], "not a workload"),
    ([('size = "tiny"', 'size = ["tiny"]')], "size"),
])
def test_bad_specs_exit_2_with_one_line(tmp_path, changes, fragment):
    text = tiny_sweep(1)
    for old, new in changes:
        text = text.replace(old, new)
    line = one_line_error(harness("sweep", spec_file(tmp_path, text), "--out", tmp_path))
    assert fragment in line and "spec.toml" in line
    assert not any(tmp_path.glob("tiny-*"))  # nothing was started


def test_bad_invocations_exit_2_with_one_line(tmp_path, fake_sbatch):
    env, calls = fake_sbatch
    spec = spec_file(tmp_path)
    assert "no such spec file" in one_line_error(harness("sweep", tmp_path / "none.toml"))
    no_partition = spec_file(tmp_path, tiny_sweep(1).replace(
        'partition = "local"\n', ""), name="nopart.toml")
    assert "needs partition" in one_line_error(
        harness("sweep", no_partition, "--slurm", "--dry-run", "--out", tmp_path))
    no_sbatch = {"PATH": f"{VENV_BIN}:/nonexistent"}
    assert one_line_error(harness("sweep", spec, "--slurm", "--out", tmp_path,
                                  env=no_sbatch)) == (
        "harness: error: sbatch not found; use --local or --dry-run")
    assert "nothing to resume" in one_line_error(
        harness("sweep", spec, "--resume", "--out", tmp_path / "empty"))
    assert harness("sweep", spec, "--slurm", "--dry-run", "--out", tmp_path, "--sweep-id",
                   "taken", env=env).returncode == 0
    assert "already holds a sweep" in one_line_error(
        harness("sweep", spec, "--slurm", "--dry-run", "--out", tmp_path, "--sweep-id", "taken",
                env=env))
    assert "must be 1-128 characters" in one_line_error(
        harness("sweep", spec, "--out", tmp_path, "--sweep-id", "a;b"))
    assert "not a sweep directory" in one_line_error(harness("status", tmp_path))
    assert calls() == []
