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
"""

from __future__ import annotations

import os
import statistics
import time
from dataclasses import dataclass

import numpy as np

# the loops live in kernels/ (``harness probe`` runs them too); re-exported here
from harness.probe.sizes import last_level_cache_bytes
from kernels.stream import COPY_BYTES, TRIAD_BYTES, copy, triad

MIN_ARRAY_BYTES = 256 * 2**20
ENV_MB = "HARNESS_BENCH_STREAM_MB"


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
