"""Extra-P peer model on closed-form scaling laws; skipped when Extra-P is not installed.

Run with ``pytest benchmarks/test_extrap_peer.py`` (``make bench`` passes ``--benchmark-only``,
which skips these).
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import pytest

try:  # the modeling modules, not just the package: they need marshmallow and matplotlib too
    import extrap.modelers.model_generator  # noqa: F401
except ImportError as missing:
    pytest.skip(f"Extra-P cannot be imported ({missing}); install it with pip install -e '.[peer]'",
                allow_module_level=True)

_spec = importlib.util.spec_from_file_location(
    "extrap_peer", Path(__file__).with_name("extrap_peer.py"))
extrap_peer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(extrap_peer)
extrap_holdout = extrap_peer.extrap_holdout

CORES = [2, 4, 8, 16, 32]


def amdahl(p: float) -> float:
    """2 s serial plus 100 s divided over p cores."""
    return 2.0 + 100.0 / p


def log_growth(p: float) -> float:
    """3 s plus 5 s per doubling of p."""
    return 5.0 * math.log2(p) + 3.0


def _quiet(*args, **kwargs) -> float:
    """``extrap_holdout`` that fails the test on any warning (five points need none)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return extrap_holdout(*args, **kwargs)


def test_strong_scaling_law_predicted_within_two_percent_with_negative_exponents():
    predicted = _quiet(CORES, [[amdahl(p)] for p in CORES], 64, negative_exponents=True)
    assert predicted == pytest.approx(amdahl(64), rel=0.02)


def test_default_modeler_cannot_describe_one_over_p():
    # Without negative exponents the PMNF search has no decreasing term but c - b*log2(p);
    # that line overshoots below zero at 64 cores. A change here means Extra-P's default changed
    # and the peer figures must be read anew.
    predicted = _quiet(CORES, [[amdahl(p)] for p in CORES], 64)
    assert abs(predicted - amdahl(64)) / amdahl(64) > 0.5


@pytest.mark.parametrize("negative_exponents", [False, True])
def test_logarithmic_growth_recovered_from_repetitions(negative_exponents):
    # three repetitions per point, spread symmetrically, so their mean is the law itself
    seconds = [[log_growth(p) * f for f in (0.99, 1.0, 1.01)] for p in CORES]
    predicted = _quiet(CORES, seconds, 64, negative_exponents=negative_exponents)
    assert predicted == pytest.approx(log_growth(64), rel=0.01)


def test_fewer_than_five_points_warns():
    with pytest.warns(UserWarning, match="at least 5"):
        predicted = extrap_holdout(CORES[:4], [[log_growth(p)] for p in CORES[:4]], 64)
    assert math.isfinite(predicted)


@pytest.mark.parametrize(
    ("cores", "seconds", "at", "message"),
    [
        ([2, 4], [[1.0]], 8, "2 core counts but 1"),
        ([], [], 8, "no measurements"),
        ([0, 4], [[1.0], [1.0]], 8, "integers > 0"),
        ([2, 4], [[1.0], [1.0]], 0, "integers > 0"),
        ([2, 2.5], [[1.0], [1.0]], 8, "integers > 0"),
        ([4, 4], [[1.0], [1.0]], 8, "repeat"),
        ([2, 4], [[1.0], []], 8, "no times at 4"),
        ([2, 4], [[1.0], [float("nan")]], 8, "finite and > 0"),
        ([2, 4], [[1.0], [-1.0]], 8, "finite and > 0"),
    ],
)
def test_bad_input_raises(cores, seconds, at, message):
    with pytest.raises(ValueError, match=message):
        extrap_holdout(cores, seconds, at)


def test_folder_table_holds_out_largest_core_count(tmp_path, capsys):
    lines = ["workload,mode,variant,cores,seconds"]
    lines += [f"w,strong,v,{p},{log_growth(p) * f}" for p in [*CORES, 64] for f in (0.99, 1.01)]
    (tmp_path / "w.csv").write_text("\n".join(lines) + "\n")
    assert extrap_peer._validate_folder(tmp_path) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if line.startswith("w/v "))
    assert row.split()[1:4] == ["5", "64", f"{log_growth(64):.4g}"]
    assert "median |error| over 1 series" in out


@pytest.mark.parametrize(
    "text",
    ["workload,cores\nw,2\n", "workload,mode,cores,seconds\nw,strong,2,1.0\n",
     "workload,mode,cores,seconds\nw,strong,2,1.0\nw,strong,4,-1\n"],
    ids=["no-seconds-column", "one-core-count", "negative-time"],
)
def test_folder_with_bad_csv_exits_2_and_prints_no_table(tmp_path, capsys, text):
    (tmp_path / "good.csv").write_text(
        "workload,mode,cores,seconds\n" + "".join(f"g,strong,{p},{amdahl(p)}\n" for p in CORES))
    (tmp_path / "z_bad.csv").write_text(text)
    assert extrap_peer._validate_folder(tmp_path) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1
    assert "z_bad.csv" in captured.err
