"""The CFD kernel against a plain NumPy implementation of the same scheme and its closed form."""

import cmath
import math

import numpy as np
import pytest

from kernels import cfd


def numpy_step(c: np.ndarray, n: int, nu: float, u: float, v: float, dt: float) -> np.ndarray:
    """One step of the scheme of kernels/cfd.py on a whole periodic grid (no halo)."""
    h = 1.0 / n
    down = np.roll(c, -1, axis=0)  # c[i+1, j]
    up = np.roll(c, 1, axis=0)  # c[i-1, j]
    east = np.roll(c, -1, axis=1)  # c[i, j+1]
    west = np.roll(c, 1, axis=1)  # c[i, j-1]
    return c + dt * (nu * (down + up + east + west - 4 * c) / h**2
                     - u * (c - up) / h - v * (c - west) / h)


def kernel_steps(c0: np.ndarray, coef, steps: int) -> np.ndarray:
    n = c0.shape[0]
    c = np.zeros((n + 2, n + 2))
    out = np.zeros_like(c)
    c[1:-1, 1:-1] = c0
    for _ in range(steps):
        cfd.fill_periodic_halo(c)
        cfd.update(c, out, 1, n + 1, 1, n + 1, *coef)
        c, out = out, c
    return c[1:-1, 1:-1].copy()


@pytest.mark.parametrize("n", [4, 7, 16])
@pytest.mark.parametrize("nu,u,v", [(0.01, 1.0, 0.5), (0.0, 0.3, 2.0), (0.1, 1e-3, 1e-3)])
def test_update_matches_numpy_scheme(n, nu, u, v):
    rng = np.random.default_rng(n)
    c0 = rng.standard_normal((n, n))
    dt = cfd.stable_dt(n, nu, u, v, 0.9)
    coef = cfd.stencil_coefficients(n, nu, u, v, dt)
    expected = c0
    for _ in range(5):
        expected = numpy_step(expected, n, nu, u, v, dt)
    np.testing.assert_allclose(kernel_steps(c0, coef, 5), expected, rtol=1e-12, atol=1e-12)


def test_residual_kernel_returns_max_change_and_same_field():
    n = 12
    rng = np.random.default_rng(1)
    c = np.zeros((n + 2, n + 2))
    c[1:-1, 1:-1] = rng.standard_normal((n, n))
    cfd.fill_periodic_halo(c)
    coef = cfd.stencil_coefficients(n, 0.01, 1.0, 0.5, cfd.stable_dt(n, 0.01, 1.0, 0.5, 0.9))
    a, b = np.zeros_like(c), np.zeros_like(c)
    cfd.update(c, a, 1, n + 1, 1, n + 1, *coef)
    res = cfd.update_residual(c, b, 1, n + 1, 1, n + 1, *coef)
    np.testing.assert_array_equal(a, b)
    assert res == pytest.approx(np.max(np.abs(b[1:-1, 1:-1] - c[1:-1, 1:-1])), rel=0, abs=0)


def test_coefficients_conserve_and_are_monotone_below_the_limit():
    n, nu, u, v = 64, 0.01, 1.0, 0.5
    coef = cfd.stencil_coefficients(n, nu, u, v, cfd.stable_dt(n, nu, u, v, 1.0))
    assert sum(coef) == pytest.approx(1.0, abs=1e-15)  # a constant field stays constant
    assert min(coef) >= -1e-15  # positivity at the limit: every weight >= 0
    over = cfd.stencil_coefficients(n, nu, u, v, 1.1 * cfd.stable_dt(n, nu, u, v, 1.0))
    assert over[0] < 0  # past the limit the centre weight turns negative


@pytest.mark.parametrize("kx,ky", [(1, 2), (3, 0), (0, 5), (2, 2)])
def test_fourier_mode_is_multiplied_by_the_amplification_factor(kx, ky):
    n, nu, u, v = 32, 0.02, 1.0, 0.7
    dt = cfd.stable_dt(n, nu, u, v, 0.8)
    g = cfd.amplification_factor(n, nu, u, v, dt, kx, ky)
    steps = 40
    start = cfd.fourier_mode(n, kx, ky, 0, n, 0, n)
    got = kernel_steps(start, cfd.stencil_coefficients(n, nu, u, v, dt), steps)
    closed = cfd.fourier_mode(n, kx, ky, 0, n, 0, n, amplitude=abs(g) ** steps,
                              phase=steps * cmath.phase(g))
    assert abs(g) < 1.0 or (kx == 0 and ky == 0)
    np.testing.assert_allclose(got, closed, rtol=0, atol=1e-12 * abs(g) ** steps)


def test_fourier_mode_on_a_block_equals_the_slice_of_the_whole():
    whole = cfd.fourier_mode(20, 3, 4, 0, 20, 0, 20, amplitude=0.5, phase=0.3)
    part = cfd.fourier_mode(20, 3, 4, 5, 7, 11, 9, amplitude=0.5, phase=0.3)
    np.testing.assert_array_equal(part, whole[5:12, 11:20])


def test_stable_dt_formula():
    n, nu, u, v = 100, 0.5, 2.0, 3.0
    h = 1 / n
    assert cfd.stable_dt(n, nu, u, v, 0.5) == pytest.approx(0.5 / (4 * nu / h**2 + 5 / h))
    assert math.isfinite(cfd.stable_dt(n, 0.0, u, v, 1.0))
