"""``harness.predict`` on synthetic run records: phase choice, totals, efficiency, what-ifs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from harness import inputs, phasechoice, predict, records, targets, whatif
from harness.machine import Allreduce, Curve, Link, MachineModel, with_overrides
from harness.workloads.base import PhaseCost
from harness.workloads.cfd import CFD

PASSED = {"passed": True, "method": "closed form", "checksum": {}, "error": 0.0, "tolerance": 1.0}
MACHINE = MachineModel(
    name="hand", cores_per_node=4, intra=Link(1e-6, 1e9), allreduce_intra=Allreduce(2e-6, 1e-9),
    memory=Curve((1, 4), (1e12, 4e12)), io_write=Curve.flat(1e9), io_read=Curve.flat(1e9),
    inter=Link(1e-5, 1e8), allreduce_inter=Allreduce(1e-5, 1e-8))
ITEMS, RATE, HALO_FACTOR, REST = 1e6, 1e8, 3.0, 1e-4


#: the grid size each rank count's costs were asked for
SEEN_N: dict[int, int] = {}


def fake_costs(self, params, variant, ranks):
    """Compute divides 1e6 items, the halo sends 4 messages of 1000 B, an allreduce of 8 B."""
    SEEN_N[ranks] = params["n"]
    return {"compute": PhaseCost(items=ITEMS / ranks),
            "halo": PhaseCost(messages=4, message_bytes=4000.0, neighbours=4),
            "reduce": PhaseCost(reductions=1, reduction_bytes=8.0)}


def phase_times(ranks: int) -> dict[str, float]:
    off = ranks > MACHINE.cores_per_node
    link = MACHINE.link(off)
    reduce = MACHINE.allreduce(off).time(ranks, 8.0)
    return {"compute": ITEMS / ranks / RATE, "halo": HALO_FACTOR * link.time(4000.0, 4),
            "reduce": 2.0 * reduce if ranks > 1 else 5e-6}


def write_sweep(root: Path, counts=(1, 2, 4, 8), repeats: int = 2, mode: str = "strong"
                ) -> Path:
    for ranks in counts:
        times = phase_times(ranks)
        total = sum(times.values()) + REST
        for k in range(repeats):
            wiggle = 1.0 + 0.01 * k
            rec = records.RunRecord(
                run_id=records.new_run_id(), sweep_id="syn", workload="cfd", variant="blocking",
                mode=mode, size="tiny", params={}, ranks=ranks, status="ok",
                repetitions=3, seconds=[total * wiggle] * 3, verification=PASSED,
                nodes=max(1, ranks // 4), ranks_per_node=min(ranks, 4),
                phases={name: {"min": t * wiggle, "mean": t * wiggle, "max": t * wiggle}
                        for name, t in times.items()})
            records.write(root, rec)
    return root


@pytest.fixture
def costs(monkeypatch):
    monkeypatch.setattr(CFD, "costs", fake_costs)


def run(root: Path, **kwargs) -> predict.GroupForecast:
    data = inputs.load([root])
    (forecast,) = predict.forecast(data.repetitions, targets.defaults(), **kwargs)
    return forecast


def test_mechanistic_recovers_the_halo_factor_and_predicts_totals(tmp_path, costs):
    f = run(write_sweep(tmp_path), machine=MACHINE)
    choices = {c.phase: c for c in f.phases}
    halo = choices["halo"].mechanistic
    assert halo is not None and halo.factor == pytest.approx(HALO_FACTOR, rel=0.02)
    assert choices["compute"].mechanistic.calibration.rate == pytest.approx(RATE, rel=0.02)
    assert {c.chosen for c in f.phases} <= {"mechanistic", "empirical"}
    rows = f.rows.set_index("scale")
    assert list(rows.index) == [10.0, 50.0, 100.0, 500.0]
    # compute at 500 ranks: 1e6 / 500 items at the measured rate, whichever model predicts it
    assert rows.loc[500.0, "phase_compute"] == pytest.approx(ITEMS / 500 / RATE, rel=0.05)
    # the off-node step at 8 ranks is what the empirical fit cannot know: mechanistic wins
    assert choices["halo"].chosen == "mechanistic"
    expected = HALO_FACTOR * MACHINE.inter.time(4000.0, 4)
    assert rows.loc[500.0, "phase_halo"] == pytest.approx(expected, rel=0.02)
    # the total is the parts' sum; efficiency is analyze's strong definition
    parts = rows[["phase_compute", "phase_halo", "phase_reduce", "remainder"]].sum(axis=1)
    np.testing.assert_allclose(rows["seconds"], parts, rtol=1e-12)
    expected_eff = f.baseline_seconds / (rows["seconds"] * rows.index.to_numpy())
    np.testing.assert_allclose(rows["efficiency"], expected_eff, rtol=1e-12)
    assert (rows["label"] == "predicted").all()
    np.testing.assert_allclose(rows["extrapolation"], rows.index.to_numpy() / 8.0)
    assert rows["far_extrapolated"].tolist() == [False, False, True, True]  # beyond 8x
    assert (rows["pi95_low"] <= rows["seconds"]).all()
    assert (rows["seconds"] <= rows["pi95_high"]).all()
    target = targets.defaults().target_for(rows.index.to_numpy())
    judged = ~rows["uncertain"].to_numpy()
    assert (rows["status"].to_numpy()[judged] == np.where(
        rows["efficiency"].to_numpy() > target, "pass", "fail")[judged]).all()
    assert f.dominant is not None and f.dominant["scale"] == 500.0


def test_weak_mode_efficiency_and_problem_scaling(tmp_path, costs):
    f = run(write_sweep(tmp_path, mode="weak"), machine=MACHINE)
    rows = f.rows.set_index("scale")
    # weak: E = T0 / T (Gustafson), scaled speedup r E
    np.testing.assert_allclose(rows["efficiency"], f.baseline_seconds / rows["seconds"],
                               rtol=1e-12)
    np.testing.assert_allclose(rows["speedup"], rows.index.to_numpy() * rows["efficiency"])
    # the costs at 500 ranks were asked for the weak-scaled problem: n = 64 sqrt(500)
    assert SEEN_N[500] == round(64 * 500 ** 0.5)
    assert SEEN_N[1] == 64
    assert bool(rows.loc[500.0, "feasible"])


def test_two_core_counts_choose_mechanistic_and_say_why(tmp_path, costs):
    f = run(write_sweep(tmp_path, counts=(1, 2)), machine=MACHINE)
    compute = next(c for c in f.phases if c.phase == "compute")
    assert compute.chosen == "mechanistic"
    # calibrated at 1 core, the mechanistic model predicts the 2-core run: a real hold-out;
    # the empirical fit cannot be held out with two core counts, and the reason says so
    assert "needs >= 3 core counts" in compute.reason
    # two points are not enough to extrapolate the remainder: it is held at its median
    assert f.remainder.fit is None
    assert f.remainder.constant == pytest.approx(REST * 1.005, rel=1e-6)
    assert (f.rows["remainder"] == f.remainder.constant).all()
    assert compute.mechanistic.holdout_error == pytest.approx(0.0, abs=0.02)


def test_without_machine_every_phase_is_empirical(tmp_path, costs):
    f = run(write_sweep(tmp_path))
    assert all(c.chosen == "empirical" and c.mechanistic is None for c in f.phases)
    assert any("no machine model" in note for note in f.notes)


def test_infeasible_scale_is_reported_not_predicted(tmp_path, costs):
    # cfd tiny is a 64 x 64 grid: 100 000 ranks make a process grid wider than 64 cells
    f = run(write_sweep(tmp_path), cores=[16, 100_000], machine=MACHINE)
    rows = f.rows.set_index("cores")
    assert bool(rows.loc[16, "feasible"]) and not bool(rows.loc[100_000, "feasible"])
    assert rows.loc[100_000, "label"] == "infeasible"
    assert "process grid" in rows.loc[100_000, "infeasible"]
    assert np.isnan(rows.loc[100_000, "seconds"])


def test_what_ifs_faster_network_helps_and_async_hides_the_reduce(tmp_path, costs):
    f = run(write_sweep(tmp_path), machine=MACHINE)
    table = targets.defaults()
    found = {w["name"]: w for w in whatif.what_ifs(f, table, MACHINE, [], False)}
    assert set(found) == {"infiniband", "parallel filesystem", "async"}
    assert found["parallel filesystem"]["applicable"]  # phases have models; none does I/O
    assert all(r["gain"] == pytest.approx(0.0, abs=1e-12)
               for r in found["parallel filesystem"]["rows"])
    halo = next(c for c in f.phases if c.phase == "halo")
    assert halo.chosen == "mechanistic"
    assert all(r["gain"] > 0 for r in found["infiniband"]["rows"])
    cores = f.rows["cores"].to_numpy()
    models = {c.phase: c.model() for c in f.phases}
    hidden = np.maximum(models["reduce"].predict(cores) - models["compute"].predict(cores), 0)
    rows = predict.predict_totals(f, cores, table, {"reduce": hidden})
    got = [r["seconds"] for r in found["async"]["rows"]]
    np.testing.assert_allclose(got, rows["seconds"], rtol=1e-12)
    # --set: a user what-if, named by its assignments, listed first
    user = whatif.what_ifs(f, table, MACHINE, ["network.latency=100us"], False)[0]
    assert user["name"] == "--set network.latency=100us"
    assert all(r["gain"] < 0 for r in user["rows"])


def test_machine_ratio_leaves_calibration_alone(tmp_path, costs):
    f = run(write_sweep(tmp_path), machine=MACHINE)
    halo = next(c for c in f.phases if c.phase == "halo").mechanistic
    faster = with_overrides(MACHINE, ["network.latency=1us", "network.bandwidth=1GB/s"])
    # the what-if keeps the factor: the off-node halo becomes the intra-node one
    assert halo.predict([16], faster)[0] == pytest.approx(halo.predict([2])[0], rel=1e-12)


def test_asynchronous_prediction_replaces_the_reduce(tmp_path, costs):
    base = run(write_sweep(tmp_path), machine=MACHINE)
    hidden = run(tmp_path, machine=MACHINE, asynchronous=True)
    assert (hidden.rows["phase_reduce"] <= base.rows["phase_reduce"] + 1e-15).all()
    assert any("asynchronous algorithm assumed" in n for n in hidden.notes)


def test_scales_and_cores_are_exclusive(tmp_path, costs):
    data = inputs.load([write_sweep(tmp_path, counts=(1, 2))])
    with pytest.raises(Exception, match="not both"):
        predict.forecast(data.repetitions, targets.defaults(), scales=[10.0], cores=[10])


def test_choice_prefers_the_lower_holdout_error():
    class Fit:
        def __init__(self, error, calibrated=True):
            self.holdout_error = error
            self.calibrated = calibrated

    assert phasechoice.choose("p", Fit(0.3), Fit(0.1)).chosen == "mechanistic"
    assert phasechoice.choose("p", Fit(0.05), Fit(0.1)).chosen == "empirical"
    assert phasechoice.choose("p", Fit(0.05), Fit(float("nan"))).chosen == "empirical"
    assert phasechoice.choose("p", None, None).chosen is None
    # an uncalibrated mechanistic model (zero at every measured count) yields to a fit
    uncalibrated = phasechoice.choose("p", Fit(0.5), Fit(0.0, calibrated=False))
    assert uncalibrated.chosen == "empirical" and "nothing calibrates it" in uncalibrated.reason
    alone = phasechoice.choose("p", None, Fit(float("nan"), calibrated=False))
    assert alone.chosen == "mechanistic" and "uncalibrated" in alone.reason


def test_one_core_count_holds_a_phase_without_a_model(tmp_path):
    # no machine model, one core count: each phase keeps its measured time, the interval an
    # assumed factor 2, and the rows say so
    f = run(write_sweep(tmp_path, counts=(2,)))
    assert all(c.chosen == "held" for c in f.phases)
    rows = f.rows
    assert rows["interval_assumed"].all()
    np.testing.assert_allclose(rows["phase_compute"], phase_times(2)["compute"] * 1.005,
                               rtol=1e-9)
