"""``benchmarks/roofline.py`` (the CFD stencil's bound from measured rates) and the hierarchy
helpers of ``benchmarks/stream.py``: hand-made rates in, the bound the module docstring states
out; no timing is asserted."""

from __future__ import annotations

import importlib.util
import stat
import sys
from pathlib import Path

import numpy as np
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return sys.modules[name]


roofline = _load("roofline")
stream = _load("stream")
GB = 1e9
LEVELS = [
    roofline.Level("L1", 32 * 2**10, 16 * 2**10, 200 * GB, 160 * GB),
    roofline.Level("L2", 2**20, 512 * 2**10, 100 * GB, 100 * GB),
    roofline.Level("L3", 32 * 2**20, 16 * 2**20, 64 * GB, 64 * GB),
    roofline.Level("DRAM", None, 256 * 2**20, 32 * GB, 16 * GB),
]


def test_grid_in_dram_rows_in_l2():
    bound = roofline.stencil_bound(LEVELS, 4096)  # rows: 4 x 8 x 4098 B > 32 KiB
    assert (bound.grid_level, bound.rows_level) == ("DRAM", "L2")
    copy = 16 / (16 * GB)                       # 1 ns: south + out at the DRAM copy rate
    extra = 16 / (200 * GB) + 16 / (100 * GB)   # east+west from L1, north+centre from L2
    assert bound.copy_seconds == pytest.approx(copy)
    assert bound.extra_load_seconds == pytest.approx(extra)
    assert bound.overlapped_fraction == pytest.approx(1.0)  # memory is the slowest part
    assert bound.additive_fraction == pytest.approx(copy / (copy + extra))
    assert bound.additive_updates_per_s == pytest.approx(1 / (copy + extra))


def test_grid_in_l1_both_models_agree():
    bound = roofline.stencil_bound(LEVELS, 20)  # 2 x 8 x 22² B < 16 KiB, half of L1
    assert (bound.grid_level, bound.rows_level) == ("L1", "L1")
    t = 16 / (160 * GB) + 32 / (200 * GB)       # 5 loads + 1 store, all in L1
    assert bound.overlapped_updates_per_s == pytest.approx(1 / t)
    assert bound.additive_updates_per_s == pytest.approx(1 / t)


def test_cache_work_slower_than_memory_caps_the_overlapped_bound():
    slow = [roofline.Level("L1", 32 * 2**10, 1, 16 * GB, 64 * GB),
            roofline.Level("DRAM", None, 1, 32 * GB, 32 * GB)]
    bound = roofline.stencil_bound(slow, 4096)
    assert bound.rows_level == "DRAM"
    # ns per update: copy 0.5 (DRAM); L1 copy 0.25 + loads 1 (L1) + 0.5 (rows from DRAM)
    assert bound.overlapped_fraction == pytest.approx(0.5 / (0.25 + 1 + 0.5))
    assert bound.additive_fraction < bound.overlapped_fraction


def test_a_level_holds_half_its_capacity():
    assert roofline.holding_level(LEVELS, 16 * 2**10).name == "L1"
    assert roofline.holding_level(LEVELS, 16 * 2**10 + 1).name == "L2"
    assert roofline.holding_level(LEVELS, 2**30).name == "DRAM"


def test_describe_names_every_level_and_both_bounds():
    text = roofline.describe(LEVELS, roofline.stencil_bound(LEVELS, 4096))
    assert "L1 200/160, L2 100/100, L3 64/64, DRAM 32/16" in text
    assert "grid in DRAM, rows in L2" in text and "1.00x copy if cache work overlaps" in text


@pytest.mark.parametrize("levels, n", [([], 8), (LEVELS, 0)])
def test_bad_input_is_refused(levels, n):
    with pytest.raises(ValueError):
        roofline.stencil_bound(levels, n)


def _fake_perf(tmp_path, stderr_text, code=0):
    perf = tmp_path / "perf"
    perf.write_text(f"#!/bin/sh\nprintf '%s\\n' '{stderr_text}' >&2\nexit {code}\n")
    perf.chmod(perf.stat().st_mode | stat.S_IEXEC)
    return perf


def test_perf_counters_says_why_not(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert roofline.perf_counters() == "perf not found on PATH"
    _fake_perf(tmp_path, "<not supported>,,cycles,0,100.00,,")
    assert "not supported" in roofline.perf_counters()
    _fake_perf(tmp_path, "123456,,cycles,100,100.00,,")
    assert roofline.perf_counters() == "available"
    _fake_perf(tmp_path, "no permission", code=255)
    assert roofline.perf_counters() == "perf stat exited 255: no permission"


def test_data_caches_reads_data_and_unified_levels(tmp_path):
    for index, (level, kind, size) in enumerate([(1, "Data", "48K"), (1, "Instruction", "32K"),
                                                  (2, "Unified", "1024K"), (3, "Unified", "32M")]):
        entry = tmp_path / f"index{index}"
        entry.mkdir()
        for name, value in (("level", level), ("type", kind), ("size", size)):
            (entry / name).write_text(f"{value}\n")
    assert stream.data_caches(str(tmp_path)) == {1: 48 * 2**10, 2: 2**20, 3: 32 * 2**20}
    assert stream.data_caches(str(tmp_path / "absent")) == {}


def test_measure_level_checks_its_loops_and_counts_bytes():
    level = stream.measure_level("L1", 2**15, np.full(64, 7.0), np.zeros(32), 1)
    assert (level.name, level.capacity, level.working_bytes) == ("L1", 2**15, 8 * 64)
    assert level.read_bytes_per_s > 0 and level.copy_bytes_per_s > 0


def test_repeated_loops_compute_what_they_say():
    from kernels.stream import copy_times, read_sum
    b = np.arange(1000, dtype=np.float64)
    assert read_sum(b, 3) == 3 * b.sum()
    a = np.zeros_like(b)
    copy_times(a, b, 2)
    assert np.array_equal(a, b)


def test_aligned_arrays_start_on_a_cache_line():
    for n in (1, 7, 2048):
        array = stream.aligned(n, 3.0)
        assert array.ctypes.data % 64 == 0 and array.shape == (n,) and np.all(array == 3.0)
