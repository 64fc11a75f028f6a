"""``harness compare``: a slowed sweep is flagged, an unchanged one passes, few runs are said to
be unable to reach significance, and sweeps from other machines or problems are refused."""

from __future__ import annotations

import numpy as np
import pytest
from storetools import replicated_sweep as sweep

from harness import targets
from harness.errors import BadInputError, DataError
from harness.store import compare

TABLE = targets.defaults()
def test_slowed_point_is_a_regression_and_unchanged_ones_are_not(tmp_path):
    base = compare.load_side(str(sweep(tmp_path, "base")), None)
    new = compare.load_side(str(sweep(tmp_path, "new", slow_at=4, factor=1.25)), None)
    frame = compare.compare(base, new, 0.05, TABLE).set_index("cores")
    assert frame.loc[4, "verdict"] == "regression"
    assert frame.loc[4, "ratio"] == pytest.approx(1.25)
    assert frame.loc[4, "p_value"] < 0.05
    assert frame.loc[4, "efficiency_change"] == pytest.approx(1 / (4 * 0.30 * 1.25)
                                                              - 1 / (4 * 0.30))
    assert list(frame.loc[[1, 2], "verdict"]) == ["unchanged", "unchanged"]


def test_noise_within_threshold_passes(tmp_path):
    base = compare.load_side(str(sweep(tmp_path, "base")), None)
    same = compare.load_side(str(sweep(tmp_path, "same", runs=(1.0, 1.01, 0.99))), None)
    frame = compare.compare(base, same, 0.05, TABLE)
    assert set(frame["verdict"]) == {"unchanged"}


def test_one_run_a_side_cannot_reach_significance(tmp_path):
    base = compare.load_side(str(sweep(tmp_path, "base", runs=(1.0,))), None)
    new = compare.load_side(str(sweep(tmp_path, "new", slow_at=2, factor=1.5, runs=(1.0,))),
                            None)
    frame = compare.compare(base, new, 0.05, TABLE).set_index("cores")
    assert frame.loc[2, "verdict"] == "slower, significance not reachable"
    assert frame.loc[2, "p_value"] is None
    assert "significance could not be reached" in compare.render(
        frame.reset_index(), "base", "new", 0.05)


def test_other_machine_and_other_problem_are_refused(tmp_path):
    base = compare.load_side(str(sweep(tmp_path, "base")), None)
    other = compare.load_side(str(sweep(
        tmp_path, "other", provenance={"host": "elsewhere", "cpu_model": "Test CPU"})), None)
    with pytest.raises(DataError, match="different machines"):
        compare.compare(base, other, 0.05, TABLE)
    bigger = compare.load_side(str(sweep(tmp_path, "bigger", size="small")), None)
    with pytest.raises(DataError, match="share no point"):
        compare.compare(base, bigger, 0.05, TABLE)


def test_welch_and_threshold():
    rng = np.random.default_rng(7)
    base = np.exp(rng.normal(0.0, 0.01, 5))
    assert compare.welch_slower(base, base * 1.2) < 1e-6
    assert compare.welch_slower(base, base * 0.8) > 0.99
    assert compare.welch_slower(base[:1], base) is None
    assert compare.parse_threshold("5%") == pytest.approx(0.05)
    assert compare.parse_threshold("0.1") == pytest.approx(0.1)
    for bad in ("five", "0", "-3%"):
        with pytest.raises(BadInputError):
            compare.parse_threshold(bad)
