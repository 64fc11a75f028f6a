"""CPU quota from cgroup v1/v2 files, busy time from /proc/stat, and the contention share."""

import os
from pathlib import Path

import pytest

from harness import cpus


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="ascii")


def test_cgroup_v2_quota_is_the_smallest_along_the_path(tmp_path):
    _write(tmp_path / "self", "0::/a/b\n")
    root = tmp_path / "cg"
    _write(root / "cgroup.controllers", "cpu\n")
    _write(root / "a" / "cpu.max", "150000 100000\n")  # 1.5 CPUs on the parent
    _write(root / "a" / "b" / "cpu.max", "max 100000\n")  # unlimited on the leaf
    assert cpus.cgroup_cpu_limit(tmp_path / "self", root) == pytest.approx(1.5)
    _write(root / "a" / "b" / "cpu.max", "50000 100000\n")
    assert cpus.cgroup_cpu_limit(tmp_path / "self", root) == pytest.approx(0.5)


def test_cgroup_v1_quota(tmp_path):
    _write(tmp_path / "self", "3:cpuset:/\n1:cpu,cpuacct:/job\n0::/\n")
    root = tmp_path / "cg"
    _write(root / "cpu,cpuacct" / "cpu.cfs_quota_us", "-1\n")
    _write(root / "cpu,cpuacct" / "cpu.cfs_period_us", "100000\n")
    _write(root / "cpu,cpuacct" / "job" / "cpu.cfs_quota_us", "25000\n")
    _write(root / "cpu,cpuacct" / "job" / "cpu.cfs_period_us", "100000\n")
    assert cpus.cgroup_cpu_limit(tmp_path / "self", root) == pytest.approx(0.25)


@pytest.mark.parametrize("text", ["max 100000", "garbage", "0 100000", "-1 100000", "", "1 0"])
def test_no_or_bad_quota_is_unlimited(tmp_path, text):
    _write(tmp_path / "self", "0::/\n")
    _write(tmp_path / "cg" / "cgroup.controllers", "cpu\n")
    _write(tmp_path / "cg" / "cpu.max", text)
    assert cpus.cgroup_cpu_limit(tmp_path / "self", tmp_path / "cg") is None


def test_missing_files_are_unknown(tmp_path):
    assert cpus.cgroup_cpu_limit(tmp_path / "none", tmp_path) is None
    assert cpus.busy_seconds({0}, tmp_path / "none") is None


def test_usable_cpus_caps_affinity_by_quota():
    assert cpus.usable_cpus(2, 0.5) == 0.5
    assert cpus.usable_cpus(2, None) == 2.0
    assert cpus.usable_cpus(2, 8.0) == 2.0


def test_busy_seconds_sums_the_named_cpus(tmp_path):
    tick = os.sysconf("SC_CLK_TCK")
    # user nice system idle iowait irq softirq steal
    _write(tmp_path / "stat", f"cpu  9 9 9 9 9 9 9 9\n"
                              f"cpu0 {tick} 0 {tick} 1000 1000 0 0 0\n"
                              f"cpu1 0 {tick} 0 1000 0 {tick} 0 {tick}\n"
                              f"cpu2 {tick * 5} 0 0 0 0 0 0 0\nintr 1 2 3\n")
    assert cpus.busy_seconds({0}, tmp_path / "stat") == pytest.approx(2.0)
    assert cpus.busy_seconds({0, 1}, tmp_path / "stat") == pytest.approx(5.0)
    assert cpus.busy_seconds({7}, tmp_path / "stat") is None


def test_contention_counts_only_what_exceeds_the_idle_cpus():
    # 2 ranks on 2 CPUs for 10 s; others used 5 CPU-seconds: a quarter of the 20 needed
    assert cpus.contention(5.0, 10.0, 2.0, 2) == pytest.approx(0.25)
    # 1 rank on 2 CPUs: the other CPU absorbs up to 10 CPU-seconds of others' work
    assert cpus.contention(8.0, 10.0, 2.0, 1) == 0.0
    assert cpus.contention(15.0, 10.0, 2.0, 1) == pytest.approx(0.5)
    # the run's own time measured a little above the busy time: never negative
    assert cpus.contention(-0.3, 10.0, 2.0, 2) == 0.0


def test_contention_of_a_short_window_is_not_judged():
    assert cpus.contention(1.0, 0.01, 2.0, 2) is None
    assert cpus.contention(float("nan"), 10.0, 2.0, 2) is None


def test_a_contended_record_is_excluded_from_the_analysis(tmp_path):
    from harness import inputs, records

    passed = {"passed": True, "method": "m", "checksum": {}, "error": 0.0, "tolerance": 1.0}
    for ranks, contended in ((1, False), (2, True), (4, False)):
        rec = records.RunRecord(run_id=records.new_run_id(), sweep_id="s", workload="cfd",
                                variant="blocking", mode="strong", size="tiny", params={},
                                ranks=ranks, status="ok", seconds=[1.0 / ranks],
                                verification=passed, contention=0.4 if contended else 0.0,
                                contended=contended)
        records.write(tmp_path, rec)
    data = inputs.load([tmp_path])
    assert sorted(data.repetitions["cores"].unique().tolist()) == [1, 4]
    (reason,) = data.excluded["reason"].tolist()
    assert reason.startswith("contended (other work took 40%")
