"""CFD kernel performance against a C build of the same arithmetic and the machine's copy rate.

Issue 2 holds the serial kernel (``--size large --ranks 1``: n = 8192, two 512 MiB arrays) to

* at least 0.9× the cell-update rate of ``benchmarks/cfd_reference.c`` (same five-coefficient
  update, same loop order, same periodic ghost fill) built with ``gcc -O3 -march=native``;
* at least 0.8× the copy bandwidth measured in this process, with the kernel's bandwidth taken
  at the harness's 16 bytes per update (one 8-byte read, one 8-byte write).

What is timed, per round (compile, JIT and first touch of every array stay outside):

* ``test_numba_step_loop``: ``steps`` steps of ``fill_periodic_ghosts`` + ``update`` + swap,
  timed by pytest-benchmark; rate = n²·steps / median round.
* ``test_c_reference``: pytest-benchmark times the whole process (allocation, initial
  condition, warm-up step, steps); the rate comes from the binary's own CLOCK_MONOTONIC timing of
  the ``steps`` steps alone, median over the rounds.
* ``test_copy_bandwidth``: ``np.copyto`` between two arrays of one CFD array's size. Bytes
  counted: 2B for a copy of B bytes (B read + B written); a write-allocate read of the
  destination, if the store path does one, is not counted, as it is not in the 16 bytes per
  update.

``test_targets`` checks the two ratios. Other people's jobs on a shared machine take memory
bandwidth in bursts, so it measures the three side by side: each of its rounds runs one Numba
round, one C process and a few copies back to back (pytest-benchmark times the whole paired
round), forms that round's ratios, and the check uses the median ratio over the rounds. It
puts the ratios in ``extra_info``, prints a PASS/FAIL line per target and fails on a miss.
This file is run by ``make bench``, not by ``make test``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from harness.workloads.cfd import BYTES_PER_UPDATE, CFD
from kernels import cfd as kernel

MIN_FRACTION_OF_C = 0.9
MIN_FRACTION_OF_COPY = 0.8
COPIES_PER_PAIRED_ROUND = 5
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


@pytest.fixture(scope="module")
def grid(bench_size) -> Grid:
    """The initial mode on an (n+2)² slab, kernel compiled and both arrays touched."""
    n = bench_size.n
    p = PARAMS
    dt = kernel.stable_dt(n, p["nu"], p["u"], p["v"], p["safety"])
    g = Grid(n, np.zeros((n + 2, n + 2)), np.zeros((n + 2, n + 2)),
             kernel.stencil_coefficients(n, p["nu"], p["u"], p["v"], dt))
    g.c[1:-1, 1:-1] = kernel.fourier_mode(n, p["kx"], p["ky"], 0, n, 0, n)
    # compile (or load from cache) and write every page of ``out``; the result is discarded
    kernel.fill_periodic_ghosts(g.c)
    kernel.update(g.c, g.out, *g.whole, *g.coefficients)
    return g


@pytest.fixture(scope="module")
def copy_arrays(bench_size) -> tuple[np.ndarray, np.ndarray]:
    """Source and target of one CFD array's size, both touched."""
    source = np.random.default_rng(0).random((bench_size.n + 2, bench_size.n + 2))
    target = np.empty_like(source)
    np.copyto(target, source)
    return source, target


@pytest.fixture(scope="module")
def rates() -> dict[str, float]:
    """Medians of the three benchmarks, shown next to the paired ratios of ``test_targets``."""
    return {}


def numba_round(grid: Grid, steps: int) -> None:
    """``steps`` serial steps: periodic ghost fill, update, swap."""
    c, out = grid.c, grid.out
    for _ in range(steps):
        kernel.fill_periodic_ghosts(c)
        kernel.update(c, out, *grid.whole, *grid.coefficients)
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


def copy_seconds(source: np.ndarray, target: np.ndarray) -> float:
    start = time.perf_counter()
    np.copyto(target, source)
    return time.perf_counter() - start


def _median_seconds(benchmark: Any) -> float:
    if benchmark.stats is None:
        pytest.skip("pytest-benchmark is disabled: nothing was timed")
    return float(benchmark.stats.stats.median)


def _rate_info(updates_per_s: float) -> dict[str, float]:
    return {"updates_per_s": updates_per_s,
            "effective_GB_per_s": updates_per_s * BYTES_PER_UPDATE / 1e9,
            "bytes_per_update": BYTES_PER_UPDATE}


