"""What the report shows, from hand-made data with known answers (harness.report.data,
sections, plots, markdown)."""

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection
from reportcases import SLOW_F, frame

from harness import analysis, records, targets
from harness.report import build, data, plots, sections, sources


@pytest.fixture(scope="module")
def result():
    return analysis.analyze(frame(), targets.defaults())


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    path = tmp_path_factory.mktemp("cases") / "cases.csv"
    frame().to_csv(path, index=False)
    return build.assemble([path], targets.defaults())


def _section(report, workload):
    return next(s for s in report.sections if s.key["workload"] == workload)


def test_predictions_keep_only_unmeasured_scales_with_interval_and_distance(result):
    preds = data.predictions(result)
    slow = preds.loc[preds["workload"] == "slow"]
    assert slow["scale"].tolist() == [500.0]  # 10x, 50x, 100x were measured
    row = slow.iloc[0]
    assert row["extrapolation"] == pytest.approx(5.0)  # 500x / 100x largest measured
    assert not row["far_extrapolated"]
    assert row["pi95_low"] < row["efficiency"] < row["pi95_high"]
    fast = preds.loc[preds["workload"] == "fast"].set_index("scale")
    assert fast.loc[100.0, "extrapolation"] == pytest.approx(10.0)
    assert fast.loc[100.0, "far_extrapolated"]  # beyond 8x


def test_predictions_in_the_newer_form_pass_through(result):
    newer = pd.DataFrame([{"workload": "slow", "mode": "strong", "variant": "", "size": "case",
                           "problem": "case", "scale": 500.0, "cores": 2500.0,
                           "efficiency": 0.41, "pi95_low": 0.3, "pi95_high": 0.5,
                           "model": "amdahl", "label": "predicted", "extrapolation": 5.0,
                           "far_extrapolated": False, "target": 0.8, "status": "fail"}])
    result = analysis.Analysis(result.points, result.groups, result.fits, newer, result.alerts,
                               result.targets)
    preds = data.predictions(result)
    assert preds[["pi95_low", "pi95_high", "extrapolation"]].iloc[0].tolist() == [0.3, 0.5, 5.0]


def test_kpi_table_takes_the_worst_workload_measured_before_predicted(report):
    rows = {row["scale"]: row for row in report.kpi}
    ten, hundred, five_hundred = rows[10.0], rows[100.0], rows[500.0]
    assert ten["value"].kind == "measured" and ten["status"] == "pass"
    assert ten["value"].efficiency == pytest.approx(0.975, abs=1e-3)  # slow, worse than fast
    assert hundred["value"].kind == "measured"
    assert hundred["value"].efficiency == pytest.approx(0.78, abs=1e-9)
    assert hundred["status"] == "fail" and hundred["failing"] == 1
    assert five_hundred["status"] == "fail (predicted)"
    assert "extrapolated 5×)" in five_hundred["value"].text()


def test_workloads_ranked_worst_first_with_mitigation_from_the_bottleneck(report):
    names = [row["name"] for row in report.workloads]
    assert names == ["slow/strong [case]", "fast/strong [case]"]
    slow, fast = report.workloads
    assert slow["headline"].status == "fail" and slow["bottleneck"] == "Network I/O"
    assert "interconnect" in slow["mitigation"]
    assert fast["headline"].kind == "predicted" and fast["headline"].status == "pass"
    assert fast["bottleneck"] == "none found" and fast["mitigation"] == "-"
    assert report.headline == ("1 of 2 workloads with a 100× value miss the 100× target; "
                               "1 measured point below target; 1 P2 alert.")


def test_bottleneck_unknown_without_phase_timings(tmp_path):
    path = tmp_path / "plain.csv"
    frame().drop(columns=["phase_compute", "phase_halo"]).to_csv(path, index=False)
    rows = build.assemble([path], targets.defaults()).workloads
    assert {r["bottleneck"] for r in rows} == {"unknown: no phase timings"}
    assert all("time the communication" in r["mitigation"] for r in rows)


def test_amdahl_paragraph_has_the_right_arithmetic(report):
    text = _section(report, "slow").amdahl_text
    assert "E = 0.780 at 100×" in text
    assert "= 0.285 %" in text  # (1/0.78 - 1)/99, not 22 %
    assert "1/f = 351×" in text  # not 4.5x
    assert f"{100 * SLOW_F:.3g} %" == "0.285 %"
    assert "95 % CI" in text  # the fitted f comes with its interval


