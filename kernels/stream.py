"""STREAM copy and triad as Numba loops (McCalpin, https://www.cs.virginia.edu/stream/ref.html).

Bytes STREAM counts per float64 element, the bytes the source code names and nothing else
(write-allocate reads of the destination are not counted): copy ``a[i] = b[i]`` 16 B, triad
``a[i] = b[i] + s·c[i]`` 24 B. Used by ``harness probe`` (the ``[memory]`` curve of the machine
model) and by ``benchmarks/stream.py`` (the memory roof of the CFD benchmark).
"""

from __future__ import annotations

from numba import njit

#: bytes STREAM counts per element
COPY_BYTES = 16
TRIAD_BYTES = 24


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
