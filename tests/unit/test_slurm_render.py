"""Slurm job scripts: the #SBATCH lines, valid bash, inert payloads, and status inference."""

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from spectools import SMALL

from harness import cli, records, sweep, sweepstate
from harness.errors import BadInputError, LaunchError, SpecError
from harness.launch import launchers, local, slurm
from harness.specs import load_spec

PLATFORM_LIKE = """
name = "plat"
baseline_cores = 5
scales = [1, 500]
runs = 3
time_limit = "00:20:00"

[profile]
partition = "compute"
account = "hpc"
qos = "normal"
constraint = "ib&skylake"
cores_per_node = 50
full_nodes = true
exclusive = true
array_throttle = 1
sbatch_options = ["--mem=0"]
preamble = ["module load gcc/12 python/3.11"]

[[workload]]
name = "cfd"
variants = ["blocking", "overlap"]
size = "tiny"

[analysis]
report = true
kpi_push = true
store = "sqlite:///kpi.sqlite"
"""


ODD = """
name = "odd"
cores = [65, 70]
time_limit = "10"

[profile]
partition = "batch"
cores_per_node = 64

[[workload]]
name = "cfd"
size = "tiny"
"""


@pytest.fixture
def future_commands(monkeypatch):
    """``harness report`` and ``harness kpi`` as if they existed: PLATFORM_LIKE switches them
    on, and the analysis template keeps their place (specs refuse them until they exist)."""
    monkeypatch.setitem(cli.COMMANDS, "report", "harness.cli.report:report")
    monkeypatch.setitem(cli.COMMANDS, "kpi", "harness.cli.kpi:kpi")


def spec_from(tmp_path, text):
    path = tmp_path / "spec.toml"
    path.write_text(text)
    return load_spec(path)


def sbatch_set(text):
    return {line[len("#SBATCH "):] for line in text.splitlines() if line.startswith("#SBATCH ")}


def bash_n(text, tmp_path, name="job.sbatch"):
    path = tmp_path / name
    path.write_text(text)
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def by_key(jobs):
    return {j.key: j for j in jobs}


# -- the #SBATCH lines -------------------------------------------------------------------------


def test_platform_like_spec_sbatch_sets(tmp_path, future_commands):
    d = tmp_path / "out" / "sw"
    jobs = by_key(slurm.render(spec_from(tmp_path, PLATFORM_LIKE), d))
    assert list(jobs) == ["p5", "p2500", "analysis"]
    logs = f"{d}/logs/%x-%A_%a"
    common = {"--partition=compute", "--account=hpc", "--qos=normal", "--cpus-per-task=1",
              "--constraint=ib&skylake", "--exclusive", "--array=0-2%1", "--mem=0",
              f"--output={logs}.out", f"--error={logs}.err",
              "--signal=B:USR1@120"}  # warned 2 min before the limit: what is cut is recorded
    # 2 points x (20 min limit + 1 min margin) + 2 min for the job = 44 min
    assert sbatch_set(jobs["p2500"].text) == common | {
        "--job-name=plat-p2500", "--time=00:44:00", "--nodes=50", "--ntasks=2500",
        "--ntasks-per-node=50"}
    assert sbatch_set(jobs["p5"].text) == common | {
        "--job-name=plat-p5", "--time=00:44:00", "--nodes=1", "--ntasks=5",
        "--ntasks-per-node=5"}
    assert sbatch_set(jobs["analysis"].text) == {
        "--job-name=plat-analysis", "--time=00:10:00", "--partition=compute", "--account=hpc",
        "--qos=normal", "--nodes=1", "--ntasks=1", "--cpus-per-task=1",
        f"--output={d}/logs/%x-%j.out", f"--error={d}/logs/%x-%j.err"}
    assert jobs["p2500"].sbatch_lines == [
        line[8:] for line in jobs["p2500"].text.splitlines() if line.startswith("#SBATCH ")]