def test_a_slowdown_is_not_given_a_serial_fraction():
    points = pd.DataFrame({"scale": [1.0, 2.0], "efficiency": [1.0, 0.064]})
    text = sections.amdahl_text("strong", points, pd.DataFrame())
    assert "speedup of 0.128×: more cores made the run slower" in text
    assert "f = (1/E" not in text


def test_weak_mode_paragraph_uses_gustafson():
    points = pd.DataFrame({"scale": [1.0, 10.0], "efficiency": [1.0, 0.91]})
    text = sections.amdahl_text("weak", points, pd.DataFrame())
    assert "f = (1 − E)·r/(r − 1) = 10 %" in text


def _drawn_points(fig):
    """Every vertex of every line (data lines, error-bar caps) in a figure."""
    out = []
    for ax in fig.axes:
        for line in ax.lines:
            out += [tuple(xy) for xy in line.get_xydata()]
    return out


@pytest.mark.parametrize("workload", ["slow", "fast"])
def test_every_drawn_line_point_is_in_the_plots_csv(report, workload):
    section = _section(report, workload)
    speedup, efficiency = section.plots[0], section.plots[1]
    for plot, x, ys in ((speedup, "cores", ("speedup", "speedup_low", "speedup_high")),
                        (efficiency, "scale", ("efficiency", "efficiency_low",
                                               "efficiency_high"))):
        table = plot.table
        drawn = _drawn_points(plot.figure)
        assert drawn
        for px, py in drawn:
            rows = table.loc[np.isclose(table[x], px)]
            assert any(np.isclose(rows[c].astype(float), py).any() for c in ys), (plot.stem, px,
                                                                                  py)


def test_measured_numbers_in_the_plot_csv_are_the_analyzers(report, result):
    section = _section(report, "slow")
    table = section.plots[0].table
    measured = table.loc[table["series"] == "measured"]
    points = data.select(result.points, section.key)
    assert measured["cores"].tolist() == points["cores"].astype(float).tolist()
    assert np.allclose(measured["speedup"], points["speedup"])
    series = set(section.plots[1].table["series"])
    runner_up = {s for s in series if s.startswith("runner-up:")}
    assert series - runner_up == {"measured", "predicted", "model:amdahl", "target", "p2-alert"}
    assert len(runner_up) == 1 and runner_up != {"runner-up:amdahl"}
    predicted = table.loc[table["series"] == "predicted"]
    assert predicted["scale"].tolist() == [500.0]
    band = [c for c in section.plots[0].figure.axes[0].collections
            if isinstance(c, PolyCollection)]
    assert not band  # one predicted point: an interval bar, no band


def test_phase_bars_are_the_csv(report):
    plot = _section(report, "slow").plots[2]
    table = plot.table
    assert set(table["phase"]) == {"compute", "halo"}
    ax = plot.figure.axes[0]
    halo = table.loc[table["phase"] == "halo"]
    assert [t.get_text() for t in ax.texts] == [f"halo {100 * s:.1f} %" for s in halo["share"]]
    assert halo["share"].iloc[-1] > halo["share"].iloc[0]  # the bottleneck grows
    bars = [(p.get_height(), p.get_y()) for p in ax.patches]
    assert len(bars) == len(table)
    for height, bottom in bars:
        assert (np.isclose(table["seconds"], height) & np.isclose(table["bottom"], bottom)).any()


def test_every_plot_has_a_title_axis_units_and_a_text_alternative(report):
    for section in report.sections:
        assert len(section.plots) == 3
        for plot in section.plots:
            ax = plot.figure.axes[0]
            assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()
            assert plot.alt and f"<title>{plot.alt}" in plot.svg
            assert "http" not in plot.svg.split(">", 1)[1].replace("http://www.w3.org", "")


def test_points_csv_holds_measured_and_predicted(report):
    points = report.points
    assert set(points["kind"]) == {"measured", "predicted"}
    measured = points.loc[points["kind"] == "measured"]
    assert (measured["efficiency_low"] <= measured["efficiency"]).all()
    assert (measured["efficiency"] <= measured["efficiency_high"]).all()
    predicted = points.loc[points["kind"] == "predicted"]
    assert np.allclose(predicted["speedup"], predicted["scale"] * predicted["efficiency"])


