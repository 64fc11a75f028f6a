"""The optimization kernel against NumPy and plain-Python oracles (no MPI)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.decomposition.blocks import block_range
from harness.workloads.opt import TOLERANCE, Optimization
from kernels import opt as kernel

MASK = (1 << 64) - 1


# -- oracles -----------------------------------------------------------------------------------

def splitmix64_ref(z: int) -> int:
    z = (z + 0x9E3779B97F4A7C15) & MASK
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def uniform_ref(seed: int, generation: int, individual: int, draw: int) -> float:
    z = splitmix64_ref(seed)
    for word in (generation, individual, draw):
        z = splitmix64_ref(z ^ word)
    return (z >> 11) / 2.0**53


def rastrigin_ref(x: np.ndarray) -> float:
    return float(10.0 * x.size + np.sum(x * x - 10.0 * np.cos(2.0 * np.pi * x)))


def rosenbrock_ref(x: np.ndarray) -> float:
    return float(np.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2))


REFERENCE = {"rastrigin": rastrigin_ref, "rosenbrock": rosenbrock_ref}


def nth_free(index: int, excluded: list[int], n: int) -> int:
    """The index-th row of range(n) once ``excluded`` rows are removed (list-based)."""
    return [r for r in range(n) if r not in excluded][index]


def de_trials_ref(pop, first, seed, generation, F, CR, lower, upper):
    """DE/rand/1/bin written out plainly, drawing from :func:`uniform_ref`."""
    n, d = pop.shape
    trials = np.empty_like(pop)
    for r in range(n):
        ind = first + r
        r1 = nth_free(int(uniform_ref(seed, generation, ind, 0) * (n - 1)), [r], n)
        r2 = nth_free(int(uniform_ref(seed, generation, ind, 1) * (n - 2)), [r, r1], n)
        r3 = nth_free(int(uniform_ref(seed, generation, ind, 2) * (n - 3)), [r, r1, r2], n)
        jrand = int(uniform_ref(seed, generation, ind, 3) * d)
        for j in range(d):
            if j == jrand or uniform_ref(seed, generation, ind, 4 + j) < CR:
                v = pop[r1, j] + F * (pop[r2, j] - pop[r3, j])
                if v < lower:
                    v = (lower + pop[r, j]) / 2
                elif v > upper:
                    v = (upper + pop[r, j]) / 2
                trials[r, j] = v
            else:
                trials[r, j] = pop[r, j]
    return trials


def random_population(n: int, d: int, lower: float, upper: float, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).uniform(lower, upper, (n, d))


# -- objective ---------------------------------------------------------------------------------

@pytest.mark.parametrize("function", ["rastrigin", "rosenbrock"])
@pytest.mark.parametrize("d", [2, 3, 8, 17])
def test_objective_matches_numpy(function, d):
    fid = kernel.FUNCTIONS[function]
    lower, upper = kernel.BOUNDS[fid]
    points = random_population(20, d, lower, upper, seed=d)
    out = np.empty(len(points))
    kernel.evaluate(points, fid, 1, out)
    expected = np.array([REFERENCE[function](x) for x in points])
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("function", ["rastrigin", "rosenbrock"])
def test_objective_is_zero_at_the_known_optimum_and_positive_elsewhere(function):
    fid = kernel.FUNCTIONS[function]
    d = 5
    assert kernel.objective_value(np.full(d, kernel.OPTIMUM[fid]), function, 3) == 0.0
    lower, upper = kernel.BOUNDS[fid]
    for x in random_population(10, d, lower, upper):
        assert kernel.objective_value(x, function) > 0.0


def test_rastrigin_in_one_dimension():
    # local minima near the integers: f(1) = 1 exactly (cos 2π = 1)
    assert kernel.objective_value(np.array([1.0]), "rastrigin") == pytest.approx(1.0, abs=1e-12)
    assert kernel.objective_value(np.array([0.5]), "rastrigin") == pytest.approx(20.25)


@pytest.mark.parametrize("function", ["rastrigin", "rosenbrock"])
def test_value_does_not_depend_on_cost(function):
    fid = kernel.FUNCTIONS[function]
    lower, upper = kernel.BOUNDS[fid]
    points = random_population(15, 6, lower, upper, seed=3)
    base = np.empty(len(points))
    kernel.evaluate(points, fid, 1, base)
    for cost in (2, 7, 40):
        out = np.empty(len(points))
        kernel.evaluate(points, fid, cost, out)
        assert np.array_equal(out, base)  # bit for bit


def test_passes_follow_the_hash_of_x_and_vary_between_individuals():
    points = random_population(200, 4, -5.12, 5.12, seed=11)
    for cost in (1, 5, 30):
        passes = np.array([kernel.evaluation_passes(x, cost) for x in points])
        expected = []
        for x in points:
            z = 0
            for word in x.view(np.uint64):
                z = splitmix64_ref(z ^ int(word))
            expected.append(cost + int(2.0 * cost * ((z >> 11) / 2.0**53)))
        assert passes.tolist() == expected
        assert passes.min() >= cost and passes.max() <= 3 * cost - 1
    # the spread is real: at cost 30 the 200 individuals span most of [30, 89]
    assert passes.max() - passes.min() > 40


@pytest.mark.parametrize("bad", [np.array([]), np.zeros((2, 2)), np.array([np.nan, 1.0])])
def test_objective_wrapper_rejects_bad_points(bad):
    with pytest.raises(ValueError):
        kernel.objective_value(bad, "rastrigin")


def test_objective_wrapper_rejects_unknown_function_and_cost():
    with pytest.raises(ValueError, match="sphere"):
        kernel.objective_value(np.zeros(2), "sphere")
    with pytest.raises(ValueError, match="cost"):
        kernel.objective_value(np.zeros(2), "rastrigin", 0)


# -- random numbers ----------------------------------------------------------------------------

def test_splitmix64_known_first_output():
    # the reference generator seeded with 0 first returns 0xE220A8397B1DCDAF
    assert int(kernel.splitmix64(np.uint64(0))) == 0xE220A8397B1DCDAF
    assert splitmix64_ref(0) == 0xE220A8397B1DCDAF


def test_counter_uniform_matches_the_oracle():
    counters = [(0, 0, 0, 0), (2024, 1, 0, 3), (2024, 1, 1, 3), (5, 999, 123456, 70),
                (2**63 - 1, 7, 3, 1)]
    for c in counters:
        assert kernel.counter_uniform(*c) == uniform_ref(*c)


def test_counter_uniform_is_uniform_and_decorrelated():
    u = np.array([[kernel.counter_uniform(1, g, i, 0) for i in range(100)] for g in range(1, 51)])
    assert u.min() >= 0.0 and u.max() < 1.0
    assert abs(u.mean() - 0.5) < 0.01  # 5000 draws: sd of the mean 0.004
    counts, _ = np.histogram(u, bins=10, range=(0.0, 1.0))
    assert counts.min() > 400 and counts.max() < 600
    # neighbouring individuals and generations are not correlated
    assert abs(np.corrcoef(u[:, :-1].ravel(), u[:, 1:].ravel())[0, 1]) < 0.05
    assert abs(np.corrcoef(u[:-1].ravel(), u[1:].ravel())[0, 1]) < 0.05


@pytest.mark.parametrize("parts", [1, 2, 3, 4, 7])
def test_initial_population_does_not_depend_on_partitioning(parts):
    n, d = 30, 5
    whole = np.empty((n, d))
    kernel.initial_population(99, 0, -5.0, 10.0, whole)
    pieces = []
    for k in range(parts):
        start, stop = block_range(n, parts, k)
        block = np.empty((stop - start, d))
        kernel.initial_population(99, start, -5.0, 10.0, block)
        pieces.append(block)
    assert np.array_equal(np.concatenate(pieces), whole)
    expected = [[-5.0 + 15.0 * uniform_ref(99, 0, i, j) for j in range(d)] for i in range(n)]
    np.testing.assert_array_equal(whole, np.array(expected))


# -- differential evolution --------------------------------------------------------------------

@pytest.mark.parametrize("n", [4, 5, 9])
@pytest.mark.parametrize("first", [0, 13])
@pytest.mark.parametrize("CR", [0.0, 0.3, 1.0])
def test_de_trials_match_the_reference(n, first, CR):
    d = 6
    pop = random_population(n, d, -5.12, 5.12, seed=n + first)
    for generation in (1, 2, 50):
        trials = np.empty_like(pop)
        kernel.de_trials(pop, first, 77, generation, 0.8, CR, -5.12, 5.12, trials)
        expected = de_trials_ref(pop, first, 77, generation, 0.8, CR, -5.12, 5.12)
        np.testing.assert_array_equal(trials, expected)
        assert np.all((trials >= -5.12) & (trials <= 5.12))
        changed = (trials != pop).sum(axis=1)
        assert np.all(changed >= 1)  # jrand always crosses over
        if CR == 0.0:
            assert np.all(changed == 1)


def test_donors_are_distinct_and_cover_the_group():
    for n in (4, 5, 8):
        seen = set()
        for r in range(n):
            for generation in range(1, 200):
                donors = kernel.pick_donors(n, r, 3, generation, 1000 + r)
                assert len({r, *donors}) == 4
                assert all(0 <= x < n for x in donors)
                seen.update(donors)
        assert seen == set(range(n))


def test_select_keeps_the_better_or_equal_trial():
    rng = np.random.default_rng(5)
    pop = rng.normal(size=(12, 3))
    trials = rng.normal(size=(12, 3))
    fit = rng.uniform(size=12)
    tfit = rng.uniform(size=12)
    tfit[3] = fit[3]  # a tie goes to the trial
    keep = tfit <= fit
    expected_pop = np.where(keep[:, None], trials, pop)
    expected_fit = np.minimum(fit, tfit)
    replaced = kernel.select(pop, fit, trials, tfit)
    assert replaced == keep.sum()
    np.testing.assert_array_equal(pop, expected_pop)
    np.testing.assert_array_equal(fit, expected_fit)


def test_replace_worst_takes_only_a_better_migrant():
    pop = np.arange(8.0).reshape(4, 2)
    fit = np.array([3.0, 9.0, 1.0, 5.0])
    assert not kernel.replace_worst(pop, fit, np.array([-1.0, -1.0]), 1.0)  # not better
    assert kernel.replace_worst(pop, fit, np.array([-1.0, -2.0]), 0.5)
    np.testing.assert_array_equal(fit, [3.0, 0.5, 1.0, 5.0])
    np.testing.assert_array_equal(pop[1], [-1.0, -2.0])


# -- convergence on the tiny budget ------------------------------------------------------------

def serial_de(params: dict) -> tuple[np.ndarray, np.ndarray]:
    """The sync algorithm on one process, straight from the kernels."""
    fid = kernel.FUNCTIONS[params["function"]]
    lower, upper = kernel.BOUNDS[fid]
    pop = np.empty((params["population"], params["d"]))
    kernel.initial_population(params["seed"], 0, lower, upper, pop)
    fit = np.empty(len(pop))
    kernel.evaluate(pop, fid, params["cost"], fit)
    trials, tfit = np.empty_like(pop), np.empty_like(fit)
    for generation in range(1, params["generations"] + 1):
        kernel.de_trials(pop, 0, params["seed"], generation, params["F"], params["CR"],
                         lower, upper, trials)
        kernel.evaluate(trials, fid, params["cost"], tfit)
        kernel.select(pop, fit, trials, tfit)
    return pop, fit


@pytest.mark.parametrize("function", ["rastrigin", "rosenbrock"])
def test_tiny_budget_reaches_the_optimum(function):
    params, _ = Optimization().resolve("tiny", {"function": function})
    pop, fit = serial_de(params)
    best = int(np.argmin(fit))
    assert fit[best] <= TOLERANCE
    optimum = kernel.OPTIMUM[kernel.FUNCTIONS[function]]
    assert np.max(np.abs(pop[best] - optimum)) < 1e-3
    # the budget matters: a tenth of it does not get there
    short, _ = Optimization().resolve("tiny", {"function": function,
                                                "generations": params["generations"] // 10})
    assert serial_de(short)[1].min() > TOLERANCE


def test_precompile_runs():
    kernel.precompile()
    assert math.isfinite(kernel.objective_value(np.ones(3), "rosenbrock"))