def test_small_spec_without_array_with_mpiexec(tmp_path):
    d = tmp_path / "sw"
    python = "/opt/venv/bin/python"
    jobs = by_key(slurm.render(spec_from(tmp_path, SMALL), d, python=python))
    assert sbatch_set(jobs["p2"].text) == {
        "--job-name=small-p2", "--time=1-00:00:00", "--partition=local", "--nodes=1",
        "--ntasks=2", "--ntasks-per-node=2", "--cpus-per-task=1", "--signal=B:USR1@120",
        f"--output={d}/logs/%x-%j.out", f"--error={d}/logs/%x-%j.err"}
    assert "/opt/venv/bin/mpiexec -n 2 /opt/venv/bin/python -m harness run cfd" in jobs["p2"].text
    assert "srun" not in jobs["p2"].text
    assert "harness report" not in jobs["analysis"].text
    assert "kpi push" not in jobs["analysis"].text


def test_nodes_and_tasks_per_node_for_uneven_counts(tmp_path):
    jobs = by_key(slurm.render(spec_from(tmp_path, ODD), tmp_path / "sw"))
    s65, s70 = sbatch_set(jobs["p65"].text), sbatch_set(jobs["p70"].text)
    assert {"--nodes=2", "--ntasks=65"} <= s65
    assert not any(x.startswith("--ntasks-per-node") for x in s65)  # 65 does not split evenly
    assert {"--nodes=2", "--ntasks=70", "--ntasks-per-node=35"} <= s70
    assert "--time=00:13:00" in s70  # 1 point x (10 + 1) min + 2 min


@pytest.mark.parametrize("text", [PLATFORM_LIKE, SMALL, ODD])
def test_every_script_is_valid_bash_with_sbatch_lines_first(tmp_path, text, future_commands):
    for job in slurm.render(spec_from(tmp_path, text), tmp_path / "sw"):
        bash_n(job.text, tmp_path)
        lines = job.text.splitlines()
        assert lines[0] == "#!/bin/bash"
        # sbatch reads #SBATCH lines only before the first command
        first_command = next(i for i, x in enumerate(lines[1:], 1) if x and not x.startswith("#"))
        assert all(i < first_command for i, x in enumerate(lines) if x.startswith("#SBATCH"))
        assert "export OMP_NUM_THREADS=1 NUMBA_NUM_THREADS=1" in job.text
        assert "export NUMBA_CACHE_DIR=" in job.text


def test_scale_script_body(tmp_path, future_commands):
    spec = spec_from(tmp_path, PLATFORM_LIKE)
    d = tmp_path / "sw"
    jobs = by_key(slurm.render(spec, d))
    text = jobs["p2500"].text
    assert text.count("srun --mpi=pmi2 --cpu-bind=cores -n 2500 ") == 2
    assert "module load gcc/12 python/3.11\n" in text  # site preamble, verbatim
    assert f"export NUMBA_CACHE_DIR={tmp_path}/numba-cache" in text
    for point in spec.points_at(2500):
        assert f'run_id={point.key}"-j${{job}}-r${{rep}}-a${{attempt}}"' in text
        assert f"--variant {point.variant}" in text
    analysis = jobs["analysis"].text
    assert "-m harness analyze \"$sweep\" --format json" in analysis
    assert "-m harness analyze \"$sweep\" --format table" in analysis
    assert "-m harness report \"$sweep\"" in analysis
    assert "-m harness kpi push \"$sweep\" --store sqlite:///kpi.sqlite" in analysis
    # the sweep's KPI rows are prepared before the push, which then stores them
    assert analysis.index("-m harness kpi prepare \"$sweep\"") < analysis.index("kpi push")



# -- running a rendered script with stand-ins for timeout/srun/python --------------------------


def stub(directory, name, body):
    path = directory / name
    path.write_text(f"#!{sys.executable}\nimport json, os, sys\n{body}\n")
    path.chmod(0o755)
    return path


