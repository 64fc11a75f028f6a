"""CFD kernel performance against a C build of the same arithmetic, the machine's memory roof
and the same update written in NumPy slicing.

Targets (recorded in ``extra_info["checks"]``, judged by ``make bench-check``):

* Numba ≥ 0.9× the cell-update rate of ``benchmarks/cfd_reference.c`` (same five-coefficient
  update, same loop order, same periodic halo fill) built with ``gcc -O3 -march=native``;
* the kernel's effective bandwidth, at the harness's 16 bytes per update (one 8-byte read, one
  8-byte write), ≥ 0.85× the STREAM copy rate of a Numba loop (``benchmarks/stream.py``: 16 B
  per element counted, arrays ≥ 4× the last-level cache) measured in this process;
* Numba ≥ 1× the same update in NumPy slicing (what a NumPy user would write), whose first step
  is checked equal to the kernel's before its time counts.

What is timed, per round (compile, JIT and first touch of every array stay outside):

* ``test_stream``: STREAM copy and triad (Numba loops), best and median of rounds.
* ``test_memory_hierarchy``: a load-only sum and a copy per cache level and DRAM
  (``stream.measure_hierarchy``), and the stencil with its grid in the last-level cache against
  the bound ``benchmarks/roofline.py`` computes from those rates; whether ``perf stat`` can count
  hardware events here (bytes moved per update) is printed with it.
* ``test_numba_step_loop``: ``steps`` steps of ``fill_periodic_halo`` + ``update`` + swap;
  rate = n²·steps / median round.
* ``test_numpy_slicing``: the same steps with the update as one NumPy slicing expression.
* ``test_c_reference``: pytest-benchmark times the whole process (allocation, initial
  condition, warm-up step, steps); the rate comes from the binary's own CLOCK_MONOTONIC timing of
  the ``steps`` steps alone, median over the rounds.

``test_targets`` forms the ratios to C and to the copy roof side by side, since other jobs on a
shared machine take memory bandwidth in bursts: each of its rounds runs one Numba round, one C
process and a few STREAM copies back to back, forms that round's ratios, and the check uses the
median ratio over the rounds. It prints them with the copy and triad rates, and the copy roof
check's detail carries the limit: the measured rates per level and the stencil's bound as a
fraction of copy (``benchmarks/roofline.py``). This file is run by ``make bench``, not by
``make test``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import checks
import numpy as np
import pytest
import roofline
import stream

from harness.workloads.cfd import BYTES_PER_UPDATE, CFD
from kernels import cfd as kernel

MIN_FRACTION_OF_C = 0.9
MIN_FRACTION_OF_COPY = 0.85
MIN_RATIO_TO_NUMPY = 1.0
COPIES_PER_PAIRED_ROUND = 3
PARAMS = {key: CFD.sizes["large"][key] for key in ("nu", "u", "v", "kx", "ky", "safety")}


@dataclass
class Grid:
    """The padded field and its update target, advanced in place by :func:`numba_round`."""

    n: int
    c: np.ndarray
    out: np.ndarray
    coefficients: tuple[float, float, float, float, float]

    @property
    def whole(self) -> tuple[int, int, int, int]:
        return (1, self.n + 1, 1, self.n + 1)


def new_grid(n: int) -> Grid:
    """The initial mode on an (n+2)² slab, kernel compiled and both arrays touched."""
    p = PARAMS
    dt = kernel.stable_dt(n, p["nu"], p["u"], p["v"], p["safety"])
    g = Grid(n, np.zeros((n + 2, n + 2)), np.zeros((n + 2, n + 2)),
             kernel.stencil_coefficients(n, p["nu"], p["u"], p["v"], dt))
    g.c[1:-1, 1:-1] = kernel.fourier_mode(n, p["kx"], p["ky"], 0, n, 0, n)
    # compile (or load from cache) and write every page of ``out``; the result is discarded
    kernel.fill_periodic_halo(g.c)
    kernel.update(g.c, g.out, *g.whole, *g.coefficients)
    return g


@pytest.fixture(scope="module")
def grid(bench_size) -> Grid:
    return new_grid(bench_size.n)


@pytest.fixture(scope="module")
def roof() -> stream.Stream:
    """STREAM arrays (``HARNESS_BENCH_STREAM_MB`` MiB each, else 4× the last-level cache)."""
    s = stream.Stream(stream.default_elements())
    s.check()
    return s


@pytest.fixture(scope="module")
def rates() -> dict[str, float]:
    """Medians of the benchmarks, shown next to the paired ratios of ``test_targets``."""
    return {}


def numba_round(grid: Grid, steps: int) -> None:
    """``steps`` serial steps: periodic halo fill, update, swap."""
    c, out = grid.c, grid.out
    for _ in range(steps):
        kernel.fill_periodic_halo(c)
        kernel.update(c, out, *grid.whole, *grid.coefficients)
        c, out = out, c
    grid.c, grid.out = c, out


def numpy_update(c: np.ndarray, out: np.ndarray, cc: float, cs: float, cn: float, ce: float,
                 cw: float) -> None:
    """The update in NumPy slicing: out = cc·c + cs·south + cn·north + ce·east + cw·west."""
    out[1:-1, 1:-1] = (cc * c[1:-1, 1:-1] + cs * c[2:, 1:-1] + cn * c[:-2, 1:-1]
                       + ce * c[1:-1, 2:] + cw * c[1:-1, :-2])


def numpy_round(grid: Grid, steps: int) -> None:
    """``steps`` serial steps as :func:`numba_round`, the update in NumPy slicing."""
    c, out = grid.c, grid.out
    for _ in range(steps):
        kernel.fill_periodic_halo(c)
        numpy_update(c, out, *grid.coefficients)
        c, out = out, c
    grid.c, grid.out = c, out


def c_command(c_reference, bench_size) -> list[str]:
    p = PARAMS
    return [str(c_reference.executable), str(bench_size.n), str(bench_size.steps), "1",
            repr(p["nu"]), repr(p["u"]), repr(p["v"]), str(p["kx"]), str(p["ky"]),
            repr(p["safety"])]


def c_round(command: list[str]) -> dict[str, Any]:
    """One run of the C reference; its JSON report (``seconds``: the timed steps alone)."""
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def _median_seconds(benchmark: Any) -> float:
    if benchmark.stats is None:
        pytest.skip("pytest-benchmark is disabled: nothing was timed")
    return float(benchmark.stats.stats.median)


def _rate_info(updates_per_s: float) -> dict[str, float]:
    return {"updates_per_s": updates_per_s,
            "effective_GB_per_s": updates_per_s * BYTES_PER_UPDATE / 1e9,
            "bytes_per_update": BYTES_PER_UPDATE}


@pytest.mark.benchmark(group="stream")
def test_stream(benchmark, bench_size, roof, rates, capsys):
    """STREAM copy and triad, Numba loops: bytes as STREAM counts them per second."""
    times = 4 * bench_size.rounds
    benchmark.pedantic(roof.copy_rate, rounds=times, warmup_rounds=1, iterations=1)
    copy_median = stream.COPY_BYTES * roof.n / _median_seconds(benchmark)
    triad = [roof.triad_rate() for _ in range(times)]
    rates["copy_bytes_per_s"] = copy_median
    rates["triad_bytes_per_s"] = statistics.median(triad)
    benchmark.extra_info.update({
        "array_bytes": roof.array_bytes,
        "last_level_cache_bytes": stream.last_level_cache_bytes(),
        "counting": "STREAM: copy 16 B, triad 24 B per element; no write-allocate traffic",
        "copy_GB_per_s": copy_median / 1e9,
        "triad_GB_per_s": rates["triad_bytes_per_s"] / 1e9,
        "triad_best_GB_per_s": max(triad) / 1e9,
    })
    with capsys.disabled():
        print(f"\nSTREAM (Numba), {roof.array_bytes / 2**20:.0f} MiB per array: copy "
              f"{copy_median / 1e9:.1f} GB/s, triad {rates['triad_bytes_per_s'] / 1e9:.1f} GB/s "
              f"(medians of {times})")


def _level_info(levels: list[roofline.Level]) -> list[dict[str, Any]]:
    return [{"level": lv.name, "capacity_bytes": lv.capacity, "working_bytes": lv.working_bytes,
             "read_GB_per_s": lv.read_bytes_per_s / 1e9, "copy_GB_per_s": lv.copy_bytes_per_s / 1e9}
            for lv in levels]


@pytest.mark.benchmark(group="stream")
def test_memory_hierarchy(benchmark, bench_size, roof, rates, capsys):
    """Read and copy rates per level, and the stencil in the last-level cache against its bound."""
    times = 2 * bench_size.rounds
    levels = benchmark.pedantic(stream.measure_hierarchy, args=(roof, times), rounds=1,
                                iterations=1)
    rates["levels"] = levels
    rates["perf"] = roofline.perf_counters()
    info: dict[str, Any] = {"levels": _level_info(levels), "perf_stat": rates["perf"],
                            "counting": "read 8 B, copy 16 B per element (STREAM's)"}
    caches = [lv for lv in levels if lv.capacity is not None]
    # a grid pair of about the last cache level's working set, as many updates as a round
    n = int((caches[-1].working_bytes / 16) ** 0.5) - 2 if caches else 0
    if n >= 16:
        steps = max(1, bench_size.updates_per_round // (n * n))
        cached = new_grid(n)
        numba_round(cached, 1)
        seconds = []
        for _ in range(times):
            start = time.perf_counter()
            numba_round(cached, steps)
            seconds.append(time.perf_counter() - start)
        measured = n * n * steps / statistics.median(seconds)
        bound = roofline.stencil_bound(levels, n)
        info["stencil_in_cache"] = {
            "n": n, "steps": steps, "grid_level": bound.grid_level,
            "updates_per_s": measured,
            "overlapped_bound_updates_per_s": bound.overlapped_updates_per_s,
            "additive_bound_updates_per_s": bound.additive_updates_per_s,
            "fraction_of_level_copy": measured * bound.copy_seconds}
    benchmark.extra_info.update(info)
    with capsys.disabled():
        print(f"\nmemory hierarchy (Numba loops, medians of {times}), GB/s:")
        for lv in levels:
            print(f"  {lv.name:<5} {lv.working_bytes / 2**10:>9.0f} KiB  read "
                  f"{lv.read_bytes_per_s / 1e9:6.1f}  copy {lv.copy_bytes_per_s / 1e9:6.1f}")
        if "stencil_in_cache" in info:
            got = info["stencil_in_cache"]
            print(f"  stencil n={got['n']} (grid in {got['grid_level']}): "
                  f"{got['updates_per_s'] / 1e9:.2f} G updates/s = "
                  f"{got['fraction_of_level_copy']:.2f}x that level's copy; bound "
                  f"{bound.overlapped_fraction:.2f}x overlapped, {bound.additive_fraction:.2f}x "
                  "additive")
        print(f"  bytes moved per update by counters: {rates['perf']}")


@pytest.mark.benchmark(group="cfd C reference (whole process)")
def test_c_reference(benchmark, bench_size, c_reference, grid, rates):
    """The C reference, one process per round; its self-timed steps give the rate."""
    command = c_command(c_reference, bench_size)
    reports: list[dict[str, Any]] = []
    benchmark.pedantic(lambda: reports.append(c_round(command)), rounds=bench_size.rounds,
                       iterations=1)
    assert reports, "the C reference never ran"
    assert all(r["n"] == bench_size.n and r["steps"] == bench_size.steps for r in reports)
    assert reports[0]["coefficients"] == pytest.approx(grid.coefficients, rel=1e-14)
    step_seconds = [r["seconds"] for r in reports]
    rates["c"] = bench_size.updates_per_round / statistics.median(step_seconds)
    benchmark.extra_info.update({
        "timed_by_pytest_benchmark": "whole process: allocation, initial condition, "
                                     "warm-up step, steps",
        "rate_from": "median over rounds of the binary's CLOCK_MONOTONIC time of the steps",
        "step_seconds": step_seconds,
        "compile_command": " ".join(c_reference.compile_command),
        "compiler": c_reference.compiler,
        **_rate_info(rates["c"]),
    })


@pytest.mark.benchmark(group="cfd Numba step loop")
def test_numba_step_loop(benchmark, bench_size, grid, rates):
    """``steps`` serial steps of the Numba kernel: periodic halo fill, update, swap."""
    benchmark.pedantic(numba_round, args=(grid, bench_size.steps), rounds=bench_size.rounds,
                       iterations=1)
    assert np.isfinite(grid.c).all()
    rates["numba"] = bench_size.updates_per_round / _median_seconds(benchmark)
    info = {"n": grid.n, "steps": bench_size.steps, **_rate_info(rates["numba"])}
    checks.fom(benchmark, "cfd", rates["numba"], f"cell updates/s (n={grid.n}, 1 rank)")
    if "c" in rates:
        info["fraction_of_c"] = rates["numba"] / rates["c"]
    if "copy_bytes_per_s" in rates:
        info["fraction_of_copy"] = rates["numba"] * BYTES_PER_UPDATE / rates["copy_bytes_per_s"]
    benchmark.extra_info.update(info)


@pytest.mark.benchmark(group="cfd NumPy slicing")
def test_numpy_slicing(benchmark, bench_size, rates, capsys):
    """The same steps in NumPy slicing, checked against the kernel first, then timed."""
    ours, theirs = new_grid(bench_size.n), new_grid(bench_size.n)
    numba_round(ours, 2)
    numpy_round(theirs, 2)
    np.testing.assert_allclose(theirs.c, ours.c, rtol=0, atol=1e-14)
    benchmark.pedantic(numpy_round, args=(theirs, bench_size.steps), rounds=bench_size.rounds,
                       iterations=1)
    rates["numpy"] = bench_size.updates_per_round / _median_seconds(benchmark)
    benchmark.extra_info.update({"n": bench_size.n, "steps": bench_size.steps,
                                 "verified": "2 steps equal to the kernel's within 1e-14",
                                 **_rate_info(rates["numpy"])})
    if "numba" in rates:
        check = checks.record(benchmark, "cfd Numba / NumPy slicing, cell updates/s",
                              rates["numba"] / rates["numpy"], ">=", MIN_RATIO_TO_NUMPY,
                              "alternative", f"n={bench_size.n}")
        with capsys.disabled():
            print("\n  " + checks.line(check))


@pytest.mark.benchmark(group="cfd side by side (one paired round)")
def test_targets(benchmark, bench_size, grid, roof, c_reference, rates, capsys):
    """Numba vs C and vs the STREAM copy roof: median of ratios measured side by side."""
    updates = bench_size.updates_per_round
    command = c_command(c_reference, bench_size)
    rounds: list[tuple[float, float, float]] = []

    def paired_round() -> None:
        start = time.perf_counter()
        numba_round(grid, bench_size.steps)
        numba = updates / (time.perf_counter() - start)
        c = updates / c_round(command)["seconds"]
        rounds.append((numba, c, roof.median_of("copy", COPIES_PER_PAIRED_ROUND)))

    benchmark.pedantic(paired_round, rounds=bench_size.rounds, iterations=1)
    numba, c, copy = (statistics.median(column) for column in zip(*rounds, strict=True))
    fraction_of_c = statistics.median(r[0] / r[1] for r in rounds)
    fraction_of_copy = statistics.median(r[0] * BYTES_PER_UPDATE / r[2] for r in rounds)
    c_fraction_of_copy = statistics.median(r[1] * BYTES_PER_UPDATE / r[2] for r in rounds)
    copy_detail = (f"{numba * BYTES_PER_UPDATE / 1e9:.1f} vs {copy / 1e9:.1f} GB/s; the C "
                   f"reference {c_fraction_of_copy:.2f}x")
    bound = None
    if "levels" in rates:
        bound = roofline.stencil_bound(rates["levels"], bench_size.n)
        copy_detail += "; " + roofline.describe(rates["levels"], bound)
        if rates.get("perf") != "available":
            copy_detail += f"; {rates['perf']}"
    done = [
        checks.record(benchmark, "cfd Numba / C (gcc -O3), cell updates/s", fraction_of_c,
                      ">=", MIN_FRACTION_OF_C, "peer", f"n={bench_size.n}"),
        checks.record(benchmark, f"cfd effective bandwidth ({BYTES_PER_UPDATE} B/update) / "
                      "STREAM copy", fraction_of_copy, ">=", MIN_FRACTION_OF_COPY, "roof",
                      copy_detail),
    ]

    def line(label: str, numba_rate: float, c_rate: float, copy_rate: float) -> str:
        return (f"  {label}: Numba {numba_rate / 1e9:.3f} G updates/s "
                f"({numba_rate * BYTES_PER_UPDATE / 1e9:.1f} GB/s), "
                f"C {c_rate / 1e9:.3f} G updates/s "
                f"({c_rate * BYTES_PER_UPDATE / 1e9:.1f} GB/s), "
                f"STREAM copy {copy_rate / 1e9:.1f} GB/s")

    with capsys.disabled():
        print(f"\ncfd n={bench_size.n} steps={bench_size.steps}, medians")
        if {"numba", "c", "copy_bytes_per_s"} <= rates.keys():
            print(line("benchmarks above", rates["numba"], rates["c"],
                       rates["copy_bytes_per_s"]))
        if "triad_bytes_per_s" in rates:
            print(f"  STREAM triad {rates['triad_bytes_per_s'] / 1e9:.1f} GB/s: CFD at "
                  f"{numba * BYTES_PER_UPDATE / rates['triad_bytes_per_s']:.2f}x triad")
        print(line(f"side by side, {len(rounds)} rounds", numba, c, copy))
        for check in done:
            print("  " + checks.line(check))
    benchmark.extra_info.update({
        "timed_by_pytest_benchmark": "one paired round: Numba steps, C process, "
                                     f"{COPIES_PER_PAIRED_ROUND} STREAM copies",
        "rounds": [dict(zip(("numba_updates_per_s", "c_updates_per_s", "copy_bytes_per_s"),
                            r, strict=True)) for r in rounds],
        "numba_updates_per_s": numba, "c_updates_per_s": c, "copy_GB_per_s": copy / 1e9,
        "fraction_of_c": fraction_of_c, "fraction_of_copy": fraction_of_copy,
        "c_fraction_of_copy": c_fraction_of_copy,
    })
    if bound is not None:
        benchmark.extra_info["stencil_bound"] = {
            "model": "benchmarks/roofline.py: south+out one copy at the grid's level, east+west "
                     "loads at L1, north+centre loads at the rows' level",
            "grid_level": bound.grid_level, "rows_level": bound.rows_level,
            "overlapped_fraction_of_copy": bound.overlapped_fraction,
            "additive_fraction_of_copy": bound.additive_fraction,
            "overlapped_updates_per_s": bound.overlapped_updates_per_s,
            "additive_updates_per_s": bound.additive_updates_per_s,
            "levels": _level_info(rates["levels"]), "perf_stat": rates.get("perf")}
