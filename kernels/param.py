"""Parameter-study kernel: RK4 on a damped driven linear oscillator, one case per grid point.

Each case integrates, from x(0) = x0, x'(0) = v0 to the horizon T,

    x'' + 2ζω x' + ω² x = F cos(Ω t)

with classical fourth-order Runge–Kutta on the state (x, v, q), where q' = x accumulates
q(T) = ∫₀ᵀ x dt. A case yields the result vector (x(T), v(T), q(T)).

The cases form a grid in row-major order: ``k // (len(damping)·len(ratios))`` is the level of the
natural frequency ω (from 1 up to ``spread``, evenly spaced), then ζ runs over ``damping`` (under-,
critically and over-damped values), then the drive ratio Ω/ω over ``ratios``. Every case takes
``⌊steps·ω + ½⌋`` steps over the same horizon, so ω·dt — what the RK4 error depends on — is the
same for all cases (≈ T/steps), while the cost grows with ω: the most expensive case costs
``spread`` times the cheapest. Contiguous blocks of cases therefore cost unevenly, which is what
the ``static`` and ``dynamic`` schedules of ``harness/workloads/param.py`` are measured against.

:func:`closed_form` is the exact solution (homogeneous part in its three damping regimes plus the
steady periodic particular part), used for verification. Kernels take only arrays and numbers;
the wrappers check their inputs.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

#: the fixed part of every case: horizon T, forcing amplitude F, initial state (x0, v0)
HORIZON = 4.0 * math.pi
FORCE = 1.0
X0 = 1.0
V0 = 0.0
#: damping ratios ζ of the grid: two under-damped, critical, one over-damped
DAMPING = (0.05, 0.3, 1.0, 2.0)
#: drive-to-natural frequency ratios Ω/ω of the grid (1.0 is resonance)
RATIOS = (0.5, 0.9, 1.0, 1.5, 2.0)
#: values per case: x(T), v(T), q(T) = ∫₀ᵀ x dt
RESULTS = 3
#: RK4 steps between exact evaluations of the drive; between them it is rotated (integrate)
RESYNC = 256


@njit(cache=True)
def fill_grid(start, stop, cases, steps, spread, damping, ratios,
              omega, zeta, drive, nsteps):  # pragma: no cover - compiled
    """Parameters of cases [start, stop) into omega, zeta, drive, nsteps (length stop − start).

    ``start``, ``stop``, ``cases`` (the grid's size), ``steps`` (RK4 steps of the cheapest
    case): ints; ``spread``: float ≥ 1, the costliest case's cost over the cheapest's;
    ``damping`` and ``ratios``: float64, 1D, the grid's damping ratios ζ and drive ratios Ω/ω.
    Written in place: ``omega``, ``zeta``, ``drive``: float64, shape (stop − start,);
    ``nsteps``: int64, shape (stop − start,).
    """
    per_level = damping.size * ratios.size
    levels = (cases + per_level - 1) // per_level
    for k in range(start, stop):
        level = k // per_level
        within = k % per_level
        w = 1.0 + (spread - 1.0) * level / (levels - 1) if levels > 1 else 1.0
        i = k - start
        omega[i] = w
        zeta[i] = damping[within // ratios.size]
        drive[i] = ratios[within % ratios.size] * w
        nsteps[i] = max(1, math.floor(steps * w + 0.5))


#: cases advanced in lockstep (one SIMD-friendly inner loop) by :func:`integrate`
LANES = 32


@njit(cache=True)
def _integrate_lanes(omega, zeta, drive, n, force, x0, v0, horizon, lo, hi, out
                     ):  # pragma: no cover - compiled
    """RK4 of cases [lo, hi) (at most LANES, all with ``n`` steps) in lockstep into ``out``."""
    m = hi - lo
    w2 = np.empty(LANES)
    c = np.empty(LANES)
    rot_c = np.empty(LANES)
    rot_s = np.empty(LANES)
    cr = np.empty(LANES)
    sr = np.empty(LANES)
    x = np.empty(LANES)
    v = np.empty(LANES)
    q = np.empty(LANES)
    dt = horizon / n
    half = 0.5 * dt
    sixth = dt / 6.0
    for j in range(m):
        w2[j] = omega[lo + j] * omega[lo + j]
        c[j] = 2.0 * zeta[lo + j] * omega[lo + j]
        rot_c[j] = math.cos(drive[lo + j] * half)
        rot_s[j] = math.sin(drive[lo + j] * half)
        x[j] = x0
        v[j] = v0
        q[j] = 0.0
    for s in range(n):
        if s % RESYNC == 0:
            for j in range(m):
                cr[j] = math.cos(drive[lo + j] * s * dt)
                sr[j] = math.sin(drive[lo + j] * s * dt)
        for j in range(m):
            # the drive cos(Ωt) at the step's start, middle and end: (cos, sin) of Ωt rotated
            # through Ω·dt/2 instead of three cos calls
            ch = cr[j] * rot_c[j] - sr[j] * rot_s[j]
            sh = sr[j] * rot_c[j] + cr[j] * rot_s[j]
            cn = ch * rot_c[j] - sh * rot_s[j]
            sr[j] = sh * rot_c[j] + ch * rot_s[j]
            f0 = force * cr[j]
            fh = force * ch
            f1 = force * cn
            cr[j] = cn
            xj = x[j]
            vj = v[j]
            k1v = f0 - c[j] * vj - w2[j] * xj
            x2 = xj + half * vj
            v2 = vj + half * k1v
            k2v = fh - c[j] * v2 - w2[j] * x2
            x3 = xj + half * v2
            v3 = vj + half * k2v
            k3v = fh - c[j] * v3 - w2[j] * x3
            x4 = xj + dt * v3
            v4 = vj + dt * k3v
            k4v = f1 - c[j] * v4 - w2[j] * x4
            # q' = x: its stages are the x values at the four stage points
            q[j] += sixth * (xj + 2.0 * x2 + 2.0 * x3 + x4)
            x[j] = xj + sixth * (vj + 2.0 * v2 + 2.0 * v3 + v4)
            v[j] = vj + sixth * (k1v + 2.0 * k2v + 2.0 * k3v + k4v)
    for j in range(m):
        out[lo + j, 0] = x[j]
        out[lo + j, 1] = v[j]
        out[lo + j, 2] = q[j]


@njit(cache=True)
def integrate(omega, zeta, drive, nsteps, force, x0, v0, horizon, out):  # pragma: no cover
    """RK4 for every case i: out[i] = (x(T), v(T), ∫₀ᵀ x dt) with nsteps[i] equal steps.

    ``omega``, ``zeta``, ``drive``: float64, shape (n,) (natural frequency ω, damping ratio ζ,
    drive frequency Ω); ``nsteps``: int64, shape (n,); ``force``, ``x0``, ``v0``, ``horizon``:
    floats (drive amplitude F, initial state, T); ``out``: float64, shape (n, 3), written in
    place. Returns the total number of RK4 steps taken (an int).

    Consecutive cases with the same step count (one frequency level of the grid) advance in
    lockstep, up to :data:`LANES` at a time, so the compiler vectorizes across cases; the drive
    cos(Ωt) is rotated from step to step and recomputed exactly every :data:`RESYNC` steps. Each
    case's arithmetic is the same whichever lane or group it falls in, so results do not depend
    on how the cases are split among ranks.
    """
    total = 0
    i = 0
    size = omega.size
    while i < size:
        n = nsteps[i]
        hi = i + 1
        while hi < size and hi - i < LANES and nsteps[hi] == n:
            hi += 1
        _integrate_lanes(omega, zeta, drive, n, force, x0, v0, horizon, i, hi, out)
        total += n * (hi - i)
        i = hi
    return total


@njit(cache=True)
def closed_form(omega, zeta, drive, force, x0, v0, t, out):  # pragma: no cover - compiled
    """Exact out[i] = (x(t), v(t), ∫₀ᵗ x dt) for every case i.

    Arguments as :func:`integrate` (float64 arrays of shape (n,); ``out`` float64, shape
    (n, 3)), with ``t`` (a float) in place of the step counts and horizon.

    Particular part A cos Ωt + B sin Ωt with D = (ω² − Ω²)² + (2ζωΩ)², A = F(ω² − Ω²)/D,
    B = 2FζωΩ/D; homogeneous part fitted to the initial state minus the particular one at 0:
    e^{−ζωt}(y0 cos ω_d t + (w0 + ζω y0)/ω_d sin ω_d t) for ζ < 1, e^{−ωt}(y0 + (w0 + ω y0) t)
    for ζ = 1, c1 e^{r1 t} + c2 e^{r2 t} with r = −ω(ζ ∓ √(ζ² − 1)) for ζ > 1. The integral
    follows from integrating the equation once: ω²∫x = F sin(Ωt)/Ω − (v − v0) − 2ζω(x − x0).
    """
    for i in range(omega.size):
        w = omega[i]
        z = zeta[i]
        big = drive[i]
        w2 = w * w
        d = (w2 - big * big) ** 2 + (2.0 * z * w * big) ** 2
        a = force * (w2 - big * big) / d
        b = force * 2.0 * z * w * big / d
        xp = a * math.cos(big * t) + b * math.sin(big * t)
        vp = big * (-a * math.sin(big * t) + b * math.cos(big * t))
        y0 = x0 - a
        u0 = v0 - b * big
        if z < 1.0:
            sigma = z * w
            wd = w * math.sqrt(1.0 - z * z)
            c2 = (u0 + sigma * y0) / wd
            e = math.exp(-sigma * t)
            cs = math.cos(wd * t)
            sn = math.sin(wd * t)
            xh = e * (y0 * cs + c2 * sn)
            vh = e * (-sigma * (y0 * cs + c2 * sn) + wd * (-y0 * sn + c2 * cs))
        elif z == 1.0:
            e = math.exp(-w * t)
            c2 = u0 + w * y0
            xh = e * (y0 + c2 * t)
            vh = e * (c2 - w * (y0 + c2 * t))
        else:
            root = w * math.sqrt(z * z - 1.0)
            r1 = -z * w + root
            r2 = -z * w - root
            c1 = (u0 - r2 * y0) / (r1 - r2)
            c2 = y0 - c1
            e1 = math.exp(r1 * t)
            e2 = math.exp(r2 * t)
            xh = c1 * e1 + c2 * e2
            vh = c1 * r1 * e1 + c2 * r2 * e2
        x = xp + xh
        v = vp + vh
        out[i, 0] = x
        out[i, 1] = v
        out[i, 2] = (force * math.sin(big * t) / big - (v - v0) - 2.0 * z * w * (x - x0)) / w2


def case_grid(start: int, stop: int, cases: int, steps: int, spread: float
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parameters of the grid's cases [start, stop): arrays ω, ζ, Ω and steps per case.

    Returns three float64 arrays and one int64 array, each of shape (stop − start,).

    Raises
    ------
    ValueError
        When the range is not inside [0, cases), ``steps < 1`` or ``spread < 1``.
    """
    if not 0 <= start <= stop <= cases:
        raise ValueError(f"case range [{start}, {stop}) is not inside [0, {cases})")
    if steps < 1 or not spread >= 1.0:
        raise ValueError(f"steps={steps} must be >= 1 and spread={spread} >= 1")
    n = stop - start
    omega = np.empty(n)
    zeta = np.empty(n)
    drive = np.empty(n)
    nsteps = np.empty(n, dtype=np.int64)
    fill_grid(start, stop, cases, steps, float(spread), np.asarray(DAMPING), np.asarray(RATIOS),
              omega, zeta, drive, nsteps)
    return omega, zeta, drive, nsteps


