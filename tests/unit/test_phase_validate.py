"""The phase-by-phase hold-out of ``benchmarks/phase_validate.py`` (the second table of
``make validate``): phases and the remainder predicted at the held-out scale, and the table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
_spec = importlib.util.spec_from_file_location("phase_validate", BENCH / "phase_validate.py")
phase_validate = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("phase_validate", phase_validate)
_spec.loader.exec_module(phase_validate)


def _series(cores, rest: float = 0.0) -> pd.DataFrame:
    """Compute 8/p, halo 0.1·log2(2p), and ``rest`` seconds no phase accounts for."""
    p = np.repeat(np.asarray(cores, dtype=float), 2)
    compute, halo = 8.0 / p, 0.1 * np.log2(2 * p)
    return pd.DataFrame({"cores": p.astype(int), "seconds": compute + halo + rest,
                         "phase_compute": compute, "phase_halo": halo,
                         "phase_io": np.nan})


def test_exact_laws_predict_the_held_out_total_and_each_phase() -> None:
    result = phase_validate.phase_holdout(_series([1, 2, 4, 8, 16, 64]))
    assert result["held"] == 64 and result["cores"] == [1, 2, 4, 8, 16, 64]
    assert set(result["phases"]) == {"compute", "halo"}  # the empty phase_io is not a phase
    assert abs(result["error"]) < 1e-6
    for predicted, measured, error, inside, _ in result["phases"].values():
        assert abs(error) < 1e-6 and inside and predicted > 0 and measured > 0
    assert np.isclose(result["measured"], 8 / 64 + 0.1 * 7)


def test_the_remainder_beyond_the_phases_is_its_own_phase() -> None:
    result = phase_validate.phase_holdout(_series([1, 2, 4, 8, 16], rest=0.5))
    assert "rest" in result["phases"]
    predicted, measured, *_ = result["phases"]["rest"]
    assert np.isclose(measured, 0.5) and np.isclose(predicted, 0.5)
    assert abs(result["error"]) < 1e-6


def test_too_few_core_counts_or_no_phases_give_no_row() -> None:
    assert phase_validate.phase_holdout(_series([1, 2])) is None
    plain = _series([1, 2, 4, 8]).drop(columns=["phase_compute", "phase_halo", "phase_io"])
    assert phase_validate.phase_holdout(plain) is None


def test_table_reports_every_column_and_the_targets(capsys) -> None:
    def whole_curve(group):
        return {"error": 0.05, "predicted": 1.0, "covered": True}

    def peer(cores, seconds, held, negative_exponents=False):
        if negative_exponents:
            raise RuntimeError("no model")
        return 1.0

    frames = [("a:x", "strong", _series([1, 2, 4, 8, 16])),
              ("b:y", "weak", _series([2, 4, 8, 16, 32], rest=0.2)),
              ("c:z", "strong", _series([1, 2]))]
    errors = phase_validate.print_table(frames, whole_curve, peer)
    out = capsys.readouterr().out
    assert "a:x" in out and "b:y" in out and "c:z" not in out
    assert len(errors["total"]) == 2 and errors["whole"] == [0.05, 0.05]
    assert len(errors["extrap"]) == 2 and errors["extrap-"] == []
    assert "target <= 10 %: met" in out and "target <= 20 %: met" in out
    assert "rest" in out and "weak" in out
    # the variants' table: exact laws beat the whole-curve stub's 5 % in the nested hold-out
    assert errors["nested"] == errors["total"] and len(errors["rest-whole"]) == 2
    assert "nested choice" in out and "phases +0.0%" in out
    assert "inside its 95 % interval 100 % of 2" in out


def test_total_interval_adds_the_phases_in_quadrature() -> None:
    low, high = phase_validate.total_interval([(1.0, 0.7, 1.4), (2.0, 1.6, 2.3)])
    assert np.isclose(low, 3.0 - 0.5) and np.isclose(high, 3.0 + np.hypot(0.4, 0.3))
    result = phase_validate.phase_holdout(_series([1, 2, 4, 8, 16]))
    low, high = result["interval"]
    assert low <= result["predicted"] <= high and low <= result["measured"] <= high


def _whole_curve_with(error: float, predicted: float = 1.0):
    def whole_curve(group):
        return {"error": error, "predicted": predicted, "covered": True}
    return whole_curve


def test_nested_choice_decides_on_the_training_points_only() -> None:
    # exact phase laws predict the largest training scale exactly: the phase sum stays unless
    # the whole-curve model is exact too; a series of three core counts has no nested hold-out
    series = _series([1, 2, 4, 8, 16])
    assert phase_validate.nested_choice(series, lambda train, held: 1.05 * _at(series, held)
                                        ) == "phases"
    seen = []

    def spy(train, held):
        seen.append((sorted(int(c) for c in train["cores"].unique()), held))
        return _at(bent, held)

    bent = series.assign(seconds=series["seconds"] * np.where(series["cores"] == 8, 1.3, 1.0))
    assert phase_validate.nested_choice(bent, spy) == "whole"
    assert seen == [([1, 2, 4], 8)]  # the held-out 16 never reaches the choice
    assert phase_validate.nested_choice(_series([1, 2, 4]), spy) == "phases"
    assert phase_validate.nested_choice(bent, lambda train, held: None) == "phases"


def test_phase_sum_at_is_the_phase_holdouts_sum() -> None:
    group = _series([1, 2, 4, 8, 16], rest=0.5)
    result = phase_validate.phase_holdout(group)
    train = group.loc[group["cores"] != 16]
    assert np.isclose(phase_validate.phase_sum_at(train, 16), result["predicted"])


def _at(group: pd.DataFrame, cores: int) -> float:
    return float(np.median(group.loc[group["cores"] == cores, "seconds"]))


def test_remainder_by_the_whole_curve_model_replaces_only_the_rest() -> None:
    group = _series([1, 2, 4, 8, 16], rest=0.5)
    result = phase_validate.phase_holdout(group)
    phases = sum(p[0] for name, p in result["phases"].items() if name != "rest")
    got = phase_validate.rest_by_whole_curve(group, result, _whole_curve_with(0.0, 0.7))
    assert np.isclose(got, phases + 0.7)
    plain = _series([1, 2, 4, 8, 16])
    assert phase_validate.rest_by_whole_curve(
        plain, phase_validate.phase_holdout(plain), _whole_curve_with(0.0)) is None
