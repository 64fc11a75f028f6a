"""CFD kernel: explicit 2D advection–diffusion on a periodic grid, 5-point stencil.

The scheme (fixed, so its figure of merit can be compared with other implementations of the same
arithmetic) on the unit square with N×N cells, h = 1/N, (i, j) = (row, column), velocity (u, v)
with u, v > 0 and diffusivity ν::

    c'[i,j] = c[i,j] + dt·( ν·(c[i+1,j] + c[i−1,j] + c[i,j+1] + c[i,j−1] − 4·c[i,j]) / h²
                            − u·(c[i,j] − c[i−1,j]) / h − v·(c[i,j] − c[i,j−1]) / h )

first-order upwind advection, second-order central diffusion, explicit Euler. Rewritten with the
five coefficients of :func:`stencil_coefficients` it is one multiply per neighbour::

    c'[i,j] = cc·c[i,j] + cs·c[i+1,j] + cn·c[i−1,j] + ce·c[i,j+1] + cw·c[i,j−1]

The kernels work on a rank's block with one halo layer: an array of shape (rows + 2, cols + 2)
whose border holds the neighbours' values. They take only arrays and numbers; the halo exchange
lives in ``harness/decomposition/cartesian.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


def stable_dt(n: int, nu: float, u: float, v: float, safety: float) -> float:
    """Time step: ``safety`` times the positivity limit 1 / (4ν/h² + (u + v)/h).

    Below that limit every coefficient of the update is non-negative, so the scheme is
    monotone and stable in max norm. ``n`` cells per side (h = 1/n), diffusivity ``nu`` and
    velocity ``(u, v)`` in units of the unit square, ``safety`` in (0, 1]; returns dt (float).
    """
    h = 1.0 / n
    return safety / (4.0 * nu / (h * h) + (u + v) / h)


def stencil_coefficients(n: int, nu: float, u: float, v: float, dt: float
                         ) -> tuple[float, float, float, float, float]:
    """``(cc, cs, cn, ce, cw)``: weights of c[i,j], c[i+1,j], c[i−1,j], c[i,j+1], c[i,j−1].

    For ``n`` cells per side, diffusivity ``nu``, velocity ``(u, v)`` and time step ``dt`` (as
    :func:`stable_dt`); five floats, summing to 1.
    """
    h = 1.0 / n
    d = dt * nu / (h * h)
    ax = dt * u / h
    ay = dt * v / h
    return 1.0 - 4.0 * d - ax - ay, d, d + ax, d, d + ay


def amplification_factor(n: int, nu: float, u: float, v: float, dt: float,
                         kx: int, ky: int) -> complex:
    """Exact factor G by which one step multiplies the mode exp(i·2π(kx·i + ky·j)/N).

    ``n``, ``nu``, ``u``, ``v``, ``dt`` as :func:`stencil_coefficients`; integer wave numbers
    ``kx``, ``ky``. Returns a complex; |G| < 1 for a decaying mode.
    """
    a = 2.0 * math.pi * kx / n
    b = 2.0 * math.pi * ky / n
    h = 1.0 / n
    diffusion = nu * (2.0 * math.cos(a) + 2.0 * math.cos(b) - 4.0) / (h * h)
    advection = u * (1.0 - complex(math.cos(a), -math.sin(a))) / h \
        + v * (1.0 - complex(math.cos(b), -math.sin(b))) / h
    return 1.0 + dt * (diffusion - advection)


def fourier_mode(n: int, kx: int, ky: int, row0: int, rows: int, col0: int, cols: int,
                 amplitude: float = 1.0, phase: float = 0.0) -> np.ndarray:
    """amplitude·sin(2π(kx·i + ky·j)/N + phase) on global rows [row0, row0+rows), same for cols.

    x runs along the row index i (paired with u and kx), y along the column index j (v, ky).
    Integer products are reduced modulo N first so the angle stays small and exact. Returns a
    new float64 array of shape (rows, cols).
    """
    i = np.arange(row0, row0 + rows, dtype=np.int64)[:, None]
    j = np.arange(col0, col0 + cols, dtype=np.int64)[None, :]
    turns = ((kx * i) % n + (ky * j) % n) % n
    return amplitude * np.sin(2.0 * np.pi * turns / n + phase)


@njit(cache=True)
def update(c, out, r0, r1, c0, c1, cc, cs, cn, ce, cw):  # pragma: no cover - compiled
    """out[i, j] for rows [r0, r1), cols [c0, c1) of the padded block (halo cells read only).

    ``c`` and ``out``: float64, C-contiguous, the same shape (rows + 2, cols + 2), distinct;
    ``r0, r1, c0, c1``: ints, padded indices; ``cc, cs, cn, ce, cw``: floats, the weights of
    :func:`stencil_coefficients`. Writes ``out`` in place.

    Requires c0 >= 1 and c1 <= cols - 1 (the region lies inside the halo layer). The inner loop
    runs over row slices indexed from 0: with an index that Numba cannot prove non-negative,
    every access would carry a wraparound check and LLVM would emit gathers and scatters
    instead of contiguous vector loads and stores (about 4x slower at 8192²).
    """
    width = c1 - c0
    for i in range(r0, r1):
        north = c[i - 1, c0:c1]
        centre = c[i, c0:c1]
        south = c[i + 1, c0:c1]
        east = c[i, c0 + 1:c1 + 1]
        west = c[i, c0 - 1:c1 - 1]
        row = out[i, c0:c1]
        for j in range(width):
            row[j] = cc * centre[j] + cs * south[j] + cn * north[j] + ce * east[j] + cw * west[j]


@njit(cache=True)
def update_residual(c, out, r0, r1, c0, c1, cc, cs, cn, ce, cw):  # pragma: no cover - compiled
    """As :func:`update` (same arguments, dtypes and shapes), also returning max |out − c| over
    the region (the step's residual, a float)."""
    width = c1 - c0
    res = 0.0
    for i in range(r0, r1):
        north = c[i - 1, c0:c1]
        centre = c[i, c0:c1]
        south = c[i + 1, c0:c1]
        east = c[i, c0 + 1:c1 + 1]
        west = c[i, c0 - 1:c1 - 1]
        row = out[i, c0:c1]
        for j in range(width):
            new = cc * centre[j] + cs * south[j] + cn * north[j] + ce * east[j] + cw * west[j]
            row[j] = new
            res = max(res, abs(new - centre[j]))
    return res


@njit(cache=True)
def pack_column(c, col, r0, r1, buf):  # pragma: no cover - compiled
    """Copy c[r0:r1, col] into the contiguous ``buf``.

    ``c``: float64, 2D; ``buf``: float64, shape (>= r1 - r0,); ``col``, ``r0``, ``r1``: ints.
    """
    for i in range(r0, r1):
        buf[i - r0] = c[i, col]


@njit(cache=True)
def unpack_column(buf, c, col, r0, r1):  # pragma: no cover - compiled
    """Copy ``buf`` into c[r0:r1, col]; dtypes and shapes as :func:`pack_column`."""
    for i in range(r0, r1):
        c[i, col] = buf[i - r0]


@njit(cache=True)
def pack_row(c, row, c0, c1, buf):  # pragma: no cover - compiled
    """Copy c[row, c0:c1] into the contiguous ``buf``.

    ``c``: float64, 2D; ``buf``: float64, shape (>= c1 - c0,); ``row``, ``c0``, ``c1``: ints.
    """
    for j in range(c0, c1):
        buf[j - c0] = c[row, j]


@njit(cache=True)
def unpack_row(buf, c, row, c0, c1):  # pragma: no cover - compiled
    """Copy ``buf`` into c[row, c0:c1]; dtypes and shapes as :func:`pack_row`."""
    for j in range(c0, c1):
        c[row, j] = buf[j - c0]


def fill_periodic_halo(c: np.ndarray) -> None:
    """Serial halo: copy the opposite edges of a whole periodic grid into its halo layer.

    ``c``: float64, shape (N + 2, N + 2), changed in place (corners untouched).
    """
    c[0, 1:-1] = c[-2, 1:-1]
    c[-1, 1:-1] = c[1, 1:-1]
    c[1:-1, 0] = c[1:-1, -2]
    c[1:-1, -1] = c[1:-1, 1]


def precompile() -> None:
    """Compile every kernel on a 4×4 grid (fills the on-disk cache)."""
    c = np.zeros((6, 6))
    out = np.zeros_like(c)
    buf = np.zeros(4)
    update(c, out, 1, 5, 1, 5, 0.5, 0.1, 0.2, 0.1, 0.1)
    update_residual(c, out, 1, 5, 1, 5, 0.5, 0.1, 0.2, 0.1, 0.1)
    pack_column(c, 1, 1, 5, buf)
    unpack_column(buf, c, 0, 1, 5)
    pack_row(c, 1, 1, 5, buf)
    unpack_row(buf, c, 0, 1, 5)
