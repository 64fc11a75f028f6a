"""Packing and unpacking of sub-boxes of a 3D array stored flat, x fastest (pure Numba).

A field of shape (nz, ny, nx) is held as a 1-D float64 array of nz·ny·nx entries, index
``(k·ny + j)·nx + i``. A *region* is ``(z0, z1, y0, y1, x0, x1)``, half-open, in those indices.
The halo exchange of ``harness/decomposition/box.py`` packs each face, edge and corner region
of a box's owned layer into a contiguous buffer, sends it, and unpacks what arrives into the
matching region of the halo layer.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def pack(field, ny, nx, region, buf):  # pragma: no cover - compiled
    """Copy ``region`` of ``field`` (float64, flat (·, ny, nx)) into ``buf`` (float64, the
    region's size), z slowest and x fastest."""
    z0, z1, y0, y1, x0, x1 = region
    t = 0
    for k in range(z0, z1):
        for j in range(y0, y1):
            base = (k * ny + j) * nx
            for i in range(x0, x1):
                buf[t] = field[base + i]
                t += 1


@njit(cache=True)
def unpack(buf, field, ny, nx, region):  # pragma: no cover - compiled
    """Copy ``buf`` into ``region`` of ``field``, in :func:`pack`'s order."""
    z0, z1, y0, y1, x0, x1 = region
    t = 0
    for k in range(z0, z1):
        for j in range(y0, y1):
            base = (k * ny + j) * nx
            for i in range(x0, x1):
                field[base + i] = buf[t]
                t += 1


def precompile() -> None:
    """Compile both kernels on a 3×3×3 field."""
    field = np.zeros(27)
    buf = np.empty(1)
    pack(field, 3, 3, (1, 2, 1, 2, 1, 2), buf)
    unpack(buf, field, 3, 3, (1, 2, 1, 2, 1, 2))
