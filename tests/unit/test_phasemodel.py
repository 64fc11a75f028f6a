"""The mechanistic per-phase model on hand-made costs and a hand-made machine model."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.machine import Allreduce, Curve, Link, MachineModel
from harness.phasemodel import (
    ASSUMED_SPREAD_FACTOR,
    bandwidth_rate,
    communication,
    mechanistic,
    with_terms_at,
)
from harness.workloads.base import PhaseCost

INTRA = Link(latency=1e-6, bandwidth=1e9)
INTER = Link(latency=1e-5, bandwidth=1e8)
MACHINE = MachineModel(
    name="hand", cores_per_node=4, intra=INTRA, allreduce_intra=Allreduce(2e-6, 1e-9),
    memory=Curve((1, 2, 4), (32e9, 40e9, 40e9)), io_write=Curve((1, 4), (1e9, 2e9)),
    io_read=Curve((1, 4), (1e9, 2e9)), inter=INTER, allreduce_inter=Allreduce(1e-5, 1e-8))


def halo_cost(ranks: int) -> PhaseCost:
    return PhaseCost(messages=4, message_bytes=4000.0, neighbours=4)


def test_halo_time_is_exact_hockney_on_each_level() -> None:
    # intra: 4 α + 4000 B / B = 4e-6 + 4e-6; inter: 4e-5 + 4e-5
    assert communication(halo_cost(2), 2, MACHINE, 4)[0] == pytest.approx(8e-6, rel=1e-12)
    assert communication(halo_cost(8), 8, MACHINE, 4)[0] == pytest.approx(8e-5, rel=1e-12)
    cores = np.array([1, 2, 2, 4])
    seconds = 2.0 * np.array([8e-6, 8e-6, 8e-6, 8e-6])
    model = mechanistic(None, "v", "halo", halo_cost, cores, seconds, MACHINE, 4)
    assert model is not None
    assert model.factor == pytest.approx(2.0, rel=1e-12)
    assert model.terms == ("halo",)
    # off-node beyond 4 ranks per node: the calibrated inter-node time
    assert model.predict([8])[0] == pytest.approx(2.0 * 8e-5, rel=1e-12)
    assert model.holdout_error == pytest.approx(0.0, abs=1e-12)


def test_bandwidth_bound_wins_when_the_node_saturates() -> None:
    # 16 B per item; measured at 1e9 items/s per rank at 1 and 2 ranks on a node
    def cost(ranks: int) -> PhaseCost:
        items = 1e6 / ranks
        return PhaseCost(items=items, bytes=16.0 * items)

    cores = np.array([1, 2])
    seconds = np.array([1e6 / 1e9, 5e5 / 1e9])
    model = mechanistic(None, "v", "compute", cost, cores, seconds, MACHINE, 4)
    assert model is not None
    assert model.calibration.rate == pytest.approx(1e9, rel=1e-12)
    assert model.terms == ("compute",)
    # at 4 ranks on a node each gets 40e9 / 4 = 10 GB/s: 6.25e8 items/s < 1e9
    assert bandwidth_rate(cost(4), 4, MACHINE, 4) == pytest.approx(6.25e8, rel=1e-12)
    assert model.predict([4])[0] == pytest.approx(2.5e5 / 6.25e8, rel=1e-12)
    assert "bandwidth" in with_terms_at(model, [4])
    # unbounded it would be items / rate
    assert model.predict([4])[0] > 2.5e5 / 1e9


def test_calibration_factor_is_recovered_and_reported() -> None:
    def cost(ranks: int) -> PhaseCost:
        return PhaseCost(reductions=10, reduction_bytes=8.0)

    cores = np.array([2, 4, 4])
    # ten allreduces of 2e-6 s per round, 8 bytes in all at 1e-9 s/B
    raw = np.array([10 * 2e-6 * 1 + 8e-9, 10 * 2e-6 * 2 + 8e-9, 10 * 2e-6 * 2 + 8e-9])
    model = mechanistic(None, "v", "reduce", cost, cores, 1.7 * raw, MACHINE, 4)
    assert model is not None
    assert model.factor == pytest.approx(1.7, rel=1e-12)
    assert model.terms == ("reduce",)
    # 16 ranks: four nodes, the inter-node allreduce, 4 rounds
    assert model.predict([16])[0] == pytest.approx(1.7 * (10 * 1e-5 * 4 + 8e-8), rel=1e-12)
    assert "x1.7" in model.describe()


def test_io_per_writer_share_and_serial_writer() -> None:
    per_rank = PhaseCost(io_bytes=1e6)
    gathered = PhaseCost(io_bytes=4e6, serial=True)
    # four writers share 2e9 B/s: 5e8 each
    assert communication(per_rank, 4, MACHINE, 4)[0] == pytest.approx(1e6 / 5e8)
    assert communication(gathered, 4, MACHINE, 4)[0] == pytest.approx(4e6 / 1e9)


def test_phase_without_work_where_measured_stays_uncalibrated() -> None:
    # a manager-worker distribution: nothing at one rank, messages from two ranks on
    def cost(ranks: int) -> PhaseCost:
        return PhaseCost(messages=10, message_bytes=800.0) if ranks > 1 else PhaseCost()

    model = mechanistic(None, "v", "distribute", cost, [1, 1], [1e-6, 2e-6], MACHINE, 4)
    assert model is not None and not model.calibrated
    assert model.factor == 1.0 and model.terms == ()
    assert model.predict([1])[0] == 0.0
    assert model.predict([2])[0] == pytest.approx(INTRA.time(800.0, 10), rel=1e-12)
    assert "uncalibrated" in model.describe()
    assert mechanistic(None, "v", "x", cost, [], [], MACHINE, 4) is None


def test_one_calibration_point_assumes_the_stated_spread() -> None:
    # an allreduce costs nothing at one rank: only the 2-rank run calibrates
    def cost(ranks: int) -> PhaseCost:
        return PhaseCost(reductions=1, reduction_bytes=8.0)

    model = mechanistic(None, "v", "reduce", cost, [1, 2], [1e-6, 4e-6], MACHINE, 4)
    assert model is not None
    assert model.calibration.runs == 1
    assert model.spread_assumed
    low, high = model.interval([2])
    t = model.predict([2])[0]
    assert t == pytest.approx(4e-6, rel=1e-12)
    assert high[0] / t == pytest.approx(ASSUMED_SPREAD_FACTOR, rel=1e-9)
    assert t / low[0] == pytest.approx(ASSUMED_SPREAD_FACTOR, rel=1e-9)
    assert math.isnan(model.holdout_error)


def test_interval_widens_beyond_the_data_with_the_holdout_error() -> None:
    cores = np.array([1, 1, 2, 2, 4, 4])
    noise = np.array([1.0, 1.02, 1.0, 0.98, 1.3, 1.32])  # the largest count off the trend
    seconds = 2.0 * 8e-6 * noise
    model = mechanistic(None, "v", "halo", halo_cost, cores, seconds, MACHINE, 4)
    assert model is not None and model.holdout_error > 0.2
    half = model.log_half_width(np.array([4, 16, 64]))
    assert half[0] < half[1] < half[2]
