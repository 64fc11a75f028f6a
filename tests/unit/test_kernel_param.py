"""The parameter-study kernel against SciPy's ODE solver and the oscillator's closed form."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from harness.workloads.param import tolerance
from kernels import param as kernel

# (omega, zeta, drive): under-damped (light, resonant, moderate), critical, over-damped
REGIMES = {
    "under-light": (1.0, 0.05, 0.9),
    "under-resonant": (2.5, 0.05, 2.5),
    "under": (1.7, 0.3, 3.1),
    "critical": (1.3, 1.0, 0.6),
    "critical-resonant": (2.0, 1.0, 2.0),
    "over": (0.8, 2.0, 1.5),
    "over-strong": (1.1, 5.0, 0.4),
}
FORCE, X0, V0 = 1.3, 0.7, -0.4


def reference(omega: float, zeta: float, drive: float, t_end: float) -> np.ndarray:
    """(x, v, ∫x) at t_end from SciPy's DOP853 at tight tolerances."""

    def rhs(t, y):
        x, v, _ = y
        return [v, FORCE * np.cos(drive * t) - 2 * zeta * omega * v - omega**2 * x, x]

    sol = solve_ivp(rhs, (0.0, t_end), [X0, V0, 0.0], method="DOP853", rtol=1e-12, atol=1e-13)
    assert sol.success
    return sol.y[:, -1]


def one(value: float) -> np.ndarray:
    return np.array([value])


def rk4(omega: float, zeta: float, drive: float, steps: int, t_end: float) -> np.ndarray:
    out = np.empty((1, kernel.RESULTS))
    total = kernel.integrate(one(omega), one(zeta), one(drive), np.array([steps]), FORCE, X0, V0,
                             t_end, out)
    assert total == steps
    return out[0]


def exact(omega: float, zeta: float, drive: float, t_end: float) -> np.ndarray:
    out = np.empty((1, kernel.RESULTS))
    kernel.closed_form(one(omega), one(zeta), one(drive), FORCE, X0, V0, t_end, out)
    return out[0]


@pytest.mark.parametrize("t_end", [0.0, 0.37, 5.0, kernel.HORIZON])
@pytest.mark.parametrize("regime", REGIMES)
def test_closed_form_matches_solve_ivp(regime: str, t_end: float) -> None:
    omega, zeta, drive = REGIMES[regime]
    if t_end == 0.0:
        np.testing.assert_allclose(exact(omega, zeta, drive, 0.0), [X0, V0, 0.0], atol=1e-15)
        return
    np.testing.assert_allclose(exact(omega, zeta, drive, t_end),
                               reference(omega, zeta, drive, t_end), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("regime", REGIMES)
def test_rk4_matches_solve_ivp(regime: str) -> None:
    omega, zeta, drive = REGIMES[regime]
    t_end = kernel.HORIZON
    # ω·dt ≈ 0.01 for the fastest root: RK4's error is ~1e-10 here
    steps = int(t_end * omega * (zeta + np.sqrt(max(zeta**2 - 1, 0)) + 1) / 0.01)
    np.testing.assert_allclose(rk4(omega, zeta, drive, steps, t_end),
                               reference(omega, zeta, drive, t_end), rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("regime", REGIMES)
def test_rk4_is_fourth_order(regime: str) -> None:
    omega, zeta, drive = REGIMES[regime]
    t_end = kernel.HORIZON
    truth = exact(omega, zeta, drive, t_end)
    coarse = np.max(np.abs(rk4(omega, zeta, drive, 200, t_end) - truth))
    fine = np.max(np.abs(rk4(omega, zeta, drive, 400, t_end) - truth))
    assert 12.0 < coarse / fine < 20.0  # 2⁴ = 16 for a fourth-order method


@pytest.mark.parametrize(("steps", "spread"), [(20, 1.0), (37, 4.0), (100, 4.0), (100, 64.0),
                                               (400, 2.5)])
def test_grid_within_stated_tolerance(steps: int, spread: float) -> None:
    cases = 300
    out = np.empty((cases, kernel.RESULTS))
    kernel.solve_range(0, cases, cases, steps, spread, out)
    truth = kernel.exact_range(0, cases, cases, steps, spread)
    error = np.max(np.abs(out - truth) / (1 + np.abs(truth)))
    assert error <= tolerance(steps)
    # the bound is not loose by orders of magnitude: RK4 really has an error of that size
    assert error >= 0.05 * (kernel.HORIZON / steps) ** 4


def test_grid_covers_every_regime_and_ratio() -> None:
    cases = 200
    omega, zeta, drive, _ = kernel.case_grid(0, cases, cases, 50, 4.0)
    assert set(zeta) == set(kernel.DAMPING)
    assert {z < 1 for z in zeta} == {True, False} and 1.0 in set(zeta)
    assert np.allclose(sorted(set(np.round(drive / omega, 12))), sorted(kernel.RATIOS))
    assert omega.min() == 1.0 and omega.max() == 4.0
    assert np.all(np.diff(omega) >= 0)


@pytest.mark.parametrize(("steps", "spread"), [(100, 4.0), (50, 8.0), (64, 2.0), (100, 1.0)])
def test_cost_is_uneven_by_spread(steps: int, spread: float) -> None:
    cases = 400
    omega, _, _, nsteps = kernel.case_grid(0, cases, cases, steps, spread)
    assert nsteps.min() == steps
    assert nsteps.max() == int(np.floor(steps * spread + 0.5))
    # cost grows along the case order, so contiguous blocks are uneven
    assert np.all(np.diff(nsteps) >= 0)
    half = cases // 2
    if spread > 1:
        assert nsteps[half:].sum() > 1.4 * nsteps[:half].sum()
    # ω·dt is the same for every case up to the rounding of the step count
    h = omega * kernel.HORIZON / nsteps
    np.testing.assert_allclose(h, kernel.HORIZON / steps, rtol=0.5 / steps)
    assert kernel.total_steps(cases, steps, spread) == nsteps.sum()


def test_grid_does_not_depend_on_the_range_split() -> None:
    cases, steps, spread = 97, 40, 3.0
    whole = np.empty((cases, kernel.RESULTS))
    kernel.solve_range(0, cases, cases, steps, spread, whole)
    pieces = np.empty_like(whole)
    for start in range(0, cases, 10):
        stop = min(start + 10, cases)
        kernel.solve_range(start, stop, cases, steps, spread, pieces[start:stop])
    np.testing.assert_array_equal(pieces, whole)


def test_solve_range_reports_steps() -> None:
    out = np.empty((50, kernel.RESULTS))
    taken = kernel.solve_range(10, 60, 100, 30, 2.0, out)
    assert taken == kernel.case_grid(10, 60, 100, 30, 2.0)[3].sum()


@pytest.mark.parametrize(("start", "stop", "cases"), [(-1, 3, 5), (3, 2, 5), (0, 6, 5)])
def test_bad_range_is_refused(start: int, stop: int, cases: int) -> None:
    with pytest.raises(ValueError, match="case range"):
        kernel.case_grid(start, stop, cases, 10, 2.0)


def test_bad_output_is_refused() -> None:
    with pytest.raises(ValueError, match="shape"):
        kernel.solve_range(0, 4, 4, 10, 2.0, np.empty((4, 2)))
    with pytest.raises(ValueError, match="steps"):
        kernel.case_grid(0, 4, 4, 0, 2.0)
