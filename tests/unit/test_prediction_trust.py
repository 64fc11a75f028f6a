"""What the analyzer says beyond its measurements, on the smallest inputs that once misled.

Each test is one behaviour a planner must be able to trust: predictions anchored to the measured
baseline, intervals that carry run-to-run variation, refusals where the data are too few, model
choice by extrapolation, superlinear data and off-trend baselines said plainly, points below the
baseline left unjudged, and runs pooled only when they measure the same thing.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import analysis, inputs, metrics, records, targets
from harness.errors import DataError

DEFAULTS = targets.defaults()


def reps(times: dict[int, list[float]] | dict[int, float], workload: str = "w") -> pd.DataFrame:
    """One run per listed time (a list gives several runs at that core count)."""
    rows = []
    for cores, values in times.items():
        for value in (values if isinstance(values, list) else [values]):
            rows.append((workload, "strong", cores, float(value), len(rows)))
    return pd.DataFrame(rows, columns=["workload", "mode", "cores", "seconds", "run"])


def group_notes(result) -> list[str]:
    return list(result.groups["notes"].iloc[0])


# 2. measured beats modelled ---------------------------------------------------------------------

OFF_TREND = {1: 100.0, 2: 81.0, 4: 41.0, 8: 20.8, 16: 10.7, 32: 5.6}


def test_an_off_trend_baseline_is_said_and_does_not_move_the_predictions():
    result = analysis.analyze(reps(OFF_TREND), DEFAULTS)
    measured = result.points.set_index("cores")["efficiency"]
    assert measured.loc[2:].between(0.55, 0.62).all()
    predicted = result.predictions.set_index("scale")["efficiency"]
    # the trend of the measured efficiencies, not the 0.90 a fitted baseline once gave
    assert predicted.loc[10.0] == pytest.approx(0.60, abs=0.03)
    assert any("the baseline is off the trend of the other points" in n and
               "consider a larger baseline" in n for n in group_notes(result))
    assert result.groups["anchoring"].iloc[0] == "trend"


def test_a_measured_scale_is_judged_by_its_measurement_alone():
    # a 10x point measured at E = 0.52 while a model through the rest would say far more
    times = {1: 100.0, 2: 50.5, 4: 25.6, 10: 100.0 / (10 * 0.52), 20: 6.0}
    result = analysis.analyze(reps(times), DEFAULTS)
    ten = result.points.set_index("cores").loc[10]
    assert ten["efficiency"] == pytest.approx(0.52) and ten["status"] == "fail"
    assert 10.0 not in set(result.predictions["scale"])  # no "pass (also measured)"
    assert np.isfinite(ten["model_efficiency"])
    assert ten["model_residual"] == pytest.approx(0.52 / ten["model_efficiency"] - 1)


def test_predictions_are_relative_to_the_measured_baseline():
    times = {1: 10.0, 2: 5.3, 4: 2.9, 8: 1.7, 16: 1.1}
    result = analysis.analyze(reps(times), DEFAULTS, predict_scales=[1.0, 32.0])
    fitted = result.predictions.set_index("scale")
    # r = 1 was measured, so it is not predicted; the baseline itself is the anchor
    assert 1.0 not in fitted.index
    assert result.groups["baseline_seconds"].iloc[0] == 10.0
    assert fitted.loc[32.0, "seconds"] == pytest.approx(
        10.0 / (32 * fitted.loc[32.0, "efficiency"]))


# 3. intervals that carry run-to-run variation ---------------------------------------------------

def test_the_interval_follows_run_to_run_variation_not_repetitions():
    rng = np.random.default_rng(4)
    law = {c: 10 * (0.05 + 0.95 / c) for c in (1, 2, 4, 8, 16)}

    def study(run_sigma: float) -> float:
        rows = []
        for cores, level in law.items():
            for run in range(3):
                run_level = level * np.exp(rng.normal(0, run_sigma))
                rows += [("w", "strong", cores, t, cores * 10 + run)
                         for t in run_level * np.exp(rng.normal(0, 0.001, 7))]
        frame = pd.DataFrame(rows, columns=["workload", "mode", "cores", "seconds", "run"])
        row = analysis.analyze(frame, DEFAULTS, predict_scales=[8.0 / 1]).predictions
        # the width at 10x (within the data's span, no extrapolation term)
        ten = row.set_index("scale").loc[10.0]
        return float(np.log(ten["pi95_high"] / ten["pi95_low"]))

    quiet, noisy = study(0.005), study(0.08)
    # repetitions are tight (0.1 %) in both: only the runs' spread can widen the interval
    assert noisy > 5 * quiet


def test_identical_rows_never_give_a_zero_width_interval():
    result = analysis.analyze(reps({1: 8.0, 2: 4.0, 4: 2.0}), DEFAULTS)
    ten = result.predictions.set_index("scale").loc[10.0]
    assert ten["pi95_low"] < ten["efficiency"] < ten["pi95_high"]
    assert ten["pi95_high"] / ten["pi95_low"] > 1.02


# 4. too few core counts -------------------------------------------------------------------------

def test_two_core_counts_give_no_prediction_and_say_what_to_measure():
    rng = np.random.default_rng(8)
    truth = {p: 0.05 + 0.95 / p + 0.01 * (p - 1) for p in (1, 2)}
    times = {p: list(t * (1 + rng.uniform(-0.005, 0.005, 5))) for p, t in truth.items()}
    result = analysis.analyze(reps(times), DEFAULTS)
    assert result.predictions.empty
    assert (result.alerts["kind"] != "predicted").all()
    assert result.groups["model"].iloc[0] is None
    note = next(n for n in group_notes(result) if n.startswith("no prediction"))
    assert "at least 3" in note and "measure also at 4 cores" in note
    fits = result.fits.set_index("model")
    assert "needs at least 3 distinct core counts" in fits.loc["amdahl", "reason"]
    assert "needs at least 5 distinct core counts" in fits.loc["usl", "reason"]


def test_every_prediction_states_its_extrapolation_distance():
    times = {1: 10.0, 2: 5.2, 4: 2.8, 8: 1.6}
    result = analysis.analyze(reps(times), DEFAULTS)
    table = result.predictions.set_index("scale")
    np.testing.assert_allclose(table["extrapolation"], table.index / 8.0)
    # 1.25x, 6.25x, 12.5x, 62.5x beyond the 8 cores measured: far beyond 8x
    assert table["far_extrapolated"].tolist() == [False, False, True, True]
    alerts = result.alerts.loc[result.alerts["kind"] == "predicted"]
    assert all("predicted, not measured" in m and "beyond the largest measured scale" in m
               for m in alerts["message"])
    # --check fails on measured misses only, unless predicted ones are asked for
    measured = analysis.missed(result)
    assert measured and not any("predicted" in m for m in measured)
    with_predicted = analysis.missed(result, include_predicted=True)
    assert with_predicted[:len(measured)] == measured
    assert any("predicted E = " in m and "beyond the largest measured scale" in m
               for m in with_predicted[len(measured):])


# 5. model choice by extrapolation ---------------------------------------------------------------

ALLREDUCE = {32: 30.93, 64: 42.24, 128: 60.64, 256: 87.60, 512: 130.58}


def test_a_time_that_rises_with_ranks_is_not_given_to_amdahl():
    result = analysis.analyze(reps(ALLREDUCE), DEFAULTS)
    group = result.groups.iloc[0]
    assert group["model"] != "amdahl"
    assert "cross-validation" in group["model_choice"] and "vs" in group["model_choice"]
    fits = result.fits.set_index("model")
    assert fits.loc[group["model"], "rms_residual"] < fits.loc["amdahl", "rms_residual"] / 5
    assert "f" in fits.loc["amdahl", "at_bound"]
    # USL with alpha at its bound 1 names no peak
    assert "alpha" in fits.loc["usl", "at_bound"] and np.isnan(fits.loc["usl", "peak_scale"])


# 6. superlinear ---------------------------------------------------------------------------------

STENCIL = {1: 12.15, 2: 6.55, 4: 2.60, 8: 1.38, 16: 0.656}


def test_superlinear_speedup_is_kept_and_said():
    result = analysis.analyze(reps(STENCIL), DEFAULTS)
    assert result.points.set_index("cores").loc[4, "efficiency"] == pytest.approx(1.168, abs=1e-3)
    note = next(n for n in group_notes(result) if n.startswith("superlinear from 4 cores"))
    assert "efficiency up to 1.168" in note
    # intervals are never clipped at 1
    assert (result.predictions["pi95_high"] > 1.0).any()


# 7. below the baseline --------------------------------------------------------------------------

def test_points_below_the_baseline_have_no_target_and_are_not_fitted():
    times = {2: 4.0, 5: 2.02, 10: 1.05, 20: 0.56, 40: 0.31}
    result = analysis.analyze(reps(times), DEFAULTS, baseline_cores=5)
    below = result.points.set_index("cores").loc[2]
    assert below["status"] == metrics.BELOW_BASELINE and np.isnan(below["target"])
    assert below["speedup"] == pytest.approx(2.02 / 4.0)
    assert np.isnan(below["model_efficiency"])
    assert 2 not in set(result.alerts["cores"])
    assert all("2 cores" not in m for m in analysis.missed(result))
    assert any("below the baseline" in n for n in group_notes(result))


# 8. provenance ----------------------------------------------------------------------------------

PASSED = {"passed": True, "method": "closed form", "checksum": {"sum": 1.0}, "error": 0.0,
          "tolerance": 1e-9}


def record(ranks: int, seconds: float, **provenance) -> dict:
    prov = {"host": "n1", "cpu_model": "CPU A", "cpus_per_node": 64,
            "mpi_library": "MPICH 4.2", "git_sha": "abc", "harness": "0.1.0",
            "python": "3.11", "numba": "0.60", "numpy": "2.0", "mpi4py": "4.0"}
    prov.update(provenance)
    rec = records.RunRecord(run_id=records.new_run_id(), sweep_id="s", workload="cfd",
                            variant="blocking", mode="strong", size="tiny", params={},
                            ranks=ranks, status="ok", repetitions=2,
                            seconds=[seconds, seconds * 1.01], verification=PASSED,
                            provenance=prov, fixed_work={"cell_updates": 1000})
    return rec.to_dict()


def write(directory: Path, name: str, data: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(json.dumps(data))
    return path


def test_runs_of_different_machines_are_never_pooled(tmp_path):
    write(tmp_path, "a1.json", record(1, 0.000415))
    write(tmp_path, "a2.json", record(2, 0.00022))
    write(tmp_path, "b1.json", record(1, 0.000631, host="n9", cpu_model="CPU B",
                                      mpi_library="Open MPI 5"))
    data = inputs.load([tmp_path])
    result = analysis.analyze(data.repetitions, DEFAULTS)
    machines = set(result.groups["machine"])
    assert machines == {"CPU A; 64 CPUs per node; MPICH 4.2", "CPU B; 64 CPUs per node; Open MPI 5"}
    first = result.groups.set_index("machine").loc["CPU A; 64 CPUs per node; MPICH 4.2"]
    assert first["baseline_seconds"] == pytest.approx(0.000415 * 1.005)
    assert first["provenance"]["hosts"] == ["n1"]


def test_different_code_is_refused_unless_accepted(tmp_path):
    write(tmp_path, "a1.json", record(1, 1.0))
    write(tmp_path, "a2.json", record(2, 0.52, git_sha="def", numba="0.61"))
    data = inputs.load([tmp_path])
    with pytest.raises(DataError, match=r"different code \(git_sha: 'abc' in .* vs 'def' in "
                                        r".*--pool-provenance"):
        analysis.analyze(data.repetitions, DEFAULTS)
    result = analysis.analyze(data.repetitions, DEFAULTS, pool_provenance=True)
    warning = result.groups["warnings"].iloc[0][0]
    assert "git_sha, numba" in warning and warning in group_notes(result)


def test_a_copied_sweep_counts_each_run_once(tmp_path):
    original = tmp_path / "sweep"
    for ranks, t in ((1, 1.0), (2, 0.55), (4, 0.3)):
        write(original, f"p{ranks}.json", record(ranks, t))
    copy = tmp_path / "sweep-copy"
    copy.mkdir()
    for path in original.iterdir():
        (copy / path.name).write_bytes(path.read_bytes())
    data = inputs.load([tmp_path])
    assert len(data.repetitions) == 6  # three runs of two repetitions, not twelve
    assert data.excluded["reason"].str.contains("the same run as").sum() == 3
    result = analysis.analyze(data.repetitions, DEFAULTS)
    assert result.points["runs"].tolist() == [1, 1, 1]


def test_one_run_id_with_different_content_is_an_error_naming_both_files(tmp_path):
    rec = record(1, 1.0)
    write(tmp_path / "a", "r.json", rec)
    write(tmp_path / "b", "r.json", {**rec, "seconds": [2.0, 2.0]})
    with pytest.raises(DataError, match=r"r\.json and .*r\.json both hold run id"):
        inputs.load([tmp_path])


def test_efficiency_lost_on_one_node_is_named_node_saturation(tmp_path):
    directory = tmp_path / "sweep"
    for ranks, t, nodes in ((5, 10.0, 1), (50, 1.25, 1), (250, 0.30, 5)):
        data = record(ranks, t)
        data["nodes"] = nodes
        write(directory, f"p{ranks}.json", data)
    result = analysis.analyze(inputs.load([directory]).repetitions, DEFAULTS)
    note = next(n for n in group_notes(result) if "node saturation" in n)
    assert "up to 50 cores every rank ran on one node" in note
    assert "E = 0.800 at 50 cores" in note
    assert "the network enters at 250 cores on 5 nodes (E = 0.667)" in note
