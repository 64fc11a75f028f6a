"""Start-up: ``harness run`` from process start to its first timed repetition, and the whole
``harness smoke``, with an empty Numba cache and with a warm one.

Each workload (``cfd``, ``fea``, ``opt``, ``param``; size tiny, 1 rank, in place) runs twice in a
fresh process with ``NUMBA_CACHE_DIR`` pointing at a directory of its own: first empty (every
kernel compiles), then as the first run left it (every kernel loads). The record's ``startup``
field (seconds from process start to the first timed repetition: imports, MPI start, compile or
cache load, setup, warm-up) and the command's wall time are kept. The warm run must compile
nothing: the cache directory is left byte for byte as it was (no index or object file written
or touched) and the record says ``compiled_while_timed: false``.

``harness smoke`` (every workload and variant at 1 and 2 ranks) is timed the same way, cold and
warm, when ``HARNESS_BENCH_STARTUP_SMOKE`` is not ``0`` (about a minute cold on two cores).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
WORKLOADS = ("cfd", "fea", "opt", "param")
SMOKE = os.environ.get("HARNESS_BENCH_STARTUP_SMOKE", "1") != "0"


def snapshot(cache: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``cache``: (size, mtime in ns)."""
    return {str(p.relative_to(cache)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(cache.rglob("*")) if p.is_file()}


def timed(command: list[str], cache: Path) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    assert done.returncode == 0, f"{' '.join(command)} failed:\n{done.stderr[-2000:]}"
    return wall, done


def harness_run(workload: str, cache: Path, out: Path) -> tuple[float, dict]:
    wall, done = timed([str(BIN / "harness"), "run", workload, "--size", "tiny", "--json",
                        "--out", str(out)], cache)
    record = json.loads(done.stdout)
    assert record["status"] == "ok" and record["startup"] is not None
    return wall, record


@pytest.mark.benchmark(group="start-up")
def test_startup(benchmark, tmp_path, capsys):
    rows = {}

    def measure():
        for workload in WORKLOADS:
            cache = tmp_path / f"cache-{workload}"
            cache.mkdir()
            cold_wall, cold = harness_run(workload, cache, tmp_path / "out")
            assert snapshot(cache), f"{workload}: the cold run cached nothing in {cache}"
            before = snapshot(cache)
            warm_wall, warm = harness_run(workload, cache, tmp_path / "out")
            assert snapshot(cache) == before, f"{workload}: the warm run wrote to the cache"
            assert not warm["compiled_while_timed"]
            rows[workload] = {"cold_startup_s": cold["startup"]["max"],
                              "warm_startup_s": warm["startup"]["max"],
                              "cold_wall_s": cold_wall, "warm_wall_s": warm_wall}
        if SMOKE:
            cache = tmp_path / "cache-smoke"
            cache.mkdir()
            smoke = [str(BIN / "harness"), "smoke", "--out", str(tmp_path / "smoke")]
            cold_wall, _ = timed(smoke, cache)
            before = snapshot(cache)
            warm_wall, _ = timed(smoke, cache)
            assert snapshot(cache) == before, "smoke: the warm run wrote to the cache"
            rows["smoke"] = {"cold_wall_s": cold_wall, "warm_wall_s": warm_wall}

    benchmark.pedantic(measure, rounds=1, iterations=1)
    benchmark.extra_info["startup"] = rows
    benchmark.extra_info["warm_compiles_nothing"] = "checked: cache directory unchanged"
    with capsys.disabled():
        print("\nstart-up (s): process start to first timed repetition, and wall time")
        for name, r in rows.items():
            first = (f"first timed rep cold {r['cold_startup_s']:.2f} warm "
                     f"{r['warm_startup_s']:.2f}; " if "cold_startup_s" in r else "")
            print(f"  {name:<6} {first}wall cold {r['cold_wall_s']:.2f} "
                  f"warm {r['warm_wall_s']:.2f}")