def test_value_text_marks_far_predictions():
    far = data.Value("g", "predicted", 500, 2500, 0.4, 0.3, 0.5, 0.8, 50.0, "amdahl")
    assert far.status == "fail" and far.far
    assert far.text() == "0.400 predicted (95 % PI 0.30–0.50; extrapolated 50× (far))"
    near = data.Value("g", "measured", 10, 50, 0.95, target=0.9)
    assert near.text() == "0.950 measured" and near.status == "pass"
    inside = data.Value("g", "predicted", 10, 50, 0.9, 0.8, 1.0, 0.9, 0.5, "amdahl")
    assert "; interpolated)" in inside.text()
    assert data.Value("g", "measured", 1000, 5000, 0.95).status == "no-target"
    assert math.isnan(near.extrapolation)


def test_only_excluded_runs_give_a_report_that_says_so(tmp_path):
    rec = records.failed(run_id=records.new_run_id(), sweep_id="s", workload="cfd",
                         variant="blocking", mode="strong", size="tiny", params={}, ranks=2,
                         error="rank 1: boom", provenance={})
    records.write(tmp_path, rec)
    loaded = sources.load([tmp_path])
    assert loaded.repetitions is None and "boom" in loaded.excluded["reason"].iloc[0]
    rep = build.assemble([tmp_path], targets.defaults())
    assert rep.headline.startswith("Nothing could be measured: the 1 run")
    assert all(row["status"] == "no data" for row in rep.kpi)


def test_slug_is_file_name_safe():
    assert data.slug("cfd/strong/blocking [small n=512]") == "cfd-strong-blocking-small-n-512"
    assert plots.target_steps(targets.defaults(), 2.0)["target"].tolist() == [
        0.9, 0.9, 0.87, 0.85, 0.8]


def test_newer_group_fields_are_used_when_present(result):
    groups = result.groups.copy()
    groups["runner_up"] = "gustafson"
    groups["provenance"] = [{"host": ["node1"], "records": 4}] * len(groups)
    groups["warnings"] = [["runs from two machines"]] * len(groups)
    newer = analysis.Analysis(result.points, groups, result.fits, result.predictions,
                              result.alerts, result.targets)
    loaded = sources.Loaded(frame().assign(source="x.csv", problem="case"), pd.DataFrame(
        columns=["source", "workload", "mode", "variant", "cores", "reason"]))
    built = sections.build(newer, loaded, data.predictions(newer))
    assert {s.runner_up for s in built} == {"gustafson"}
    assert all(s.provenance["host"] == ["node1"] for s in built)
    assert all("runs from two machines" in s.notes for s in built)


def test_svg_title_is_escaped_and_literal():
    fig = plots.Figure()
    fig.add_subplot()
    svg = plots._svg(fig, r"a <b> & c\1")
    assert r"<title>a &lt;b> &amp; c\1</title>" in svg
    assert svg.startswith("<svg") and "<metadata>" not in svg


def test_headline_when_no_workload_can_be_judged_at_100x():
    rows = [{"headline": None}, {"headline": None}]
    points = pd.DataFrame({"status": ["pass", "fail", "fail"]})
    assert build._headline(rows, points, 0) == (
        "2 of 2 workloads have neither a 100× measurement nor a model to predict it; "
        "2 measured points below target; 0 P2 alerts.")


def test_no_serial_fraction_means_no_ceiling():
    fits = pd.DataFrame([{"model": "amdahl", "status": "fitted", "f": 0.0, "f_ci95_low": 0.0,
                          "f_ci95_high": 0.00132, "reason": ""}])
    points = pd.DataFrame({"scale": [1.0, 2.0], "efficiency": [1.0, 1.0]})
    text = sections.amdahl_text("strong", points, fits)
    assert "f = 0 % (95 % CI 0 % to 0.132 %), so Amdahl's law sets no speedup ceiling." in text


def test_an_uncertain_prediction_has_no_pass_or_fail():
    """The analyzer marks a prediction whose interval spans more than a factor 10 uncertain;
    the report shows it so, never as a pass or a failure."""
    far = data.Value("w", "predicted", 500.0, 500.0, 0.04, 0.01, 0.15, 0.80, 15.6, "amdahl",
                     uncertain=True)
    assert far.status == "uncertain"
    near = data.Value("w", "predicted", 50.0, 50.0, 0.3, 0.25, 0.35, 0.87, 1.5, "amdahl")
    assert near.status == "fail"
