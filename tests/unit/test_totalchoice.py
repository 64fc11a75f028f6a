"""The total's method (``harness.totalchoice``) and how ``harness predict`` uses it."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness import inputs, phasefit, predict, targets, totalchoice, whatif
from harness.machine import with_overrides

from .test_predict import MACHINE, costs, run, write_sweep  # noqa: F401 (fixture)

SERIAL, PARALLEL = 0.1, 10.0


def amdahl(counts=(1, 2, 4, 8, 16), repeats=3) -> pd.DataFrame:
    """A strong-scaling series on Amdahl's law, one row per repetition, 1 % wiggle."""
    rows = []
    for run_index, p in enumerate(counts):
        for k in range(repeats):
            rows.append({"workload": "w", "mode": "strong", "variant": "", "size": "s",
                         "problem": "", "machine": "", "cores": p, "run": f"r{run_index}",
                         "seconds": (SERIAL + PARALLEL / p) * (1 + 0.01 * (k - 1))})
    return pd.DataFrame(rows)


def test_whole_curve_predicts_amdahl_with_an_interval_around_it():
    fit = totalchoice.whole_curve(amdahl(), np.array([64, 4]))
    assert fit is not None
    expected = SERIAL + PARALLEL / 64
    assert fit.seconds[0] == pytest.approx(expected, rel=0.05)
    assert fit.low[0] < fit.seconds[0] < fit.high[0]
    assert math.isnan(fit.seconds[1])  # a measured core count is not predicted
    seconds, low, high = fit.at(np.array([4, 64, 999]))
    assert math.isnan(seconds[0]) and seconds[1] == fit.seconds[0] and low[1] == fit.low[0]
    assert math.isnan(high[2])


def test_whole_curve_refuses_one_core_count():
    assert totalchoice.whole_curve(amdahl(counts=(4,)), np.array([64])) is None


def test_nested_choice_never_sees_the_held_core_count():
    seen = []

    def phase_sum(train, held):
        seen.append((int(train["cores"].max()), held))
        return 2.0 * float(np.median(amdahl().query("cores == @held")["seconds"]))

    choice = totalchoice.nested_choice(amdahl(), phase_sum)
    assert seen == [(8, 16)]
    assert choice.held == 16 and choice.phase_error == pytest.approx(1.0)
    assert choice.method == totalchoice.WHOLE and abs(choice.whole_error) < 0.05
    assert "whole-curve" in choice.reason


@pytest.mark.parametrize("phase_error,expected", [(0.0, totalchoice.PHASES),
                                                  (0.5, totalchoice.WHOLE)])
def test_nested_choice_takes_the_smaller_error_and_the_phases_on_a_tie(phase_error, expected):
    data = amdahl()
    measured = float(np.median(data.loc[data["cores"] == 16, "seconds"]))
    choice = totalchoice.nested_choice(data, lambda train, held: measured * (1 + phase_error),
                                       lambda train, held: measured * 1.1)
    assert choice.method == expected
    tie = totalchoice.nested_choice(data, lambda t, h: measured * 1.1,
                                    lambda t, h: measured * 1.1)
    assert tie.method == totalchoice.PHASES


def test_nested_choice_needs_three_core_counts_and_a_whole_prediction():
    few = totalchoice.nested_choice(amdahl(counts=(1, 2)), lambda t, h: 1.0)
    assert few.method == totalchoice.PHASES and few.held is None and "needs 3" in few.reason
    refused = totalchoice.nested_choice(amdahl(), lambda t, h: 100.0, lambda t, h: None)
    assert refused.method == totalchoice.PHASES and math.isnan(refused.whole_error)


def test_predict_total_by_the_whole_curve_keeps_the_phases_as_predicted(
        tmp_path, costs, monkeypatch):  # noqa: F811
    chosen = totalchoice.TotalChoice(totalchoice.WHOLE, 8, 0.3, 0.01, "forced")
    monkeypatch.setattr(totalchoice, "nested_choice", lambda *a, **k: chosen)
    f = run(write_sweep(tmp_path), machine=MACHINE)
    assert f.total is chosen and f.whole is not None
    rows = f.rows.loc[f.rows["feasible"]]
    assert (rows["total_method"] == totalchoice.WHOLE).all()
    whole, low, high = f.whole.at(rows["cores"].to_numpy())
    np.testing.assert_allclose(rows["seconds"], whole)
    np.testing.assert_allclose(rows["pi95_low"], low)
    np.testing.assert_allclose(rows["pi95_high"], high)
    parts = sum(rows[f"phase_{c.phase}"] for c in f.phases) + rows["remainder"]
    np.testing.assert_allclose(rows["phase_sum"], parts)
    assert sum(f.dominant["shares"].values()) == pytest.approx(1.0)
    assert any("whole-curve model" in n for n in f.notes)
    found = whatif.what_ifs(f, targets.defaults(), MACHINE, [], False)
    infiniband = next(w for w in found if w["name"] == "infiniband")
    assert infiniband["applicable"]
    base = rows.set_index("cores")["seconds"]
    for row in infiniband["rows"]:  # the what-if scales the whole-curve total, never above it
        assert row["seconds"] <= base[row["cores"]] * (1 + 1e-12)


def test_predict_phase_sum_is_its_own_prediction_of_the_largest_count(tmp_path, costs):  # noqa: F811
    full = write_sweep(tmp_path / "full")
    f = run(full, machine=MACHINE)
    assert f.total is not None and f.total.held == 8
    inner = run(write_sweep(tmp_path / "inner", counts=(1, 2, 4)), machine=MACHINE, cores=[8])
    expected = float(inner.rows["phase_sum"].iloc[0])
    reps = inputs.load([full]).repetitions
    at8 = float(np.median(reps.loc[reps["cores"] == 8, "seconds"]))
    assert f.total.phase_error == pytest.approx(expected / at8 - 1.0, rel=1e-9)
    if f.total.method == totalchoice.PHASES:
        rows = f.rows.loc[f.rows["feasible"]]
        np.testing.assert_allclose(rows["seconds"], rows["phase_sum"])


def test_phase_fits_get_the_run_totals(tmp_path, costs, monkeypatch):  # noqa: F811
    calls = []
    real = phasefit.fit_phase

    def spy(phase, cores, seconds, **kwargs):
        calls.append((phase, kwargs.get("totals")))
        return real(phase, cores, seconds, **kwargs)

    monkeypatch.setattr(phasefit, "fit_phase", spy)
    run(write_sweep(tmp_path), machine=MACHINE)
    phases = [(p, t) for p, t in calls if p != predict.REMAINDER]
    assert phases and all(t is not None and len(t) and np.all(t > 0) for _, t in phases)
    assert {p for p, _ in phases} == {"compute", "halo", "reduce"}


def test_infiniband_what_if_sets_the_allreduce_from_its_link():
    changes, assumption = whatif.BUILTIN["infiniband"]
    model = with_overrides(MACHINE, changes)
    link, allreduce = model.link(True), model.allreduce(True)
    # Rabenseifner (Thakur, Rabenseifner & Gropp 2005): a message each way per log2(p) step,
    # each byte over the link twice
    assert allreduce.alpha == pytest.approx(2 * link.latency)
    assert allreduce.beta == pytest.approx(2 / link.bandwidth)
    assert "Thakur" in assumption
