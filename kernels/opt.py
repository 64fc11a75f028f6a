"""Optimization kernel: differential evolution (DE/rand/1/bin) on a costly objective.

Objectives, both with a known global minimum of 0:

- Rastrigin ``10·d + Σ (x_j² − 10·cos(2π·x_j))`` on [−5.12, 5.12]^d, minimum at the origin;
- Rosenbrock ``Σ_{j<d−1} 100·(x_{j+1} − x_j²)² + (1 − x_j)²`` on [−5, 10]^d, minimum at (1, …, 1).

*Cost.* One evaluation makes ``passes`` identical passes over x, with ``cost ≤ passes < 3·cost``
chosen by a hash of the bits of x (:func:`evaluation_passes`), so individuals differ in cost and
ranks wait for each other at a synchronization point. The hash, unlike a smooth function of |x|,
keeps the spread when the population has converged. Each pass shifts x by ``value − value`` of
the previous pass: exactly 0.0 for a finite value, but not provably zero to the compiler
(IEEE: ∞ − ∞ is NaN), so the passes cannot be hoisted or merged — and the returned value is the
same bit for bit for any ``cost``.

*Randomness.* A counter-based generator: every uniform number is a splitmix64 hash of
``(seed, generation, individual, draw)`` (:func:`counter_uniform`). An individual's stream is
keyed by its global index, never by a rank, so the numbers — and hence the ``sync`` result — do
not depend on how the population is split. Draws of generation g ≥ 1 for individual i: 0, 1, 2
pick the donors, 3 the forced crossover coordinate, 4 + j the crossover test of coordinate j.
The initial population uses generation 0, draw j for coordinate j.

*Trial generation* (DE/rand/1/bin, Storn & Price 1997) for row r of a group of n ≥ 4 rows:
donors r1, r2, r3 distinct from each other and from r, uniform over the group; mutant
``v = x_r1 + F·(x_r2 − x_r3)``; coordinate j of the trial takes v_j when ``u_j < CR`` or
``j == jrand``, else x_r,j; a v_j outside the box is replaced by the midpoint between the bound
it crossed and x_r,j. Selection keeps the trial when its fitness is ``<=`` the parent's.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

RASTRIGIN, ROSENBROCK = 0, 1
FUNCTIONS = {"rastrigin": RASTRIGIN, "rosenbrock": ROSENBROCK}
#: search box (lower, upper) per function, the same for every coordinate
BOUNDS = {RASTRIGIN: (-5.12, 5.12), ROSENBROCK: (-5.0, 10.0)}
#: where each function reaches its minimum of 0 (one coordinate; all coordinates equal it)
OPTIMUM = {RASTRIGIN: 0.0, ROSENBROCK: 1.0}


@njit(cache=True)
def splitmix64(z):  # pragma: no cover - compiled
    """One step of splitmix64 (Steele, Lea & Flood 2014): a bijective 64-bit mix of ``z + γ``.

    ``z``: np.uint64; returns np.uint64 (arithmetic wraps modulo 2⁶⁴).
    """
    z = z + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def counter_uniform(seed, generation, individual, draw):  # pragma: no cover - compiled
    """Uniform number in [0, 1) for the counter ``(seed, generation, individual, draw)``.

    The 53 high bits of the chained hash, scaled by 2⁻⁵³. All four arguments are ints ≥ 0.
    """
    z = splitmix64(np.uint64(seed))
    z = splitmix64(z ^ np.uint64(generation))
    z = splitmix64(z ^ np.uint64(individual))
    z = splitmix64(z ^ np.uint64(draw))
    return (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def initial_population(seed, first, lower, upper, out):  # pragma: no cover - compiled
    """Fill ``out`` (rows × d) with individuals ``first, first+1, …`` drawn uniformly in the box.

    ``seed``, ``first``: ints ≥ 0; ``lower``, ``upper``: floats, the bounds of every
    coordinate; ``out``: float64, shape (rows, d), written in place.
    """
    width = upper - lower
    for r in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[r, j] = lower + width * counter_uniform(seed, 0, first + r, j)


@njit(cache=True)
def evaluation_passes(x, cost):  # pragma: no cover - compiled
    """Passes one evaluation of ``x`` makes: ``cost + ⌊2·cost·h(x)⌋`` with h a hash in [0, 1).

    ``x``: float64, shape (d,), contiguous (its bits are hashed); ``cost``: int ≥ 1.
    """
    bits = x.view(np.uint64)
    z = np.uint64(0)
    for j in range(bits.shape[0]):
        z = splitmix64(z ^ bits[j])
    h = (z >> np.uint64(11)) * (1.0 / 9007199254740992.0)
    return cost + int(2.0 * cost * h)


@njit(cache=True)
def _rastrigin_pass(x, shift):  # pragma: no cover - compiled
    total = 10.0 * x.shape[0]
    for j in range(x.shape[0]):
        xj = x[j] + shift
        total += xj * xj - 10.0 * math.cos(2.0 * math.pi * xj)
    return total


@njit(cache=True)
def _rosenbrock_pass(x, shift):  # pragma: no cover - compiled
    total = 0.0
    for j in range(x.shape[0] - 1):
        xj = x[j] + shift
        xn = x[j + 1] + shift
        a = xn - xj * xj
        b = 1.0 - xj
        total += 100.0 * a * a + b * b
    return total


@njit(cache=True)
def objective(x, function, cost):  # pragma: no cover - compiled
    """Value of objective ``function`` (0: Rastrigin, 1: Rosenbrock) at the 1D array ``x``.

    ``x``: float64, shape (d,), contiguous; ``cost``: int ≥ 1; returns a float. Makes
    :func:`evaluation_passes` passes; the value does not depend on ``cost``.
    """
    passes = evaluation_passes(x, cost)
    value = 0.0
    for _ in range(passes):
        shift = value - value  # 0.0, but chains this pass to the last (see module docstring)
        value = _rastrigin_pass(x, shift) if function == 0 else _rosenbrock_pass(x, shift)
    return value


@njit(cache=True)
def evaluate(x, function, cost, out):  # pragma: no cover - compiled
    """``out[r] = objective(x[r])`` for every row of the 2D array ``x``.

    ``x``: float64, shape (n, d), C-contiguous; ``function``: 0 or 1 (:func:`function_id`);
    ``cost``: int ≥ 1; ``out``: float64, shape (n,), written in place.
    """
    for r in range(x.shape[0]):
        out[r] = objective(x[r], function, cost)


@njit(cache=True)
def pick_donors(n, r, seed, generation, individual):  # pragma: no cover - compiled
    """Three distinct rows of a group of ``n`` ≥ 4, all different from row ``r``.

    All arguments are ints ≥ 0 (``r`` < ``n``); ``seed``, ``generation`` and ``individual`` key
    the draws (:func:`counter_uniform`). Returns three ints in [0, n).

    Draw k picks uniformly among the n − 1 − k rows not yet excluded: the index is counted
    over the rows in increasing order, skipping the excluded ones.
    """
    u0 = counter_uniform(seed, generation, individual, 0)
    r1 = int(u0 * (n - 1))
    if r1 >= r:
        r1 += 1
    lo, hi = min(r, r1), max(r, r1)
    r2 = int(counter_uniform(seed, generation, individual, 1) * (n - 2))
    if r2 >= lo:
        r2 += 1
    if r2 >= hi:
        r2 += 1
    e0, e1, e2 = lo, hi, r2
    # sort the three excluded rows
    if e2 < e1:
        e1, e2 = e2, e1
    if e1 < e0:
        e0, e1 = e1, e0
    r3 = int(counter_uniform(seed, generation, individual, 2) * (n - 3))
    if r3 >= e0:
        r3 += 1
    if r3 >= e1:
        r3 += 1
    if r3 >= e2:
        r3 += 1
    return r1, r2, r3


@njit(cache=True)
def de_trials(population, first, seed, generation, F, CR, lower, upper,
              trials):  # pragma: no cover - compiled
    """DE/rand/1/bin trial vectors of generation ``generation`` ≥ 1 for every row of a group.

    ``population`` (float64, shape (n, d), n ≥ 4) is the group donors are drawn from; its row r
    is individual ``first + r`` (``first``, ``seed``: ints ≥ 0), whose counter stream keys the
    draws. ``F`` (differential weight) and ``CR`` (crossover rate) are floats; ``lower`` and
    ``upper`` the bounds of every coordinate (a trial beyond one goes halfway from its parent to
    it). Writes ``trials`` (float64, shape (n, d)).
    """
    n, d = population.shape
    for r in range(n):
        individual = first + r
        r1, r2, r3 = pick_donors(n, r, seed, generation, individual)
        jrand = int(counter_uniform(seed, generation, individual, 3) * d)
        for j in range(d):
            parent = population[r, j]
            # draws 0-3 went to the donors and jrand; 4 + j tests coordinate j
            if j == jrand or counter_uniform(seed, generation, individual, 4 + j) < CR:
                v = population[r1, j] + F * (population[r2, j] - population[r3, j])
                if v < lower:
                    v = 0.5 * (lower + parent)
                elif v > upper:
                    v = 0.5 * (upper + parent)
                trials[r, j] = v
            else:
                trials[r, j] = parent


@njit(cache=True)
def select(population, fitness, trials, trial_fitness):  # pragma: no cover - compiled
    """Greedy selection in place: row r takes its trial when ``trial_fitness[r] <= fitness[r]``.

    ``population`` and ``trials``: float64, shape (n, d); ``fitness`` and ``trial_fitness``:
    float64, shape (n,); ``population`` and ``fitness`` change in place. Returns the number of
    rows replaced (an int).
    """
    replaced = 0
    for r in range(population.shape[0]):
        if trial_fitness[r] <= fitness[r]:
            fitness[r] = trial_fitness[r]
            for j in range(population.shape[1]):
                population[r, j] = trials[r, j]
            replaced += 1
    return replaced


@njit(cache=True)
def replace_worst(population, fitness, candidate,
                  candidate_fitness):  # pragma: no cover - compiled
    """Migration: put ``candidate`` in place of the worst row when it is better than the best.

    ``population``: float64, shape (n, d), and ``fitness``: float64, shape (n,), change in place;
    ``candidate``: float64, shape (d,); ``candidate_fitness``: a float. Returns True when the
    population changed. Ties for the worst go to the lowest row.
    """
    best = 0
    worst = 0
    for r in range(1, fitness.shape[0]):
        if fitness[r] < fitness[best]:
            best = r
        if fitness[r] > fitness[worst]:
            worst = r
    if not candidate_fitness < fitness[best]:
        return False
    fitness[worst] = candidate_fitness
    for j in range(population.shape[1]):
        population[worst, j] = candidate[j]
    return True


def function_id(name: str) -> int:
    """Kernel id of the objective called ``name``.

    Raises
    ------
    ValueError
        When ``name`` is not one of :data:`FUNCTIONS`.
    """
    try:
        return FUNCTIONS[name]
    except KeyError:
        raise ValueError(
            f"unknown objective {name!r}; choose one of {', '.join(FUNCTIONS)}"
        ) from None


def objective_value(x: np.ndarray, function: str, cost: int = 1) -> float:
    """Checked wrapper of :func:`objective` for one point ``x`` (1D, finite, length ≥ 1).

    Raises
    ------
    ValueError
        For an unknown function, a bad shape, non-finite x or ``cost < 1``.
    """
    fid = function_id(function)
    x = np.ascontiguousarray(x, dtype=np.float64)
    if x.ndim != 1 or x.size < 1:
        raise ValueError(f"x must be a non-empty 1D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    if cost < 1:
        raise ValueError(f"cost={cost} must be >= 1")
    return float(objective(x, fid, int(cost)))


def precompile() -> None:
    """Compile every kernel on a population of 4 in 2 dimensions (fills the on-disk cache)."""
    pop = np.zeros((4, 2))
    fit = np.zeros(4)
    trials = np.zeros_like(pop)
    tfit = np.zeros(4)
    initial_population(1, 0, -1.0, 1.0, pop)
    for fid in (RASTRIGIN, ROSENBROCK):
        evaluate(pop, fid, 1, fit)
    de_trials(pop, 0, 1, 1, 0.5, 0.9, -1.0, 1.0, trials)
    evaluate(trials, RASTRIGIN, 1, tfit)
    select(pop, fit, trials, tfit)
    replace_worst(pop, fit, trials[0], tfit[0])
