"""What a user would write instead of the harness's Numba kernels, in NumPy and SciPy.

* :func:`param_numpy` — the parameter study's RK4 (``kernels/param.py``) vectorized across
  cases: one NumPy expression per RK4 stage over all cases, stepping every case at once; a case
  whose ``nsteps`` is reached is held by a mask (cases differ in step count).
* :func:`opt_objective_numpy` — the optimization objective (``kernels/opt.py``) over a whole
  population at once, as ``scipy.optimize.differential_evolution(vectorized=True)`` calls it:
  the splitmix64 hash of x's bits picks each row's number of passes, and every pass recomputes
  the function for the rows that still have passes to make. Same values, same work per row.
"""

from __future__ import annotations

import math

import numpy as np

from kernels import opt as opt_kernel
from kernels import param as param_kernel

_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)


def param_numpy(omega: np.ndarray, zeta: np.ndarray, drive: np.ndarray,
                nsteps: np.ndarray) -> np.ndarray:
    """RK4 of every case at once; returns (cases, 3): x(T), v(T), ∫₀ᵀ x dt.

    Inputs are the per-case arrays of :func:`kernels.param.case_grid` (float64, nsteps int64).
    The arithmetic is :func:`kernels.param.integrate`'s, expression by expression.
    """
    force, horizon = param_kernel.FORCE, param_kernel.HORIZON
    w2 = omega * omega
    c = 2.0 * zeta * omega
    dt = horizon / nsteps
    half = 0.5 * dt
    x = np.full(omega.shape, param_kernel.X0)
    v = np.full(omega.shape, param_kernel.V0)
    q = np.zeros(omega.shape)
    rot_c = np.cos(drive * half)
    rot_s = np.sin(drive * half)
    cr = np.ones(omega.shape)
    sr = np.zeros(omega.shape)
    for s in range(int(nsteps.max())):
        live = s < nsteps
        if s % param_kernel.RESYNC == 0:
            cr = np.cos(drive * s * dt)
            sr = np.sin(drive * s * dt)
        ch = cr * rot_c - sr * rot_s
        sh = sr * rot_c + cr * rot_s
        cr_next = ch * rot_c - sh * rot_s
        sr = sh * rot_c + ch * rot_s
        f0 = force * cr
        fh = force * ch
        f1 = force * cr_next
        cr = cr_next
        k1v = f0 - c * v - w2 * x
        x2 = x + half * v
        v2 = v + half * k1v
        k2v = fh - c * v2 - w2 * x2
        x3 = x + half * v2
        v3 = v + half * k2v
        k3v = fh - c * v3 - w2 * x3
        x4 = x + dt * v3
        v4 = v + dt * k3v
        k4v = f1 - c * v4 - w2 * x4
        q = np.where(live, q + dt / 6.0 * (x + 2.0 * x2 + 2.0 * x3 + x4), q)
        x_new = x + dt / 6.0 * (v + 2.0 * v2 + 2.0 * v3 + v4)
        v = np.where(live, v + dt / 6.0 * (k1v + 2.0 * k2v + 2.0 * k3v + k4v), v)
        x = np.where(live, x_new, x)
    return np.stack([x, v, q], axis=1)


def _splitmix64(z: np.ndarray) -> np.ndarray:
    z = z + _GAMMA
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


def opt_passes(x: np.ndarray, cost: int) -> np.ndarray:
    """Passes per row of ``x`` (rows × d): :func:`kernels.opt.evaluation_passes`, vectorized."""
    bits = np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)
    z = np.zeros(x.shape[0], dtype=np.uint64)
    for j in range(x.shape[1]):
        z = _splitmix64(z ^ bits[:, j])
    h = (z >> np.uint64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
    return cost + (2.0 * cost * h).astype(np.int64)


def _function(x: np.ndarray, function: int) -> np.ndarray:
    if function == opt_kernel.RASTRIGIN:
        return 10.0 * x.shape[1] + np.sum(x * x - 10.0 * np.cos(2.0 * math.pi * x), axis=1)
    a = x[:, 1:] - x[:, :-1] ** 2
    b = 1.0 - x[:, :-1]
    return np.sum(100.0 * a * a + b * b, axis=1)


def opt_objective_numpy(x: np.ndarray, function: int, cost: int) -> np.ndarray:
    """Objective of every row of ``x`` (rows × d); each row makes its own number of passes."""
    passes = opt_passes(x, cost)
    value = np.zeros(x.shape[0])
    for p in range(int(passes.max())):
        rows = np.flatnonzero(passes > p)
        value[rows] = _function(x[rows], function)
    return value
