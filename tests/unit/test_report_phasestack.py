"""The report's predicted phase breakdown: its numbers are ``harness predict``'s, measured and
predicted bars are told apart, and the section appears only when asked for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reportcases import frame, write_cases

from harness import predict, targets
from harness.report import build, markdown, phasestack, plots


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return write_cases(tmp_path_factory.mktemp("cases"))


@pytest.fixture(scope="module")
def report(cases):
    return build.assemble([cases], targets.defaults(), predict_phases=True)


def _entry(report, workload: str) -> phasestack.GroupStack:
    return next(g for g in report.phase_prediction.groups
                if g.section.key["workload"] == workload)


def _forecast(workload: str) -> predict.GroupForecast:
    reps = frame().assign(problem="", machine="", run=lambda f: f.index // 3)
    return next(f for f in predict.forecast(reps, targets.defaults())
                if f.keys["workload"] == workload)


def test_absent_unless_asked_for(cases):
    plain = build.assemble([cases], targets.defaults())
    assert plain.phase_prediction is None
    assert "Predicted phase breakdown" not in markdown.render(plain)
    assert not any(name.startswith("phase-") for name in plain.files)


@pytest.mark.parametrize("workload", ["slow", "fast"])
def test_predicted_bars_are_predicts_numbers_at_the_target_scales(report, workload):
    stack = _entry(report, workload).stack
    pred = stack.loc[stack["series"] == phasestack.PREDICTED]
    assert sorted(pred["scale"].unique()) == list(targets.defaults().scales)
    assert set(pred["label"]) == {"predicted"}
    rows = _forecast(workload).rows.set_index("cores")
    for phase in ("compute", "halo"):
        part = pred.loc[pred["phase"] == phase].set_index("cores")
        np.testing.assert_allclose(part["seconds"], rows.loc[part.index, f"phase_{phase}"],
                                   rtol=1e-9)
    totals = pred.drop_duplicates("cores").set_index("cores")
    np.testing.assert_allclose(totals["total"], rows.loc[totals.index, "seconds"], rtol=1e-9)
    assert (totals["total_pi95_low"] <= totals["total"]).all()
    assert (totals["total"] <= totals["total_pi95_high"]).all()
    assert totals["extrapolation"].notna().all()


def test_segments_stack_from_zero_in_order(report):
    stack = _entry(report, "slow").stack
    for (_, _), bar in stack.groupby(["series", "cores"]):
        heights = bar["seconds"].clip(lower=0).fillna(0).to_numpy()
        np.testing.assert_allclose(bar["bottom"].to_numpy(),
                                   np.concatenate([[0.0], np.cumsum(heights)[:-1]]))


def test_measured_bars_are_the_reports_phase_breakdown(report):
    entry = _entry(report, "slow")
    measured = entry.stack.loc[entry.stack["series"] == phasestack.MEASURED]
    expected = plots.phase_table(entry.section)
    assert set(measured["label"]) == {"measured"}
    pd.testing.assert_series_equal(measured["seconds"].reset_index(drop=True),
                                   expected["seconds"].reset_index(drop=True))
    assert sorted(measured["cores"].unique()) == [5, 50, 250, 500]


def test_dominant_phase_and_models(report):
    slow = _entry(report, "slow")
    assert slow.dominant["phase"] == _forecast("slow").dominant["phase"]
    assert slow.dominant["scale"] == 500.0
    assert set(slow.phases["model"]) == {"empirical"}  # no machine model
    assert slow.what_ifs.empty  # what-ifs need a machine model
    assert set(report.phase_prediction.table()["phase"]) == {"compute", "halo"}


def test_chart_labels_every_prediction(report):
    entry = _entry(report, "slow")
    plot = entry.plot
    assert plot.stem == f"{entry.section.slug}-phase-prediction"
    assert "predicted (not measured)" in plot.svg
    assert "lighter, dashed: predicted (not measured)" in plot.svg
    assert "predicted total: 95 % prediction interval" in plot.svg
    assert "extrap. 5×" in plot.svg  # 500x is 5 times the largest measured scale
    assert plot.svg.count("measured<") == 4  # one tick label per measured core count
    pd.testing.assert_frame_equal(plot.table, entry.stack)
    assert f"plots/{plot.stem}.csv" in report.files


def test_markdown_shows_the_same_numbers_marked_predicted(report):
    text = markdown.render(report)
    section = text[text.index("### Predicted phase breakdown"):]
    total = _forecast("slow").rows.set_index("cores").loc[2500, "seconds"]
    assert f"*{total:.3g} predicted*" in section
    assert "500× *predicted*, extrapolated 5×" in section
    assert "| measured | 500 |" in section
    assert "Dominant phase at 500× (predicted): **" in section
