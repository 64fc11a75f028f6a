"""STREAM copy and triad as Numba loops (``kernels/stream.py``): the machine's memory roof.

McCalpin's STREAM (https://www.cs.virginia.edu/stream/ref.html) counts, per element of float64
arrays, the bytes the source code names and nothing else:

* copy  ``a[i] = b[i]``             16 B (8 read + 8 written)
* triad ``a[i] = b[i] + s * c[i]``  24 B (16 read + 8 written)

Write-allocate reads of the destination, if the store path makes them, are not counted: the
same convention as the CFD kernel's 16 bytes per update (one 8-byte read, one 8-byte write).

STREAM's rule is that each array be at least four times the size of the last-level cache, so
that the loops measure memory, not cache. :func:`default_elements` reads the last-level cache
from sysfs and applies that rule (at least 256 MiB per array); ``HARNESS_BENCH_STREAM_MB``
overrides the size of one array in MiB (for a quick run on a small machine).

:func:`measure_hierarchy` measures the levels below that roof too: a load-only sum (8 B read per
element) and a copy (16 B per element) over working sets of half of each data cache sysfs lists
(so they sit in that level and spill out of the one below), and over the STREAM arrays for DRAM.
``benchmarks/roofline.py`` turns those rates into the CFD stencil's bound.
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from roofline import Level

# the loops live in kernels/ (``harness probe`` runs them too); re-exported here
from harness.probe.sizes import last_level_cache_bytes
from kernels.stream import COPY_BYTES, READ_BYTES, TRIAD_BYTES, copy, copy_times, read_sum, triad

MIN_ARRAY_BYTES = 256 * 2**20
ENV_MB = "HARNESS_BENCH_STREAM_MB"
CACHE_DIR = "/sys/devices/system/cpu/cpu0/cache"
#: counted bytes one timed call of a cache level's loop moves (repeated inside the kernel)
BYTES_PER_CALL = 256 * 2**20


def default_elements() -> int:
    """float64 elements per array: ``HARNESS_BENCH_STREAM_MB`` MiB, else 4× the last-level
    cache (STREAM's rule), at least 256 MiB.

    Raises
    ------
    ValueError
        When ``HARNESS_BENCH_STREAM_MB`` is set but not a positive integer.
    """
    raw = os.environ.get(ENV_MB)
    if raw is not None:
        if not raw.strip().isdigit() or int(raw) <= 0:
            raise ValueError(f"{ENV_MB}={raw!r} must be a positive integer (MiB per array)")
        return int(raw) * 2**20 // 8
    return max(4 * last_level_cache_bytes(), MIN_ARRAY_BYTES) // 8


@dataclass
class Stream:
    """Three touched float64 arrays of ``n`` elements, kernels compiled."""

    n: int

    def __post_init__(self) -> None:
        self.a = np.full(self.n, 1.0)
        self.b = np.full(self.n, 2.0)
        self.c = np.full(self.n, 0.5)
        copy(self.a, self.b)
        triad(self.a, self.b, self.c, 3.0)

    @property
    def array_bytes(self) -> int:
        return 8 * self.n

    def copy_rate(self) -> float:
        """Bytes per second of one copy (16 B per element)."""
        start = time.perf_counter()
        copy(self.a, self.b)
        return COPY_BYTES * self.n / (time.perf_counter() - start)

    def triad_rate(self) -> float:
        """Bytes per second of one triad (24 B per element)."""
        start = time.perf_counter()
        triad(self.a, self.b, self.c, 3.0)
        return TRIAD_BYTES * self.n / (time.perf_counter() - start)

    def best_of(self, which: str, times: int) -> float:
        """STREAM reports the best of its trials: the highest rate of ``times`` runs."""
        run = self.copy_rate if which == "copy" else self.triad_rate
        return max(run() for _ in range(times))

    def median_of(self, which: str, times: int) -> float:
        run = self.copy_rate if which == "copy" else self.triad_rate
        return statistics.median(run() for _ in range(times))

    def check(self) -> None:
        """Assert the arrays hold what the last copy / triad wrote (STREAM's own check).

        Raises
        ------
        AssertionError
            When a kernel wrote the wrong values.
        """
        self.b.fill(2.0)
        self.c.fill(0.5)
        copy(self.a, self.b)
        assert np.all(self.a == 2.0)
        triad(self.a, self.b, self.c, 3.0)
        assert np.all(self.a == 3.5)


def data_caches(cpu: str = CACHE_DIR) -> dict[int, int]:
    """Bytes of each data or unified cache of CPU 0, by level, from sysfs ({} when unreadable)."""
    caches: dict[int, int] = {}
    for index in sorted(Path(cpu).glob("index*")):
        try:
            kind = (index / "type").read_text().strip()
            level = int((index / "level").read_text().strip())
            text = (index / "size").read_text().strip()
        except (OSError, ValueError):
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if kind in ("Data", "Unified") and digits.isdigit():
            caches[level] = int(digits) * scale
    return caches


def aligned(n: int, value: float) -> np.ndarray:
    """A float64 array of ``n`` elements filled with ``value``, starting on a 64-byte boundary
    (a cache line): an L1-sized loop over a misaligned array splits its vector loads across
    lines and reads at about two thirds of the aligned rate here."""
    raw = np.empty(n + 8)
    start = (-raw.ctypes.data % 64) // 8
    array = raw[start:start + n]
    array.fill(value)
    return array


def _timed(call, counted: int, times: int) -> tuple[float, float]:
    """Median and best bytes/s of ``times`` calls of ``call`` (after one untimed call)."""
    call()
    rates = []
    for _ in range(times):
        start = time.perf_counter()
        call()
        rates.append(counted / (time.perf_counter() - start))
    return statistics.median(rates), max(rates)


def measure_level(name: str, capacity: int | None, b: np.ndarray, a: np.ndarray,
                  times: int) -> Level:
    """Median read (sum over ``b``) and copy (``b`` into ``a``) rates, each checked exact.

    ``b`` and ``a``: float64, 1D; ``b`` holds 1.0 (the sum must equal its count) and ``a`` is
    overwritten. A loop over less than :data:`BYTES_PER_CALL` repeats inside the kernel.

    Raises
    ------
    AssertionError
        When the sum or the copy is wrong.
    """
    reads = max(1, BYTES_PER_CALL // (READ_BYTES * b.size))
    copies = max(1, BYTES_PER_CALL // (COPY_BYTES * a.size))
    b.fill(1.0)
    read, _ = _timed(lambda: read_sum(b, reads), READ_BYTES * b.size * reads, times)
    assert read_sum(b, reads) == float(b.size) * reads, "the load-only sum is wrong"
    source = b[:a.size]
    a.fill(0.0)
    copied, _ = _timed(lambda: copy_times(a, source, copies), COPY_BYTES * a.size * copies, times)
    assert np.all(a == 1.0), "the copy is wrong"
    return Level(name, capacity, READ_BYTES * b.size, read, copied)


def measure_hierarchy(roof: Stream, times: int, cpu: str = CACHE_DIR) -> list[Level]:
    """Read and copy rates of each data cache level (half its capacity: the sum over one array,
    the copy between two of half that; arrays on cache-line boundaries) and of DRAM (``roof``'s
    STREAM arrays), L1 first.

    A cache level is skipped when half of it would still fit in the level below.
    """
    levels: list[Level] = []
    below = 0
    for level, capacity in sorted(data_caches(cpu).items()):
        working = capacity // 2
        if working <= below:
            continue
        below = capacity
        b = aligned(working // 8, 1.0)
        levels.append(measure_level(f"L{level}", capacity, b, aligned(b.size // 2, 0.0), times))
    levels.append(measure_level("DRAM", None, roof.b, roof.a, times))
    roof.check()
    return levels
