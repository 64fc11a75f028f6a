"""The probe's fits: Hockney α–β and the allreduce α·⌈log₂p⌉ + β·m (harness/probe/fit.py)."""

import math

import numpy as np
import pytest

from harness.probe import fit
from harness.probe.sizes import message_ladder


@pytest.mark.parametrize(("alpha", "bandwidth"), [(1.5e-6, 1.2e10), (4e-7, 9.8e9), (2e-5, 1e8)])
def test_hockney_recovers_alpha_and_bandwidth_from_exact_times(alpha, bandwidth):
    m = np.array(message_ladder(16 * 2**20), dtype=float)
    found = fit.hockney(m, alpha + m / bandwidth)
    assert found.latency == pytest.approx(alpha, rel=1e-9)
    assert found.bandwidth == pytest.approx(bandwidth, rel=1e-9)
    assert found.residual < 1e-9 and found.points == m.size and found.note == ""
    assert found.time([0, 2**20]) == pytest.approx([alpha, alpha + 2**20 / bandwidth])


def test_hockney_with_noise_stays_within_bounds_and_small_messages_count():
    rng = np.random.default_rng(7)
    m = np.array(message_ladder(16 * 2**20), dtype=float)
    alpha, bandwidth = 2e-6, 5e9
    for _ in range(20):
        noisy = (alpha + m / bandwidth) * rng.lognormal(0.0, 0.05, m.size)
        found = fit.hockney(m, noisy)
        # relative weighting: the latency is still found from the small messages, although
        # in absolute terms the 16 MiB message's noise is 1000x the latency itself
        assert found.latency == pytest.approx(alpha, rel=0.15)
        assert found.bandwidth == pytest.approx(bandwidth, rel=0.10)
        assert 0.0 < found.residual < 0.15


def test_unweighted_least_squares_would_lose_the_latency():
    # the reason for relative weights: an absolute fit is decided by the largest messages
    rng = np.random.default_rng(3)
    m = np.array(message_ladder(16 * 2**20), dtype=float)
    t = (2e-6 + m / 5e9) * rng.lognormal(0.0, 0.05, m.size)
    plain, *_ = np.linalg.lstsq(np.column_stack([np.ones_like(m), m]), t, rcond=None)
    assert abs(plain[0] - 2e-6) > 0.5 * 2e-6
    assert fit.hockney(m, t).latency == pytest.approx(2e-6, rel=0.15)


def test_hockney_keeps_coefficients_positive_and_says_when_bandwidth_is_a_bound():
    m = np.array([8.0, 32.0, 128.0, 512.0])
    flat = np.array([1.1e-6, 1.05e-6, 1.02e-6, 1e-6])  # no growth with size: bandwidth unseen
    found = fit.hockney(m, flat)
    assert found.latency > 0 and found.bandwidth == pytest.approx(512 / 1e-6)
    assert "lower bound" in found.note
    # times proportional to size: no latency; the smallest message's time stands in for it
    m2 = np.array([1e3, 1e4, 1e5])
    found2 = fit.hockney(m2, m2 / 1e9)
    assert found2.latency == pytest.approx(1e-6) and "upper bound" in found2.note


@pytest.mark.parametrize(("m", "t", "needle"), [
    ([8.0], [1e-6], "at least 2 points"),
    ([8.0, 8.0], [1e-6, 1.1e-6], "distinct"),
    ([8.0, 16.0], [1e-6, 0.0], "> 0"),
    ([8.0, 16.0], [1e-6, math.nan], "finite"),
])
def test_hockney_refuses_unusable_points(m, t, needle):
    with pytest.raises(fit.FitError, match=needle):
        fit.hockney(m, t)


def test_allreduce_recovers_alpha_and_beta_over_rank_counts_and_sizes():
    ranks = np.repeat([1, 2, 4, 8, 6], 5)
    m = np.tile([8.0, 512.0, 32768.0, 2**20, 4.0], 5)
    alpha, beta = 3e-6, 2e-10
    t = alpha * np.ceil(np.log2(ranks)) + beta * m
    t[ranks == 1] = 1e-7  # one rank: a local copy, left out of the fit
    found = fit.allreduce(ranks, m, t)
    assert found.alpha == pytest.approx(alpha, rel=1e-9)
    assert found.beta == pytest.approx(beta, rel=1e-9)
    assert found.ranks == (2, 4, 6, 8) and found.points == 20 and found.residual < 1e-9
    assert found.time([8], [0]) == pytest.approx([3 * alpha])


def test_allreduce_with_two_ranks_only_and_noise():
    rng = np.random.default_rng(11)
    m = np.array(message_ladder(2**20), dtype=float)
    t = (5e-6 + 1e-9 * m) * rng.lognormal(0.0, 0.05, m.size)
    found = fit.allreduce(np.full(m.size, 2), m, t)
    assert found.alpha == pytest.approx(5e-6, rel=0.15)
    assert found.beta == pytest.approx(1e-9, rel=0.10)
    assert found.ranks == (2,)


def test_allreduce_needs_two_points_at_two_ranks_or_more():
    with pytest.raises(fit.FitError, match="2 or more ranks"):
        fit.allreduce([1, 1, 2], [8, 16, 8], [1e-7, 1e-7, 1e-6])


def test_rounds_is_ceil_log2():
    assert fit.rounds([1, 2, 3, 4, 5, 8, 9]).tolist() == [0, 1, 2, 2, 3, 3, 4]
    with pytest.raises(fit.FitError):
        fit.rounds([0])


def test_nonnegative_search_never_returns_a_negative_coefficient():
    # data whose unconstrained fit has a negative intercept
    m = np.array([1.0, 2.0, 3.0, 4.0])
    t = np.array([0.5, 1.9, 3.1, 4.2])
    coef = fit.nonnegative_relative_lstsq(np.column_stack([np.ones_like(m), m]), t)
    assert np.all(coef >= 0)
    unconstrained, *_ = np.linalg.lstsq(np.column_stack([1 / t, m / t]), np.ones(4), rcond=None)
    assert unconstrained[0] < 0 and coef[0] == 0
