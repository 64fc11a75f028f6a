"""STREAM copy and triad as Numba loops (McCalpin, https://www.cs.virginia.edu/stream/ref.html).

Bytes STREAM counts per float64 element, the bytes the source code names and nothing else
(write-allocate reads of the destination are not counted): copy ``a[i] = b[i]`` 16 B, triad
``a[i] = b[i] + s·c[i]`` 24 B. Used by ``harness probe`` (the ``[memory]`` curve of the machine
model) and by ``benchmarks/stream.py`` (the memory roof of the CFD benchmark).

:func:`read_sum` and :func:`copy_times` repeat a load-only and a copy loop inside the compiled
code, so that arrays small enough to sit in L1 can be timed without Python's call overhead:
``benchmarks/stream.py`` measures the cache hierarchy with them (8 B per element read, 16 B per
element copied).
"""

from __future__ import annotations

from numba import njit

#: bytes STREAM counts per element
COPY_BYTES = 16
TRIAD_BYTES = 24
READ_BYTES = 8


@njit(cache=True)
def copy(a, b):  # pragma: no cover - compiled
    """STREAM copy: ``a[i] = b[i]`` over 1D float64 arrays of one length."""
    for i in range(a.shape[0]):
        a[i] = b[i]


@njit(cache=True)
def triad(a, b, c, scalar):  # pragma: no cover - compiled
    """STREAM triad: ``a[i] = b[i] + scalar * c[i]`` over 1D float64 arrays of one length."""
    for i in range(a.shape[0]):
        a[i] = b[i] + scalar * c[i]


@njit(cache=True, fastmath=True)
def read_sum(b, times):  # pragma: no cover - compiled
    """Sum of the 1D float64 array ``b``, read ``times`` times over (a float): load-only traffic.

    ``fastmath`` lets LLVM reassociate the sum into independent vector accumulators, so the loop
    is bound by loads, not by the latency of one chain of adds. Exact for arrays of small
    integers (the benchmark's check): every partial sum is an integer below 2**53.
    """
    total = 0.0
    for _ in range(times):
        partial = 0.0
        for i in range(b.shape[0]):
            partial += b[i]
        total += partial
    return total


@njit(cache=True)
def copy_times(a, b, times):  # pragma: no cover - compiled
    """STREAM copy ``a[i] = b[i]`` over 1D float64 arrays of one length, ``times`` times over."""
    for _ in range(times):
        for i in range(a.shape[0]):
            a[i] = b[i]
