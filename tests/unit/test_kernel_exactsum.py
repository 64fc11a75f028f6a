"""Exact accumulation: the exact sum whatever the order or the split of the terms."""

import math
from fractions import Fraction

import numpy as np
import pytest

from kernels import exactsum


def spread(rng: np.random.Generator, size: int, decades: int) -> np.ndarray:
    return rng.standard_normal(size) * 10.0 ** rng.integers(-decades, decades + 1, size)


@pytest.mark.parametrize("decades", [0, 5, 40, 300])
@pytest.mark.parametrize("size", [1, 7, 256, 1000, 5000])
def test_sum_is_the_exact_sum_rounded_and_order_free(size, decades):
    rng = np.random.default_rng(size + decades)
    x = spread(rng, size, decades)
    exact = sum(Fraction(v) for v in x)
    got = exactsum.exact_sum(x)
    assert abs(Fraction(got) - exact) <= 2 * Fraction(math.ulp(float(exact)))
    assert exactsum.exact_sum(rng.permutation(x)) == got
    assert exactsum.exact_sum(x[::-1].copy()) == got


@pytest.mark.parametrize("parts", [2, 3, 7, 25])
def test_accumulators_of_any_split_add_to_the_same_bits(parts):
    """What ranks do: accumulate their share, normalize, add limb by limb, round once."""
    rng = np.random.default_rng(parts)
    u, v = spread(rng, 3001, 20), spread(rng, 3001, 20)
    whole = exactsum.new_accumulator()
    exactsum.accumulate_dot(u, v, whole)
    cuts = np.sort(rng.choice(np.arange(1, u.size), parts - 1, replace=False))
    total = exactsum.new_accumulator()
    for a, b in zip(np.split(u, cuts), np.split(v, cuts), strict=True):
        acc = exactsum.new_accumulator()
        exactsum.accumulate_dot(a, b, acc)
        exactsum.normalize(acc)
        assert (acc[:exactsum.VALUE_LIMBS - 1] >= 0).all()
        assert (acc[:exactsum.VALUE_LIMBS - 1] < 2 ** 32).all()
        total += acc
    assert exactsum.to_float(total) == exactsum.to_float(whole)
    exact = sum(Fraction(float(p)) for p in u * v)  # the rounded products, summed exactly
    assert abs(Fraction(exactsum.to_float(total)) - exact) <= 2 * Fraction(
        math.ulp(float(exact)))


def test_extremes_cancel_exactly_and_subnormals_count():
    x = np.array([1.7e308, 5e-324, -1.7e308, 2.5e-320, 1e-300, -1e-300, 3.0])
    assert exactsum.exact_sum(x) == 3.0
    assert exactsum.exact_sum(np.array([5e-324, 5e-324])) == 1e-323
    assert exactsum.exact_sum(np.array([1e16, 1.0, -1e16])) == 1.0  # plain summing gives 0
    assert exactsum.exact_sum(np.zeros(0)) == 0.0


def test_non_finite_terms_give_nan():
    assert math.isnan(exactsum.exact_sum(np.array([1.0, np.inf, 2.0])))
    assert math.isnan(exactsum.exact_sum(np.array([np.nan])))
    assert math.isnan(exactsum.exact_sum(np.array([0.0, np.nan, 1.0, 2.0])))


def test_bad_input_raises():
    with pytest.raises(ValueError, match="float64"):
        exactsum.exact_sum(np.arange(3))
