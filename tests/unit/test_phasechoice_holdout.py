"""The empirical fit's hold-out error that decides between it and the mechanistic model is
nested: the fit, its hypothesis choice included, never sees the held-out core count."""

import math

import numpy as np

from harness import phasechoice, phasefit


def test_the_held_out_count_never_enters_the_fit():
    cores = np.array([1, 1, 2, 2, 4, 4, 8, 8])
    seconds = 1.0 / cores * np.array([1.0, 1.01, 1.0, 0.99, 1.0, 1.01, 1.6, 1.62])
    error = phasechoice.empirical_holdout("compute", cores, seconds)
    without = phasefit.fit_phase("compute", cores[cores < 8], seconds[cores < 8])
    expected = abs(without.predict(np.array([8]))[0] / seconds[cores == 8].mean() - 1.0)
    assert math.isclose(error, expected, rel_tol=1e-12)
    # the point off the 1/p law at 8 cores is missed by about its 61 % excess
    assert 0.3 < error < 0.5
    # whereas the fit that saw all four counts may bend towards it: it can only be as good
    assert phasefit.fit_phase("compute", cores, seconds).holdout_error <= error + 1e-12


def test_below_three_core_counts_there_is_nothing_to_hold_out():
    assert math.isnan(phasechoice.empirical_holdout("halo", np.array([1, 2, 2]),
                                                    np.array([1.0, 0.6, 0.61])))


def test_choose_uses_the_nested_error_it_is_given():
    cores = np.array([1, 2, 4])
    fit = phasefit.fit_phase("compute", cores, np.array([1.0, 0.5, 0.25]))
    choice = phasechoice.choose("compute", fit, None, 0.42)
    assert choice.chosen == phasechoice.EMPIRICAL and choice.empirical_error == 0.42