def run_script(tmp_path, job, timeout_rc=0, env_extra=None):
    """Run ``job`` with a ``timeout`` on PATH that logs its argv and exits ``timeout_rc``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.jsonl"
    stub(bin_dir, "timeout", f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                             f"sys.exit({timeout_rc})")
    path = tmp_path / "job.sbatch"
    path.write_text(job.text)
    env = {"PATH": f"{bin_dir}:{os.environ['PATH']}", "HOME": str(tmp_path),
           **(env_extra or {})}
    done = subprocess.run(["bash", str(path)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60, check=False)
    calls = [json.loads(x) for x in log.read_text().splitlines()] if log.exists() else []
    return done, calls


def python_stub(tmp_path):
    """A python that logs its argv; as the job script's helper it says no point was measured
    by an earlier attempt (done-before exits 1)."""
    log = tmp_path / "python.jsonl"
    return stub(tmp_path, "python", f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) "
                                    "+ '\\n')\n"
                                    "sys.exit(1 if 'done-before' in sys.argv else 0)"), log


def test_rendered_job_runs_every_point_with_its_run_id(tmp_path):
    spec = spec_from(tmp_path, SMALL)
    python, _ = python_stub(tmp_path)
    d = tmp_path / "sw"
    job = by_key(slurm.render(spec, d, python=str(python)))["p2"]
    done, calls = run_script(tmp_path, job, env_extra={"SLURM_ARRAY_JOB_ID": "77",
                                                       "SLURM_ARRAY_TASK_ID": "1"})
    assert done.returncode == 0, done.stderr
    (point,) = spec.points_at(2)
    assert calls == [[
        "--kill-after=30", "300", str(tmp_path / "mpiexec"), "-n", "2", str(python), "-m",
        "harness", "run", "cfd", "--ranks", "2", "--mode", "strong", "--size", "tiny",
        "--variant", point.variant, "--set", "steps=3", "--out", str(tmp_path),
        "--sweep-id", "sw", "--run-id", f"{point.key}-j77-r1-a0", "--time-limit", "300"]]


@pytest.mark.parametrize("prepare_rc", [0, 2])
def test_analysis_job_prepares_kpi_rows_and_a_failure_there_does_not_fail_it(tmp_path,
                                                                              prepare_rc):
    """kpi.json is a saving: where `harness kpi prepare` fails (a damaged record the analysis
    skipped), the job says so and ends as the analysis did."""
    log = tmp_path / "python.jsonl"
    python = stub(tmp_path, "python",
                  f"open({str(log)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n"
                  f"sys.exit({prepare_rc} if 'prepare' in sys.argv else 0)")
    job = by_key(slurm.render(spec_from(tmp_path, SMALL), tmp_path / "sw",
                              python=str(python)))["analysis"]
    (tmp_path / "sw").mkdir()  # made by `harness sweep --slurm` before it submits
    done, _ = run_script(tmp_path, job)
    assert done.returncode == 0, done.stderr
    calls = [json.loads(x) for x in log.read_text().splitlines()]
    assert ["-m", "harness", "kpi", "prepare", str(tmp_path / "sw")] in calls
    assert ("kpi.json not prepared" in done.stderr) == bool(prepare_rc)


REAL_POPEN = subprocess.Popen


def _run_id_blanked(argv):
    """``argv`` from ``-m`` on (after the launcher and the interpreter), its run id blanked."""
    argv = list(argv[argv.index("-m"):])
    argv[argv.index("--run-id") + 1] = "RUN"
    return argv


def local_sweep_argv(point, out, monkeypatch):
    """What the local sweep passes to Popen for one run of ``point`` (the run never starts)."""
    seen = []
    real = REAL_POPEN

    class NoRun:
        returncode, pid = 0, 0

        def communicate(self, timeout=None):
            return "", ""

    def popen(argv, *args, **kwargs):  # others (git for the provenance) run as usual
        if isinstance(argv, list) and argv[1:4] == ["-m", "harness", "run"]:
            seen.append(argv)
            return NoRun()
        return real(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", popen)
    rec = sweep.run_point(point, out, "sw")  # no record: the sweep writes a failed one
    assert rec.status == "failed"
    (argv,) = seen
    return argv


def relaunch_argv(point, out, monkeypatch):
    """What ``harness run --ranks N`` outside MPI runs under mpiexec for ``point``'s case (the
    supervised child is not started)."""
    for var in (*launchers.Mpiexec.environment, *launchers.Srun.environment):
        monkeypatch.delenv(var, raising=False)
    seen = []

    def no_run(argv, time_limit=None):
        seen.append(argv)
        return local.Completed(returncode=2, timed_out=False, interrupted=False, stderr_tail="")

    monkeypatch.setattr(local, "run_supervised", no_run)
    args = ["run", point.workload, "--ranks", str(point.ranks), "--mode", point.mode,
            "--size", point.size, "--variant", point.variant,
            *[x for k, v in point.params.items() for x in ("--set", f"{k}={v}")],
            *(["--reps", str(point.reps)] if point.reps is not None else []),
            *(["--warmup", str(point.warmup)] if point.warmup is not None else []),
            "--out", str(out), "--sweep-id", "sw", "--run-id", "r1",
            "--time-limit", str(point.time_limit)]
    done = CliRunner().invoke(cli.cli, args)
    assert done.exit_code == 2, done.output  # the stand-in child's "bad input": no record
    (argv,) = seen
    return argv


@pytest.mark.parametrize("extra", ["", "reps = 2\nwarmup = 0\n"])
def test_the_job_script_the_local_sweep_and_the_relaunch_run_the_same_command(
        tmp_path, monkeypatch, extra):
    """The three places that start `harness run` for a point — the Slurm job script, the local
    sweep and `harness run --ranks N` relaunching itself under mpiexec — pass the same options
    with the same values in the same order. The relaunched child gets no time limit (its
    supervisor keeps it), is marked --supervised, and gets harness run's own --reps and
    --warmup where the spec leaves them out."""
    text = SMALL.replace('time_limit = "05:00"', 'time_limit = "05:00"\n' + extra).replace(
        "params = { steps = 3 }", 'params = { steps = 3, nu = 0.02, kx = 3 }\n'
        'variants = ["blocking", "overlap"]\nmodes = ["strong", "weak"]')
    spec = spec_from(tmp_path, text)
    python, _ = python_stub(tmp_path)
    d = tmp_path / "sw"
    job = by_key(slurm.render(spec, d, python=str(python)))["p2"]
    done, calls = run_script(tmp_path, job, env_extra={"SLURM_JOB_ID": "8"})
    assert done.returncode == 0, done.stderr
    points = spec.points_at(2)
    assert len(calls) == len(points) == 4
    for point, argv in zip(points, calls, strict=True):
        assert argv[argv.index("-m") - 1] == str(python)
        script = _run_id_blanked(argv)
        assert argv[script.index("--run-id") + argv.index("-m") + 1] == f"{point.key}-j8-r0-a0"
        swept = local_sweep_argv(point, tmp_path, monkeypatch)
        assert swept[0] == sys.executable and _run_id_blanked(swept) == script
        relaunched = relaunch_argv(point, tmp_path, monkeypatch)
        assert relaunched[relaunched.index("-m") - 1] == sys.executable
        expected = [x for x in script if x not in ("--time-limit", str(point.time_limit))]
        if not extra:  # harness run's defaults, passed on to the child
            at = expected.index("--out")
            expected[at:at] = ["--reps", "5", "--warmup", "1"]
        assert _run_id_blanked(relaunched) == [*expected, "--supervised"]
        if extra:
            assert script[script.index("--reps"):][:4] == ["--reps", "2", "--warmup", "0"]


def test_a_run_that_times_out_gets_a_failed_record_and_fails_the_job(tmp_path):
    spec = spec_from(tmp_path, SMALL)
    python, log = python_stub(tmp_path)
    job = by_key(slurm.render(spec, tmp_path / "sw", python=str(python)))["p1"]
    done, calls = run_script(tmp_path, job, timeout_rc=124, env_extra={"SLURM_JOB_ID": "9"})
    assert done.returncode == 1 and len(calls) == 1
    (point,) = spec.points_at(1)
    assert [json.loads(x) for x in log.read_text().splitlines()] == [
        ["-m", "harness.launch.jobscript", "done-before", str(tmp_path / "sw"), point.key, "9",
         "0"],
        ["-m", "harness.launch.jobscript", "ensure-record", str(tmp_path / "sw"), point.key,
         f"{point.key}-j9-r0-a0", "124"]]


def test_ensure_record_writes_one_failed_record(tmp_path):
    spec = spec_from(tmp_path, SMALL)
    sweep_dir, state = sweepstate.open_sweep(spec, tmp_path, "sw", False, "slurm")
    sweepstate.write_state(sweep_dir, state)
    point = spec.points_at(2)[0]
    run_id = f"{point.key}-j5-r0"
    slurm.ensure_record(sweep_dir, point.key, run_id, 124)
    slurm.ensure_record(sweep_dir, point.key, run_id, 124)  # already there: nothing new
    (path,) = [p for p in sweep_dir.glob("*.json") if p.name != "sweep.json"]
    rec = records.load(path)
    assert (rec.status, rec.error, rec.ranks, rec.run_id) == (
        "failed", "timeout after 300 s", 2, run_id)
    assert rec.params == point.resolved
    slurm.ensure_record(sweep_dir, point.key, f"{point.key}-j6-r0", 1)
    errors = sorted(records.load(p).error for p in sweep_dir.glob("*.json")
                    if p.name != "sweep.json")
    assert errors == ["the launcher exited with code 1 and the run left no record",
                      "timeout after 300 s"]


# -- injection ---------------------------------------------------------------------------------

PAYLOADS = ["$(touch {d}/PWNED1)", "`touch {d}/PWNED2`", "x; touch {d}/PWNED3",
            "x\ntouch {d}/PWNED4", "x' ; touch {d}/PWNED5 ; '", 'x" ; touch {d}/PWNED6 ; "']


def test_payloads_in_values_reach_the_command_as_data(tmp_path):
    """Values that bypassed validation still cannot run: each arrives as one argument."""
    spec = spec_from(tmp_path, SMALL)
    payloads = [p.format(d=tmp_path) for p in PAYLOADS]
    point = spec.points_at(1)[0]
    evil = dataclasses.replace(
        point, params={f"k{i}": v for i, v in enumerate(payloads)}, variant=payloads[0],
        size=payloads[3], workload=payloads[4], mode=payloads[5])
    spec = dataclasses.replace(spec, points=(evil,), cores=(1,))
    python, _ = python_stub(tmp_path)
    job = by_key(slurm.render(spec, tmp_path / "sw", python=str(python)))["p1"]
    bash_n(job.text, tmp_path)
    lines = job.text.splitlines()
    comment = next(i for i, x in enumerate(lines) if x.startswith("# 1/1: "))
    assert lines[comment + 1].startswith("run_id=")  # the label cannot break out of its comment
    assert records.check_id("run id", evil.key) == evil.key  # keys are file-name safe
    done, calls = run_script(tmp_path, job)
    assert done.returncode == 0, done.stderr
    assert not list(tmp_path.glob("PWNED*"))
    (argv,) = calls
    for i, value in enumerate(payloads):
        assert argv[argv.index(f"k{i}={value}") - 1] == "--set"
    assert argv[argv.index("--variant") + 1] == payloads[0]
    assert argv[argv.index("--size") + 1] == payloads[3]
    assert argv[argv.index("run") + 1] == payloads[4]
    assert argv[argv.index("--mode") + 1] == payloads[5]


@pytest.mark.parametrize("field", ["partition", "account", "qos", "constraint"])
@pytest.mark.parametrize("payload", [*PAYLOADS, "a b"])
def test_payloads_in_sbatch_lines_are_refused_at_render(tmp_path, field, payload):
    spec = spec_from(tmp_path, SMALL)
    bad = dataclasses.replace(spec, profile=dataclasses.replace(
        spec.profile, **{field: payload.format(d=tmp_path)}))
    with pytest.raises(LaunchError, match="#SBATCH"):
        slurm.render(bad, tmp_path / "sw")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_payloads_in_the_job_name_are_refused(tmp_path, payload):
    spec = spec_from(tmp_path, SMALL)
    with pytest.raises(LaunchError):
        slurm.render(dataclasses.replace(spec, name=payload.format(d=tmp_path)), tmp_path / "sw")
    text = SMALL.replace('name = "small"', f"name = {json.dumps(payload)}")
    with pytest.raises(SpecError, match="spec name"):
        spec_from(tmp_path, text)


@pytest.mark.parametrize("where", ["sweep dir", "python"])
@pytest.mark.parametrize("name", ["a b$(id)", "sw\n"])  # a trailing newline is no path character
def test_paths_with_shell_characters_are_refused(tmp_path, where, name):
    spec = spec_from(tmp_path, SMALL)
    odd = str(tmp_path / name)
    with pytest.raises(BadInputError, match="cannot go into a job script"):
        if where == "python":
            slurm.render(spec, tmp_path / "sw", python=odd)
        else:
            slurm.render(spec, Path(odd))


def test_missing_partition_is_a_spec_error(tmp_path):
    spec = spec_from(tmp_path, SMALL.replace('partition = "local"\n', ""))
    with pytest.raises(SpecError, match="partition"):
        slurm.render(spec, tmp_path / "sw")


def test_sbatch_filter_refuses_non_tokens():
    for bad in ["a b", "a\nb", "a'b", 'a"b', "$x", "a;b", "`x`", "--mem=0\n", "a\n", "\na"]:
        with pytest.raises(LaunchError):
            slurm._sbatch_token(bad)
    assert slurm._sbatch_token("--constraint=a&b|c") == "--constraint=a&b|c"


# -- what a Slurm admin expects ------------------------------------------------------------------


def test_memory_per_node_sets_mem_and_srun_binds_ranks_to_cores(tmp_path):
    text = PLATFORM_LIKE.replace('sbatch_options = ["--mem=0"]', 'memory_per_node = "192G"')
    text = text.replace("[analysis]\nreport = true\nkpi_push = true\n", "[analysis]\n")
    jobs = by_key(slurm.render(spec_from(tmp_path, text), tmp_path / "out" / "sw"))
    assert "--mem=196608M" in sbatch_set(jobs["p2500"].text)
    assert "--exclusive" in sbatch_set(jobs["p2500"].text)
    run_lines = [line for line in jobs["p2500"].text.splitlines() if "-m harness run" in line]
    assert run_lines and all("srun --mpi=pmi2 --cpu-bind=cores -n 2500" in line
                             for line in run_lines)
    # without memory_per_node no --mem is invented
    small = by_key(slurm.render(spec_from(tmp_path, SMALL), tmp_path / "out" / "s2"))
    assert not any(line.startswith("--mem") for line in small["p1"].sbatch_lines)


@pytest.mark.parametrize(("out", "cache", "warned"), [
    ("/tmp/results", None, ["--out /tmp/results", "numba_cache_dir /tmp/results/numba-cache"]),
    ("/shared/results", "/dev/shm/cache", ["numba_cache_dir /dev/shm/cache"]),
    ("/shared/results", None, []),
])
def test_node_local_paths_are_warned_for_multi_node_sweeps(tmp_path, out, cache, warned):
    text = ODD
    if cache:
        text = text.replace("cores_per_node = 64",
                            f'cores_per_node = 64\nnumba_cache_dir = "{cache}"')
    spec = spec_from(tmp_path, text)
    messages = slurm.node_local_warnings(spec, Path(out) / "sweep")
    assert len(messages) == len(warned)
    for message, what in zip(messages, warned, strict=True):
        assert what in message and "node-local" in message and "shared file system" in message
    one_node = spec_from(tmp_path, SMALL)  # one node: nothing to share between nodes
    assert slurm.node_local_warnings(one_node, Path("/tmp/results/sweep")) == []
