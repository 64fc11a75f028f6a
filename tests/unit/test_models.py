"""Models: recovery of known f, alpha, beta with intervals covering the truth, refusals, choice."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from harness import models

SCALES = np.array([1, 2, 4, 8, 16, 32, 64], dtype=float)


def amdahl_times(f, scales, reps, noise, rng, t0=20.0):
    r = np.repeat(scales, reps)
    return r, t0 * (f + (1 - f) / r) * np.exp(rng.normal(0.0, noise, r.size))


def usl_times(alpha, beta, scales, reps, noise, rng, mode="strong", t0=20.0):
    r = np.repeat(scales, reps)
    speedup = r / (1 + alpha * (r - 1) + beta * r * (r - 1))
    relative = 1 / speedup if mode == "strong" else r / speedup
    return r, t0 * relative * np.exp(rng.normal(0.0, noise, r.size))


def point_stats(r, seconds):
    return models.point_stats(pd.DataFrame({"scale": r, "seconds": seconds}))


def fit(model, mode, r, seconds):
    return models.fit(point_stats(r, seconds), model, mode)


def test_point_stats_against_numpy():
    rng = np.random.default_rng(5)
    r = np.array([4.0, 1.0, 4.0, 2.0, 1.0, 4.0, 2.0])
    t = rng.uniform(1.0, 3.0, r.size)
    stats_ = point_stats(r, t)
    assert stats_["scale"].tolist() == [1.0, 2.0, 4.0]
    for row in stats_.itertuples():
        logs = np.log(t[r == row.scale])
        assert row.repetitions == logs.size
        assert row.log_mean == pytest.approx(logs.mean(), rel=1e-14)
        assert row.log_ssw == pytest.approx(((logs - logs.mean()) ** 2).sum(), rel=1e-12)
    # by several columns, one row per distinct combination
    frame = pd.DataFrame({"g": ["a", "b"] * 4, "cores": [1, 1, 2, 2] * 2,
                          "seconds": np.arange(1.0, 9.0)})
    grouped = models.point_stats(frame, ["g", "cores"])
    assert list(grouped.columns) == ["g", "cores", "repetitions", "log_mean", "log_ssw"]
    assert grouped["repetitions"].tolist() == [2, 2, 2, 2]
    assert grouped["log_mean"].iloc[0] == pytest.approx(np.log([1.0, 5.0]).mean())


@pytest.mark.parametrize("scales", [[0.0, 1.0, 2.0], [1.0, np.nan, 4.0], [1.0, 2.0, np.inf]])
def test_scales_a_model_cannot_take_are_refused_not_raised(scales):
    """A scale of 0, NaN or inf would start the optimizer outside its bounds: refuse instead."""
    stats_ = pd.DataFrame({"scale": scales, "repetitions": [2, 2, 2],
                           "log_mean": [1.0, 0.5, 0.2], "log_ssw": [0.0, 0.0, 0.0]})
    for model in ("amdahl", "usl"):
        result = models.fit(stats_, model, "strong")
        assert result.status == "refused"
        assert "every scale must be a finite number > 0" in result.reason


@pytest.mark.parametrize(("f", "seed"), [(0.01, 1), (0.05, 2), (0.2, 3)])
def test_amdahl_recovers_f_and_interval_covers_it(f, seed):
    r, t = amdahl_times(f, SCALES, 5, 0.02, np.random.default_rng(seed))
    result = fit("amdahl", "strong", r, t)
    assert result.status == "fitted"
    low, high = result.ci95["f"]
    assert low <= f <= high
    assert abs(result.params["f"] - f) < 0.01
    assert result.max_speedup == pytest.approx(1 / result.params["f"])


def test_amdahl_matches_curve_fit_oracle():
    """Same estimate and standard error as scipy's curve_fit on every repetition's log time."""
    r, t = amdahl_times(0.08, SCALES, 4, 0.03, np.random.default_rng(11))
    result = fit("amdahl", "strong", r, t)

    def log_time(scale, log_t0, f):
        return log_t0 + np.log(f + (1 - f) / scale)

    popt, pcov = optimize.curve_fit(log_time, r, np.log(t), p0=[math.log(20), 0.1],
                                    bounds=([-np.inf, 0], [np.inf, 1]))
    assert result.params["f"] == pytest.approx(popt[1], rel=1e-6)
    half = stats.t.ppf(0.975, r.size - 2) * math.sqrt(pcov[1, 1])
    low, high = result.ci95["f"]
    assert low == pytest.approx(popt[1] - half, rel=1e-4)
    assert high == pytest.approx(popt[1] + half, rel=1e-4)
    assert result.dof == r.size - 2


@pytest.mark.parametrize("model", ["amdahl", "usl", "gustafson"])
def test_interval_coverage_is_about_95_percent(model):
    """Over 40 fixed seeds each 95 % interval covers the truth at least 33 times.

    With a true coverage of 95 % the chance of 32 or fewer is about 1e-3.
    """
    truth = {"amdahl": {"f": 0.05}, "gustafson": {"f": 0.1},
             "usl": {"alpha": 0.03, "beta": 5e-4}}[model]
    mode = "weak" if model == "gustafson" else "strong"
    covered = dict.fromkeys(truth, 0)
    for seed in range(40):
        rng = np.random.default_rng(100 + seed)
        if model == "usl":
            r, t = usl_times(truth["alpha"], truth["beta"], SCALES, 3, 0.03, rng)
        elif model == "amdahl":
            r, t = amdahl_times(truth["f"], SCALES[:5], 3, 0.03, rng)
        else:
            r = np.repeat(SCALES, 3)
            t = 5.0 * r / (r - truth["f"] * (r - 1)) * np.exp(rng.normal(0, 0.01, r.size))
        result = fit(model, mode, r, t)
        for name, value in truth.items():
            low, high = result.ci95[name]
            covered[name] += low <= value <= high
    assert all(count >= 33 for count in covered.values()), covered


@pytest.mark.parametrize(("alpha", "beta", "seed"), [(0.03, 2e-4, 5), (0.1, 1e-3, 6)])
def test_usl_recovers_alpha_beta_and_intervals_cover_them(alpha, beta, seed):
    r, t = usl_times(alpha, beta, SCALES, 6, 0.02, np.random.default_rng(seed))
    result = fit("usl", "strong", r, t)
    assert result.status == "fitted"
    a_low, a_high = result.ci95["alpha"]
    b_low, b_high = result.ci95["beta"]
    assert a_low <= alpha <= a_high
    assert b_low <= beta <= b_high
    assert result.params["alpha"] == pytest.approx(alpha, abs=0.02)
    assert result.params["beta"] == pytest.approx(beta, rel=0.3)
    fitted = result.params
    assert result.peak_scale == pytest.approx(math.sqrt((1 - fitted["alpha"]) / fitted["beta"]))


def test_usl_matches_curve_fit_oracle_in_weak_mode():
    r, t = usl_times(0.02, 5e-4, SCALES, 3, 0.02, np.random.default_rng(7), mode="weak")
    result = fit("usl", "weak", r, t)

    def log_time(scale, log_t0, alpha, beta):
        return log_t0 + np.log(1 + alpha * (scale - 1) + beta * scale * (scale - 1))

    popt, pcov = optimize.curve_fit(log_time, r, np.log(t), p0=[math.log(20), 0.05, 1e-4],
                                    bounds=([-np.inf, 0, 0], [np.inf, 1, np.inf]))
    assert result.params["alpha"] == pytest.approx(popt[1], rel=1e-4, abs=1e-8)
    assert result.params["beta"] == pytest.approx(popt[2], rel=1e-4)
    half = stats.t.ppf(0.975, r.size - 3) * math.sqrt(pcov[2, 2])
    assert result.ci95["beta"][1] == pytest.approx(popt[2] + half, rel=1e-3)


def test_gustafson_recovers_f_in_weak_mode():
    f, rng = 0.1, np.random.default_rng(9)
    r = np.repeat(SCALES, 4)
    scaled = r - f * (r - 1)
    t = 5.0 * (r / scaled) * np.exp(rng.normal(0, 0.01, r.size))
    result = fit("gustafson", "weak", r, t)
    low, high = result.ci95["f"]
    assert low <= f <= high
    assert result.params["f"] == pytest.approx(f, abs=0.01)


def test_noise_free_amdahl_is_exact():
    r = SCALES
    result = fit("amdahl", "strong", r, 7.0 * (0.125 + 0.875 / r))
    assert result.params["f"] == pytest.approx(0.125, abs=1e-9)
    assert result.rms_residual == pytest.approx(0.0, abs=1e-9)


def test_perfect_scaling_gives_f_zero_and_no_ceiling():
    result = fit("amdahl", "strong", SCALES, 64.0 / SCALES)
    assert result.params["f"] == 0.0
    assert result.max_speedup == math.inf


def test_refusals_name_the_reason():
    r, t = amdahl_times(0.1, np.array([1.0, 4.0]), 3, 0.01, np.random.default_rng(9))
    stats_ = point_stats(r, t)
    usl = models.fit(stats_, "usl", "strong")
    assert usl.status == "refused"
    assert "needs at least 3 distinct core counts" in usl.reason and "has 2" in usl.reason
    amdahl = models.fit(stats_, "amdahl", "strong")
    assert amdahl.status == "fitted" and amdahl.ci95["f"] is not None
    single = models.fit(stats_.iloc[:1], "amdahl", "strong")
    assert single.status == "refused" and "needs at least 2" in single.reason
    assert models.fit(stats_, "gustafson", "strong").status == "not-applicable"
    assert models.fit(stats_, "amdahl", "weak").status == "not-applicable"


def test_no_spare_repetitions_means_no_interval():
    r = np.array([1.0, 2.0])
    result = fit("amdahl", "strong", r, np.array([10.0, 6.0]))
    assert result.status == "fitted"
    assert result.ci95["f"] is None and "no confidence interval" in result.reason
    # two points, one parameter besides T0: the fit is Karp–Flatt's e at r = 2
    assert result.params["f"] == pytest.approx((6 / 10 - 1 / 2) / (1 - 1 / 2))


def test_choose_prefers_usl_when_data_have_contention():
    r, t = usl_times(0.02, 1e-3, SCALES, 5, 0.01, np.random.default_rng(10))
    stats_ = point_stats(r, t)
    fits = [models.fit(stats_, m, "strong") for m in ("amdahl", "usl")]
    chosen, why = models.choose(fits)
    assert chosen.model == "usl"
    assert why.startswith("usl fits better than amdahl")
    assert fits[1].aicc < fits[0].aicc
    assert f"{100 * fits[0].rms_residual:.2f} %" in why


def test_choose_keeps_amdahl_when_usl_adds_nothing():
    r, t = amdahl_times(0.05, SCALES, 5, 0.01, np.random.default_rng(12))
    stats_ = point_stats(r, t)
    fits = [models.fit(stats_, m, "strong") for m in ("amdahl", "usl")]
    chosen, _ = models.choose(fits)
    assert chosen.model == "amdahl"


def test_choose_with_nothing_fitted():
    stats_ = point_stats(np.array([1.0]), np.array([3.0]))
    fits = [models.fit(stats_, m, "strong") for m in ("amdahl", "usl")]
    chosen, why = models.choose(fits)
    assert chosen is None and "no model could be fitted" in why


def test_predictions_follow_the_closed_form():
    r, t = amdahl_times(0.02, SCALES, 4, 0.02, np.random.default_rng(13))
    result = fit("amdahl", "strong", r, t)
    scales = np.array([10.0, 50.0, 100.0, 500.0])
    predicted = models.predict(result, scales, baseline_cores=5)
    f = result.params["f"]
    np.testing.assert_allclose(predicted["efficiency"], 1 / (scales * (f + (1 - f) / scales)))
    np.testing.assert_array_equal(predicted["cores"], scales * 5)
    assert (predicted["label"] == "predicted").all() and (predicted["model"] == "amdahl").all()
    assert (predicted["ci95_low"] <= predicted["efficiency"]).all()
    assert (predicted["efficiency"] <= predicted["ci95_high"]).all()
    # the efficiency interval is the f interval pushed through the model (monotone in f)
    f_low, f_high = result.ci95["f"]
    assert predicted["ci95_high"].iloc[-1] == pytest.approx(
        1 / (500 * (f_low + (1 - f_low) / 500)), rel=0.05)
    assert predicted["ci95_low"].iloc[-1] == pytest.approx(
        1 / (500 * (f_high + (1 - f_high) / 500)), rel=0.05)


@pytest.mark.parametrize("mode", ["strong", "weak"])
def test_usl_efficiency_closed_form(mode):
    r = np.array([1.0, 3.0, 30.0])
    alpha, beta = 0.1, 0.01
    speedup = r / (1 + alpha * (r - 1) + beta * r * (r - 1))
    expected = speedup / r
    np.testing.assert_allclose(models.efficiency("usl", mode, r, np.array([alpha, beta])),
                               expected)
