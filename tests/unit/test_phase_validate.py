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
        return {"error": 0.05}

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
