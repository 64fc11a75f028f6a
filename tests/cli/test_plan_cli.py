"""``harness plan`` and the feasibility check ``harness sweep`` makes before writing anything."""

import re
from pathlib import Path

import pytest
from clitools import assert_refused, harness

ROOT = Path(__file__).resolve().parents[2]
PLATFORM = ROOT / "jobs" / "platform.toml"


def small_spec(tmp_path, memory, max_nodes=None, cores=(5, 50)):
    extra = f"max_nodes = {max_nodes}\n" if max_nodes else ""
    spec = tmp_path / "tight.toml"
    spec.write_text(f"""
name = "tight"
cores = {list(cores)}
time_limit = "10"
[profile]
partition = "compute"
cores_per_node = 50
memory_per_node = "{memory}"
{extra}
[[workload]]
name = "fea"
size = "large"
params = {{ n = 256 }}
""")
    return spec


def test_plan_of_the_platform_lists_every_workload_at_every_scale():
    done = harness("plan", PLATFORM)
    assert done.returncode == 0, done.stderr
    rows = [line for line in done.stdout.splitlines() if re.match(r"(cfd|fea|opt|param)/", line)]
    seen = {(line.split("/")[0], int(line.split()[-8])) for line in rows}
    assert seen == {(w, c) for w in ("cfd", "fea", "opt", "param")
                    for c in (5, 50, 250, 500, 2500)}
    assert all(line.endswith("ok") for line in rows)
    total = float(re.search(r"at most ([0-9.]+) core-hours", done.stdout).group(1))
    # exclusive 50-core nodes, 3 runs of 20 minutes: 5 points per core count
    assert total == pytest.approx(5 * 3 * (20 / 60) * (50 + 50 + 250 + 500 + 2500))


def test_a_point_that_does_not_fit_memory_is_refused_by_name(tmp_path):
    spec = small_spec(tmp_path, "4G")
    out = tmp_path / "out"
    needle = "fea/gather strong large n=256 at 5 cores: needs"
    for args in (["--local"], ["--slurm", "--dry-run"], ["--dry-run"]):
        done = harness("sweep", spec, *args, "--out", out)
        assert_refused(done, needle, out)
        assert "more than memory_per_node 4.0 GiB" in done.stderr
    done = harness("plan", spec)
    assert done.returncode == 2 and done.stdout.count("REFUSED: needs") == 2  # 5 and 50 cores
    assert "2 point(s) cannot run; first: fea/gather strong large n=256 at 5 cores" in done.stderr


def test_more_nodes_than_the_partition_has_is_refused(tmp_path):
    spec = small_spec(tmp_path, "256G", max_nodes=1, cores=(5, 100))
    out = tmp_path / "out"
    assert_refused(harness("sweep", spec, "--slurm", "--dry-run", "--out", out),
                   "at 100 cores: needs 2 nodes of cores_per_node 50, more than max_nodes 1",
                   out)


def test_the_platform_dry_run_writes_a_job_per_scale(tmp_path):
    done = harness("sweep", PLATFORM, "--slurm", "--dry-run", "--out", tmp_path,
                   "--sweep-id", "p")
    assert done.returncode == 0, done.stderr
    jobs = tmp_path / "p" / "jobs"
    assert {p.name for p in jobs.glob("*.sbatch")} == {
        f"platform-p{c}.sbatch" for c in (5, 50, 250, 500, 2500)} | {"platform-analysis.sbatch"}
    for cores in (5, 50, 250, 500, 2500):
        text = (jobs / f"platform-p{cores}.sbatch").read_text()
        for workload in ("cfd", "fea", "opt", "param"):
            assert re.search(rf"\brun {workload}\b", text), (cores, workload)


def test_a_point_without_a_decomposition_is_refused_by_name(tmp_path):
    spec = tmp_path / "grid.toml"
    spec.write_text('name = "grid"\ncores = [1, 27]\n[profile]\npartition = "p"\n'
                    'cores_per_node = 50\n[[workload]]\nname = "fea"\nsize = "tiny"\n'
                    'params = { n = 3 }\n')
    out = tmp_path / "out"
    for args in (["--local"], ["--slurm", "--dry-run"]):
        assert_refused(harness("sweep", spec, *args, "--out", out),
                       "fea/gather strong tiny at 27 cores: n=3 gives 2 interior nodes per axis, "
                       "fewer than the 3 ranks along one axis", out)
    assert harness("plan", spec).returncode == 2


def test_a_spec_with_the_old_runs_key_plans_with_one_warning_line(tmp_path):
    text = small_spec(tmp_path, "64G").read_text()
    old = tmp_path / "old.toml"
    old.write_text("repetitions = 3\n" + text)
    new = tmp_path / "new.toml"
    new.write_text("runs = 3\n" + text)
    done_old, done_new = harness("plan", old), harness("plan", new)
    assert done_old.returncode == done_new.returncode == 0, done_old.stderr
    assert done_new.stderr == ""
    (line,) = done_old.stderr.splitlines()
    assert line.startswith("harness: warning: ") and "write runs = 3" in line
    assert done_old.stdout.replace("old.toml", "new.toml") == done_new.stdout
