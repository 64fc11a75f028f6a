"""Analysis: hand-computed frames for every formula, targets, alerts, notes and the bottleneck."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness import analysis, metrics, models, targets
from harness.errors import DataError

DEFAULTS = targets.defaults()


def frame(rows, **phases) -> pd.DataFrame:
    """Repetitions from ``(workload, mode, variant, cores, seconds)`` rows, one run per row."""
    out = pd.DataFrame(rows, columns=["workload", "mode", "variant", "cores", "seconds"])
    out["run"] = np.arange(len(out))
    for name, values in phases.items():
        out[name] = values
    return out


def strong(times: dict[int, float], workload="w", variant="") -> list[tuple]:
    return [(workload, "strong", variant, c, t) for c, t in times.items()]


def point(result, cores, workload="w", mode="strong"):
    p = result.points
    return p.loc[(p["cores"] == cores) & (p["workload"] == workload) & (p["mode"] == mode)].iloc[0]


def test_strong_formulas_by_hand():
    # T0 = 10 s on 2 cores; 4 cores 6 s; 8 cores 3.25 s
    result = analysis.analyze(frame(strong({2: 10.0, 4: 6.0, 8: 3.25})), DEFAULTS)
    p4, p8 = point(result, 4), point(result, 8)
    assert p4["scale"] == 2.0 and p8["scale"] == 4.0
    assert p4["speedup"] == pytest.approx(10 / 6)
    assert p4["efficiency"] == pytest.approx(10 / 6 / 2)
    # Karp–Flatt worked examples: e = (1/S - 1/r)/(1 - 1/r)
    assert p4["karp_flatt"] == pytest.approx((0.6 - 0.5) / 0.5)  # = 0.2
    assert p8["speedup"] == pytest.approx(40 / 13)
    assert p8["karp_flatt"] == pytest.approx((13 / 40 - 1 / 4) / (3 / 4))  # = 0.1
    assert math.isnan(point(result, 2)["karp_flatt"])  # r = 1: undefined


@pytest.mark.parametrize("f", [0.0, 0.05, 0.25])
def test_karp_flatt_recovers_amdahl_serial_fraction(f):
    cores = [1, 2, 4, 8, 16]
    times = {c: 100.0 * (f + (1 - f) / c) for c in cores}
    result = analysis.analyze(frame(strong(times)), DEFAULTS)
    np.testing.assert_allclose(result.points["karp_flatt"].iloc[1:], f, atol=1e-12)


def test_perfect_scaling_is_exactly_one():
    result = analysis.analyze(frame(strong({1: 8.0, 2: 4.0, 4: 2.0, 8: 1.0})), DEFAULTS)
    assert (result.points["efficiency"] == 1.0).all()
    assert (result.points["speedup"] == result.points["scale"]).all()
    assert (result.points["karp_flatt"].iloc[1:] == 0.0).all()


def test_superlinear_is_kept_as_measured():
    result = analysis.analyze(frame(strong({1: 10.0, 2: 4.0})), DEFAULTS)
    p = point(result, 2)
    assert p["speedup"] == 2.5
    assert p["efficiency"] == 1.25
    assert p["karp_flatt"] == pytest.approx((1 / 2.5 - 1 / 2) / (1 / 2))  # -0.2
    assert p["status"] == "pass"


def test_weak_formulas_by_hand():
    rows = [("w", "weak", "", 1, 10.0), ("w", "weak", "", 4, 12.5)]
    p = point(analysis.analyze(frame(rows), DEFAULTS), 4, mode="weak")
    assert p["efficiency"] == pytest.approx(10 / 12.5)  # T0/T = 0.8
    assert p["speedup"] == pytest.approx(4 * 0.8)       # scaled speedup r E
    assert p["karp_flatt"] == pytest.approx((1 / 3.2 - 1 / 4) / (3 / 4))


def test_median_spread_and_repetitions_against_numpy():
    rng = np.random.default_rng(0)
    base, other = rng.uniform(9, 11, 7), rng.uniform(4, 6, 10)
    rows = strong({}) + [("w", "strong", "", 1, t) for t in base]
    rows += [("w", "strong", "", 2, t) for t in other]
    reps = frame(rows)
    reps["run"] = 0  # one run: repetitions, not duplicates
    result = analysis.analyze(reps, DEFAULTS)
    for cores, values in ((1, base), (2, other)):
        p = point(result, cores)
        q25, q75 = np.percentile(values, [25, 75])
        assert p["seconds"] == np.median(values)
        assert (p["seconds_min"], p["seconds_max"]) == (values.min(), values.max())
        assert p["repetitions"] == len(values)
        assert p["rel_iqr"] == pytest.approx((q75 - q25) / np.median(values))
    assert point(result, 2)["speedup"] == pytest.approx(np.median(base) / np.median(other))
    assert not any("duplicate" in n for n in result.groups["notes"].iloc[0])


def test_baseline_is_smallest_unless_given():
    times = {1: 12.0, 2: 6.5, 4: 3.5}
    default = analysis.analyze(frame(strong(times)), DEFAULTS)
    assert default.groups["baseline_cores"].iloc[0] == 1
    given = analysis.analyze(frame(strong(times)), DEFAULTS, baseline_cores=2)
    assert given.groups["baseline_cores"].iloc[0] == 2
    assert point(given, 4)["scale"] == 2.0
    assert point(given, 4)["speedup"] == pytest.approx(6.5 / 3.5)
    assert point(given, 1)["scale"] == 0.5  # below the baseline: kept, r < 1
    assert math.isnan(point(given, 1)["karp_flatt"])


def test_baseline_not_measured_is_an_error():
    rows = strong({1: 4.0, 2: 2.1}, workload="a") + strong({2: 4.0, 4: 2.1}, workload="b")
    with pytest.raises(DataError, match=r"--baseline-cores 4 was not measured for a/strong; "
                                        r"measured core counts: 1, 2"):
        analysis.analyze(frame(rows), DEFAULTS, baseline_cores=4)


def test_status_at_and_between_target_rows():
    table = targets.Targets(scales=(2.0, 4.0), efficiencies=(0.75, 0.5), p2_alert=0.3)
    # E = 6/4/2 = 0.75 at r=2 (equal: fail); r=3 takes the 4x row; E = 0.5 at r=4 (equal: fail)
    times = {1: 6.0, 2: 4.0, 3: 3.0, 4: 3.0, 8: 1.0}
    result = analysis.analyze(frame(strong(times)), table)
    assert point(result, 2)["efficiency"] == 0.75
    assert point(result, 2)["status"] == "fail"
    assert point(result, 3)["target"] == 0.5 and point(result, 3)["efficiency"] == 2 / 3
    assert point(result, 3)["status"] == "pass"
    assert point(result, 4)["efficiency"] == 0.5 and point(result, 4)["status"] == "fail"
    assert point(result, 8)["status"] == "no-target" and math.isnan(point(result, 8)["target"])
    assert point(result, 1)["status"] == "pass"  # r = 1 takes the first row; E = 1 > 0.75


def test_measured_and_predicted_alerts_are_separate():
    f = 0.02  # E(16) = 1/(16 (f + (1-f)/16)) ~ 0.77; the model predicts far lower at 500x
    times = {c: 50.0 * (f + (1 - f) / c) for c in (1, 2, 4, 8, 16)}
    times[32] = 50.0 / 32 / 0.6  # a measured efficiency of 0.6: P2
    result = analysis.analyze(frame(strong(times)), DEFAULTS)
    alerts = result.alerts
    measured = alerts.loc[alerts["kind"] == "measured"]
    assert measured["cores"].tolist() == [32]
    assert measured["efficiency"].iloc[0] == pytest.approx(0.6)
    predicted = alerts.loc[alerts["kind"] == "predicted"]
    assert len(predicted) > 0 and (predicted["efficiency"] < 0.70).all()
    assert set(predicted["scale"]) <= set(DEFAULTS.scales)
    assert (predicted["model"] == result.groups["model"].iloc[0]).all()
    # --check counts measured points only: the P2 one and the ones below target
    missed = analysis.missed(result)
    failing = result.points.loc[result.points["status"] == "fail", "cores"].tolist()
    assert len(missed) == len(set(failing) | {32})
    assert any("32 cores" in m and "P2 alert" in m for m in missed)


def test_predictions_are_labelled_and_never_points():
    # Amdahl with f = 0.01 relative to the 5-core baseline: T = T0 (f + (1 - f)/r), r = p/5
    times = {c: 10.0 * (0.01 + 0.99 / (c / 5)) for c in (5, 10, 20, 40)}
    result = analysis.analyze(frame(strong(times)), DEFAULTS)
    predictions = result.predictions
    assert (predictions["label"] == "predicted").all()
    np.testing.assert_array_equal(predictions["scale"], DEFAULTS.scales)
    np.testing.assert_array_equal(predictions["cores"], np.array(DEFAULTS.scales) * 5)
    assert sorted(result.points["cores"]) == [5, 10, 20, 40]
    np.testing.assert_allclose(predictions["efficiency"],
                               1 / (np.array(DEFAULTS.scales) * 0.01 + 0.99), rtol=1e-6)


def test_one_core_count_says_speedup_undefined():
    rows = [("solo", "strong", "", 4, 2.0), ("solo", "strong", "", 4, 2.2)]
    rows += strong({1: 4.0, 2: 2.1, 4: 1.1})
    result = analysis.analyze(frame(rows), DEFAULTS)
    assert set(result.points["workload"]) == {"w"}
    assert not result.points.isna()[["speedup", "efficiency"]].any().any()
    solo = result.groups.set_index("workload").loc["solo"]
    assert solo["notes"][0].startswith("speedup undefined: only one core count measured "
                                       "(4 cores, median 2.1 s over 2 repetitions)")
    # its fits are there, refused with the reason; no predictions
    solo_fits = result.fits.loc[result.fits["workload"] == "solo"].set_index("model")
    assert solo_fits.loc["amdahl", "status"] == "refused"
    assert "needs at least 3 distinct core counts" in solo_fits.loc["amdahl", "reason"]
    assert set(result.predictions["workload"]) == {"w"}
    assert not any(n.startswith(("no prediction", "no non-compute")) for n in solo["notes"])


def test_separate_runs_at_one_core_count_are_pooled_and_noted():
    rows = strong({1: 10.0, 2: 5.0}) + strong({2: 6.0}) + strong({2: 7.0})
    result = analysis.analyze(frame(rows), DEFAULTS)  # one run per row: three runs at 2 cores
    p = point(result, 2)
    assert p["seconds"] == 6.0 and p["repetitions"] == 3
    notes = result.groups["notes"].iloc[0]
    assert "3 runs at 2 cores pooled: median and spread are over the repetitions of all those " \
           "runs; each run is one replicate in the model fits" in notes
    assert p["runs"] == 3
    assert not any("duplicate" in n for n in notes)


def test_repetitions_of_one_run_are_not_noted_as_pooled():
    reps = frame(strong({1: 10.0, 2: 5.0}) + strong({2: 6.0}) + strong({1: 11.0}))
    reps["run"] = reps["cores"]  # one run per core count, two repetitions each
    result = analysis.analyze(reps, DEFAULTS)
    assert point(result, 2)["repetitions"] == 2
    assert not any("pooled" in n for n in result.groups["notes"].iloc[0])


def test_groups_are_split_by_problem():
    """Runs of different problems are never compared: a small-problem run is not a faster or
    slower tiny-problem run."""
    rows = [("cfd", "strong", "b", "tiny", "tiny", 1, 0.0004),
            ("cfd", "strong", "b", "small", "small", 2, 0.0053),
            ("cfd", "strong", "b", "small", "small n=512", 1, 0.011),
            ("cfd", "strong", "b", "small", "small n=512", 4, 0.003)]
    reps = pd.DataFrame(rows, columns=["workload", "mode", "variant", "size", "problem", "cores",
                                       "seconds"])
    reps["run"] = np.arange(len(reps))
    result = analysis.analyze(reps, DEFAULTS)
    groups = result.groups.set_index("problem")
    assert sorted(groups.index) == ["small", "small n=512", "tiny"]
    assert groups.loc["small", "size"] == "small" and groups.loc["tiny", "size"] == "tiny"
    for single in ("small", "tiny"):
        assert groups.loc[single, "notes"][0].startswith("speedup undefined")
    # only the problem measured at two core counts has points, computed within the problem
    assert set(result.points["problem"]) == {"small n=512"}
    assert point(result, 4, workload="cfd")["efficiency"] == pytest.approx(0.011 / 0.003 / 4)
    assert list(result.points.columns[:6]) == ["workload", "mode", "variant", "size", "problem",
                                               "machine"]
    assert set(result.fits["problem"]) == {"small", "small n=512", "tiny"}
    # two core counts carry no prediction, and the group says what to measure
    assert result.predictions.empty
    assert any(n.startswith("no prediction: 2 core count(s) to fit (1, 4)")
               for n in groups.loc["small n=512", "notes"])


def test_problem_defaults_to_the_size():
    reps = frame(strong({1: 4.0, 2: 2.1}) + strong({1: 40.0}))
    reps["size"] = ["s", "s", "l"]
    result = analysis.analyze(reps, DEFAULTS)
    assert sorted(result.groups["problem"]) == ["l", "s"]
    assert result.groups.set_index("size").loc["s", "core_counts"] == 2


def test_labels_name_the_problem():
    assert metrics.label("cfd", "strong", "b", "small n=512") == "cfd/strong/b [small n=512]"
    assert metrics.label("cfd", "weak", "", "") == "cfd/weak"
    reps = frame(strong({1: 4.0, 2: 4.0}))
    reps["size"] = "small"
    result = analysis.analyze(reps, DEFAULTS)
    assert analysis.missed(result) == ["w/strong [small] at 2 cores: E = 0.500 (target > 0.90) "
                                       "P2 alert"]
    with pytest.raises(DataError, match=r"not measured for w/strong \[small\]; measured core"):
        analysis.analyze(reps, DEFAULTS, baseline_cores=3)


def test_log_time_statistics_are_over_runs_not_repetitions():
    """The fits' replicate is the run: each run's median over its repetitions, then the mean
    and sum of squared deviations of their logs (NumPy as the oracle)."""
    rng = np.random.default_rng(3)
    rows = [("w", "strong", "", c, t) for c in (1, 2, 4) for t in rng.uniform(1, 2, 12)]
    reps = frame(rows)
    reps["run"] = np.repeat(np.arange(9), 4)  # three runs of four repetitions per core count
    summary = metrics.summarize(reps)
    assert summary["runs"].tolist() == [3, 3, 3]
    for cores, row in zip(summary["cores"], summary.itertuples(), strict=True):
        here = reps.loc[reps["cores"] == cores]
        logs = np.log(here.groupby("run")["seconds"].median().to_numpy())
        assert row.log_mean == pytest.approx(logs.mean(), rel=1e-14)
        assert row.log_ss == pytest.approx(((logs - logs.mean()) ** 2).sum(), rel=1e-12)


@pytest.mark.parametrize(
    ("column", "value", "says"),
    [
        ("cores", 0, "cores must be a whole number >= 1"),
        ("cores", -2, "cores must be a whole number >= 1"),
        ("cores", 1.5, "cores must be a whole number >= 1"),
        ("cores", 2.0**60, "cores must be a whole number >= 1"),
        ("seconds", 0.0, "seconds must be a finite number > 0"),
        ("seconds", float("nan"), "seconds must be a finite number > 0"),
        ("seconds", float("inf"), "seconds must be a finite number > 0"),
        ("mode", "medium", "mode must be strong or weak"),
    ],
)
def test_values_the_formulas_cannot_take_are_data_errors(column, value, says):
    """Never a division by zero, a log of zero or an optimizer started outside its bounds."""
    reps = frame(strong({1: 4.0, 2: 2.1, 4: 1.2}))
    if column == "cores":
        reps["cores"] = reps["cores"].astype(np.float64)
    reps.loc[1, column] = value
    with pytest.raises(DataError) as info:
        analysis.analyze(reps, DEFAULTS)
    message = str(info.value)
    assert message.startswith(f"repetitions: row 1, column {column!r}:")
    assert says in message and "\n" not in message


def test_missing_columns_and_no_rows_are_data_errors():
    reps = frame(strong({1: 4.0, 2: 2.1}))
    with pytest.raises(DataError, match=r"lack the column\(s\) cores; needed: workload, mode"):
        analysis.analyze(reps.drop(columns="cores"), DEFAULTS)
    with pytest.raises(DataError, match="nothing to analyze"):
        analysis.analyze(reps.iloc[:0], DEFAULTS)


def test_targets_baseline_note():
    result = analysis.analyze(frame(strong({1: 10.0, 5: 2.1, 10: 1.1})), DEFAULTS)
    notes = result.groups["notes"].iloc[0]
    assert any("baseline is 1 core, so 10x here is 10 cores; the platform's targets count "
               "scales from 5 cores (its 10x is 50 cores), and every scale up to 10x is held to "
               "the 10x target; pass --baseline-cores 5" in n for n in notes)
    at_five = analysis.analyze(frame(strong({1: 10.0, 5: 2.1, 10: 1.1})), DEFAULTS, 5)
    assert not any("targets count scales" in n for n in at_five.groups["notes"].iloc[0])


@pytest.mark.parametrize(("phase", "name"), [("halo", "Network I/O"), ("io", "File I/O"),
                                             ("reduce", "Synchronization"),
                                             ("distribute", "Communication"),
                                             ("serial", "Serial work")])
def test_bottleneck_is_the_phase_whose_share_grows_most(phase, name):
    cores = [1, 2, 4, 8]
    seconds = np.array([10.0, 5.5, 3.0, 2.0])
    compute = seconds - 0.5 - np.array([0.2, 0.4, 0.6, 0.9])
    grows = np.array([0.2, 0.4, 0.6, 0.9])     # share 2 % -> 45 %
    steady = seconds * 0.05                     # share constant at 5 %
    rows = strong(dict(zip(cores, seconds, strict=True)))
    # "assemble" is computation: its share grows even more, but it is never the bottleneck
    other = "reduce" if phase != "reduce" else "halo"
    reps = frame(rows, **{f"phase_{phase}": grows, f"phase_{other}": steady,
                          "phase_assemble": seconds * np.array([0.01, 0.1, 0.3, 0.5]),
                          "phase_compute": compute, "phasemax_compute": compute * 1.25})
    group = analysis.analyze(reps, DEFAULTS).groups.iloc[0]
    assert group["bottleneck_phase"] == phase and group["bottleneck_name"] == name
    assert group["share_baseline"] == pytest.approx(0.2 / 10.0)
    assert group["share_largest"] == pytest.approx(0.9 / 2.0)
    assert group["load_imbalance"] == pytest.approx(1.25)


def test_no_growing_phase_means_no_bottleneck():
    seconds = np.array([10.0, 5.0])
    reps = frame(strong({1: 10.0, 2: 5.0}), phase_halo=seconds * 0.1, phase_compute=seconds * 0.9)
    group = analysis.analyze(reps, DEFAULTS).groups.iloc[0]
    assert group["bottleneck_phase"] is None
    assert "no non-compute phase grows its share of the time" in group["notes"]
    no_phases = analysis.analyze(frame(strong({1: 10.0, 2: 5.0})), DEFAULTS).groups.iloc[0]
    assert any("no non-compute phase timings" in n for n in no_phases["notes"])


def test_groups_are_separate_and_fits_one_row_per_model():
    rows = strong({1: 10.0, 2: 5.2, 4: 2.8}, workload="a", variant="x")
    rows += strong({1: 10.0, 2: 5.5, 4: 3.2}, workload="a", variant="y")
    rows += [("a", "weak", "x", c, t) for c, t in ((1, 2.0), (2, 2.1), (4, 2.3))]
    result = analysis.analyze(frame(rows), DEFAULTS)
    assert len(result.groups) == 3
    assert result.fits.groupby(metrics.KEYS).size().tolist() == [len(models.REGISTRY)] * 3
    weak = result.fits.loc[result.fits["mode"] == "weak"].set_index("model")
    assert weak.loc["amdahl", "status"] == "not-applicable"
    assert weak.loc["gustafson", "status"] == "fitted"
    # three core counts: one-parameter models only, so each group has a model
    assert result.fits.groupby(metrics.KEYS)["chosen"].sum().tolist() == [1, 1, 1]