def _check_out(out: np.ndarray, n: int) -> None:
    if out.shape != (n, RESULTS) or out.dtype != np.float64 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float64 array of shape ({n}, {RESULTS}), "
                         f"got {out.dtype} {out.shape}")


def solve_range(start: int, stop: int, cases: int, steps: int, spread: float,
                out: np.ndarray) -> int:
    """Integrate the grid's cases [start, stop) into ``out`` (shape (stop − start, 3)).

    Returns the number of RK4 steps taken.

    Raises
    ------
    ValueError
        On a bad range or an ``out`` of the wrong shape or type.
    """
    omega, zeta, drive, nsteps = case_grid(start, stop, cases, steps, spread)
    _check_out(out, stop - start)
    return int(integrate(omega, zeta, drive, nsteps, FORCE, X0, V0, HORIZON, out))


def exact_range(start: int, stop: int, cases: int, steps: int, spread: float) -> np.ndarray:
    """Closed-form results (x(T), v(T), ∫x) of the grid's cases [start, stop), shape (n, 3)."""
    omega, zeta, drive, _ = case_grid(start, stop, cases, steps, spread)
    out = np.empty((stop - start, RESULTS))
    closed_form(omega, zeta, drive, FORCE, X0, V0, HORIZON, out)
    return out


def total_steps(cases: int, steps: int, spread: float) -> int:
    """RK4 steps needed for the whole grid (the work of one repetition)."""
    return int(case_grid(0, cases, cases, steps, spread)[3].sum())


def precompile() -> None:
    """Compile every kernel on two tiny cases (fills the on-disk cache)."""
    out = np.empty((2, RESULTS))
    solve_range(0, 2, 2, 2, 1.0, out)
    exact_range(0, 2, 2, 2, 1.0)