@pytest.mark.benchmark(group="copy bandwidth")
def test_copy_bandwidth(benchmark, bench_size, copy_arrays, rates):
    """np.copyto of one CFD array's worth of float64: bytes read + written per second."""
    source, target = copy_arrays
    target.fill(0.0)
    benchmark.pedantic(np.copyto, args=(target, source), rounds=4 * bench_size.rounds,
                       warmup_rounds=1, iterations=1)
    assert np.array_equal(target, source)
    bytes_moved = 2 * source.nbytes
    rates["copy_bytes_per_s"] = bytes_moved / _median_seconds(benchmark)
    benchmark.extra_info.update({
        "copy": "np.copyto, contiguous float64",
        "array_bytes": source.nbytes,
        "bytes_counted_per_copy": bytes_moved,
        "counting": "B read + B written; no write-allocate traffic counted",
        "copy_GB_per_s": rates["copy_bytes_per_s"] / 1e9,
    })


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
    """``steps`` serial steps of the Numba kernel: periodic ghost fill, update, swap."""
    benchmark.pedantic(numba_round, args=(grid, bench_size.steps), rounds=bench_size.rounds,
                       iterations=1)
    assert np.isfinite(grid.c).all()
    rates["numba"] = bench_size.updates_per_round / _median_seconds(benchmark)
    info = {"n": grid.n, "steps": bench_size.steps, **_rate_info(rates["numba"])}
    if "c" in rates:
        info["fraction_of_c"] = rates["numba"] / rates["c"]
    if "copy_bytes_per_s" in rates:
        info["fraction_of_copy"] = rates["numba"] * BYTES_PER_UPDATE / rates["copy_bytes_per_s"]
    benchmark.extra_info.update(info)


@pytest.mark.benchmark(group="cfd side by side (one paired round)")
def test_targets(benchmark, bench_size, grid, copy_arrays, c_reference, rates, capsys):
    """Numba ≥ 0.9× C and ≥ 0.8× copy bandwidth: median of ratios measured side by side."""
    updates = bench_size.updates_per_round
    command = c_command(c_reference, bench_size)
    rounds: list[tuple[float, float, float]] = []

    def paired_round() -> None:
        start = time.perf_counter()
        numba_round(grid, bench_size.steps)
        numba = updates / (time.perf_counter() - start)
        c = updates / c_round(command)["seconds"]
        copy = 2 * copy_arrays[0].nbytes / statistics.median(
            copy_seconds(*copy_arrays) for _ in range(COPIES_PER_PAIRED_ROUND))
        rounds.append((numba, c, copy))

    benchmark.pedantic(paired_round, rounds=bench_size.rounds, iterations=1)
    numba, c, copy = (statistics.median(column) for column in zip(*rounds, strict=True))
    fraction_of_c = statistics.median(r[0] / r[1] for r in rounds)
    fraction_of_copy = statistics.median(r[0] * BYTES_PER_UPDATE / r[2] for r in rounds)
    checks = [
        (f"Numba/C = {fraction_of_c:.3f} (target >= {MIN_FRACTION_OF_C})",
         fraction_of_c >= MIN_FRACTION_OF_C),
        (f"Numba at {BYTES_PER_UPDATE} B/update / np.copyto = {fraction_of_copy:.3f} "
         f"(target >= {MIN_FRACTION_OF_COPY})", fraction_of_copy >= MIN_FRACTION_OF_COPY),
    ]

    def line(label: str, numba_rate: float, c_rate: float, copy_rate: float) -> str:
        return (f"  {label}: Numba {numba_rate / 1e9:.3f} G updates/s "
                f"({numba_rate * BYTES_PER_UPDATE / 1e9:.1f} GB/s), "
                f"C {c_rate / 1e9:.3f} G updates/s "
                f"({c_rate * BYTES_PER_UPDATE / 1e9:.1f} GB/s), "
                f"np.copyto {copy_rate / 1e9:.1f} GB/s")

    with capsys.disabled():
        print(f"\ncfd n={bench_size.n} steps={bench_size.steps}, medians")
        if {"numba", "c", "copy_bytes_per_s"} <= rates.keys():
            print(line("benchmarks above", rates["numba"], rates["c"],
                       rates["copy_bytes_per_s"]))
        print(line(f"side by side, {len(rounds)} rounds", numba, c, copy))
        for text, ok in checks:
            print(f"  {'PASS' if ok else 'FAIL'}  {text}")
    benchmark.extra_info.update({
        "timed_by_pytest_benchmark": "one paired round: Numba steps, C process, "
                                     f"{COPIES_PER_PAIRED_ROUND} copies",
        "rounds": [dict(zip(("numba_updates_per_s", "c_updates_per_s", "copy_bytes_per_s"),
                            r, strict=True)) for r in rounds],
        "numba_updates_per_s": numba, "c_updates_per_s": c, "copy_GB_per_s": copy / 1e9,
        "fraction_of_c": fraction_of_c, "fraction_of_copy": fraction_of_copy,
        "passed": all(ok for _, ok in checks),
    })
    failed = [text for text, ok in checks if not ok]
    assert not failed, "missed: " + "; ".join(failed)
