"""Differential evolution under MPI: sync identical to serial, async islands really exchange.

Run inside ``mpiexec -n N`` (N = 1…4); every assertion holds at any N. Rank 0 compares against
a serial run of its own on ``COMM_SELF``.
"""

from __future__ import annotations

import math
from typing import Any

import casetools
import numpy as np
import pytest
from mpi4py import MPI

from harness.errors import ParameterError
from harness.timing import PhaseTimer
from harness.workloads.opt import TOLERANCE, TUNED, Optimization
from kernels import opt as kernel

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


#: instances built by the test running now, closed (collectively) when it ends
OPEN: list[Any] = []


@pytest.fixture(autouse=True)
def close_cases():
    yield
    while OPEN:
        OPEN.pop().close()


def run_case(on: Any, variant: str, overrides: dict[str, Any], mode: str = "strong",
             reps: int = 1, timer: PhaseTimer | None = None) -> tuple[Any, Any, PhaseTimer]:
    """Build, run ``reps`` repetitions and verify on communicator ``on``; the instance stays open
    (its communicator usable) until the test ends."""
    instance, verification, timer = casetools.run_case("opt", on, variant, overrides, mode, reps,
                                                   timer=timer)
    OPEN.append(instance)
    return instance, verification, timer


class RecordingTimer(PhaseTimer):
    """A phase timer that also keeps every interval it is given, the clock's reading when it
    was reset (just before a repetition) and when it was last given an interval."""

    def __init__(self, phases: Any):
        super().__init__(phases)
        self.intervals: dict[str, list[float]] = {name: [] for name in self.phases}
        self.started = self.last = math.nan

    def reset(self) -> None:
        super().reset()
        self.intervals = {name: [] for name in self.phases}
        self.started = self.clock()

    def add(self, name: str, seconds: float) -> None:
        super().add(name, seconds)
        self.intervals[name].append(seconds)
        self.last = self.clock()


def on_every_rank_equal(value: Any) -> bool:
    everyone = comm.allgather(value)
    return all(v == everyone[0] for v in everyone)


SYNC_SHAPES = [
    {},                                                  # tiny rastrigin, 64 individuals
    {"function": "rosenbrock"},
    {"population": 37, "generations": 40, "cost": 3},    # blocks of unequal size
    {"population": 5, "generations": 30},                # about one individual per rank
]


@pytest.mark.parametrize("overrides", SYNC_SHAPES,
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "tiny")
def test_sync_is_identical_to_serial(overrides: dict[str, Any]) -> None:
    instance, verification, _ = run_case(comm, "sync", overrides)
    fitness = instance.population_fitness()
    vectors = instance.population_vectors()
    assert on_every_rank_equal(verification.to_dict())
    agree = True
    if rank == 0:
        serial, serial_verification, _ = run_case(MPI.COMM_SELF, "sync", overrides)
        agree &= bool(np.array_equal(fitness, serial.population_fitness()))
        agree &= bool(np.array_equal(vectors, serial.population_vectors()))
        agree &= verification.checksum == serial_verification.checksum
        agree &= verification.checksum["best"] == float(fitness.min())
        agree &= verification.checksum["sum"] == math.fsum(fitness.tolist())
    assert comm.bcast(agree, root=0)
    if not overrides.get("population"):  # the tiny budgets converge
        assert verification.passed
        assert verification.error <= TOLERANCE


def test_each_rank_owns_its_block_and_local_fitness_is_that_block() -> None:
    instance, _, _ = run_case(comm, "sync", {"population": 37, "generations": 5})
    blocks = instance.blocks
    sizes = comm.allgather(blocks.local)
    assert sum(sizes) == 37 and max(sizes) - min(sizes) <= 1
    whole = instance.population_fitness()
    assert np.array_equal(instance.local_fitness(), whole[blocks.start:blocks.stop])


def test_repetitions_restart_from_the_same_initial_state() -> None:
    for variant in ("sync", "async"):
        _, once, _ = run_case(comm, variant, {})
        _, twice, _ = run_case(comm, variant, {}, reps=2)
        assert once.checksum == twice.checksum


def test_async_converges_and_every_island_ends_with_the_global_best() -> None:
    timer = RecordingTimer(Optimization.phases)
    instance, verification, _ = run_case(comm, "async", {}, timer=timer)
    assert verification.passed, verification
    assert on_every_rank_equal(verification.to_dict())
    island_best = float(instance.local_fitness().min())
    assert island_best == verification.checksum["best"]
    assert on_every_rank_equal(island_best)
    # exchanges every k generations plus the last one; migrants arrive only when there are others
    p = instance.params
    expected_exchanges = p["generations"] // p["k"] + (p["generations"] % p["k"] != 0)
    assert instance.exchanges == expected_exchanges
    migrations = comm.allreduce(instance.migrations)
    assert (migrations > 0) == (size > 1)
    # every generation is split between compute and the exchange's waiting (reduce), and the
    # final exchange's wait is reduce too: one reduce interval per generation plus that one
    assert len(timer.intervals["reduce"]) == p["generations"] + 1
    assert len(timer.intervals["compute"]) == p["generations"] + 1
    assert all(s >= 0.0 for name in timer.phases for s in timer.intervals[name])
    # the intervals do not overlap and lie inside the repetition (one clock throughout)
    assert sum(timer.totals.values()) <= timer.last - timer.started


def test_async_final_exchange_spreads_the_best_without_earlier_ones() -> None:
    # k beyond the budget: islands evolve alone, then one exchange after the last generation
    generations = 40
    instance, verification, _ = run_case(comm, "async", {"generations": generations,
                                                     "k": 10 * generations})
    assert instance.exchanges == 1
    island_best = float(instance.local_fitness().min())
    assert island_best == verification.checksum["best"] == comm.allreduce(island_best, MPI.MIN)
    # exactly the islands that were behind took the migrant: one each
    migrations = comm.allgather(instance.migrations)
    assert all(m in (0, 1) for m in migrations)
    if size > 1:
        assert sum(migrations) >= 1


def test_async_on_one_rank_is_the_sync_algorithm() -> None:
    ok = True
    if rank == 0:
        sync_case, sync_v, _ = run_case(MPI.COMM_SELF, "sync", {"function": "rosenbrock"})
        async_case, async_v, _ = run_case(MPI.COMM_SELF, "async", {"function": "rosenbrock"})
        ok = sync_v.checksum == async_v.checksum and async_case.migrations == 0
        ok &= bool(np.array_equal(sync_case.population_vectors(),
                                  async_case.population_vectors()))
    assert comm.bcast(ok, root=0)


def test_async_is_repeatable_at_a_given_rank_count() -> None:
    _, first, _ = run_case(comm, "async", {"generations": 60, "k": 7})
    _, second, _ = run_case(comm, "async", {"generations": 60, "k": 7})
    assert first.checksum == second.checksum


def test_weak_mode_scales_the_population_and_converges() -> None:
    instance, verification, _ = run_case(comm, "sync", {}, mode="weak")
    assert instance.params["population"] == Optimization.sizes["tiny"]["population"] * size
    assert verification.passed


def test_figures_of_merit_and_work() -> None:
    instance, _, _ = run_case(comm, "sync", {"generations": 10})
    p = instance.params
    foms = instance.foms(2.0)
    assert foms[0].name == "evaluations/s" and foms[0].unit == "evaluations/s"
    assert foms[0].value == p["population"] * p["generations"] / 2.0
    assert instance.work()["evaluations"] == p["population"] * p["generations"]
    assert instance.iterations == p["generations"]


# -- parameters (pure; the same on every rank) -------------------------------------------------

@pytest.mark.parametrize(("overrides", "variant", "ranks", "named"), [
    ({"population": 7}, "async", 2, "population=7"),
    ({"population": 15}, "async", 4, "population=15"),
    ({"population": 3}, "sync", 1, "population=3"),
    ({"d": 0}, "sync", 1, "d=0"),
    ({"d": -2}, "async", 1, "d=-2"),
    ({"generations": 0}, "sync", 1, "generations=0"),
    ({"function": "sphere"}, "sync", 1, "function='sphere'"),
    ({"function": "rosenbrock", "d": 1}, "sync", 1, "d=1"),
    ({"F": 2.5}, "sync", 1, "F=2.5"),
    ({"CR": 1.5}, "sync", 1, "CR=1.5"),
    ({"cost": 0}, "sync", 1, "cost=0"),
    ({"k": 0}, "async", 1, "k=0"),
    ({"seed": -1}, "sync", 1, "seed=-1"),
])
def test_bad_parameters_name_the_value(overrides: dict[str, Any], variant: str, ranks: int,
                                       named: str) -> None:
    with pytest.raises(ParameterError) as err:
        Optimization().resolve("tiny", overrides, "strong", ranks, variant)
    message = str(err.value)
    assert named in message and "\n" not in message


def test_async_population_bound_is_four_per_island() -> None:
    wl = Optimization()
    params, _ = wl.resolve("tiny", {"population": 16}, "strong", 4, "async")
    assert params["population"] == 16
    with pytest.raises(ParameterError, match=">= 16"):
        wl.resolve("tiny", {"population": 12}, "strong", 4, "async")
    # sync has one population: fewer individuals than ranks is allowed
    wl.resolve("tiny", {"population": 4}, "strong", 8, "sync")


def test_choosing_rosenbrock_picks_its_tuned_controls_unless_set() -> None:
    wl = Optimization()
    params, _ = wl.resolve("small", {"function": "rosenbrock"})
    tuned = TUNED["rosenbrock"]
    assert (params["F"], params["CR"]) == (tuned["F"], tuned["CR"])
    assert params["generations"] == tuned["generations"]["small"]
    params, _ = wl.resolve("small", {"function": "rosenbrock", "CR": "0.5", "generations": "9"})
    assert (params["F"], params["CR"], params["generations"]) == (tuned["F"], 0.5, 9)
    default, _ = wl.resolve("small")
    assert default["function"] == "rastrigin"
    assert default["CR"] == TUNED["rastrigin"]["CR"]
    assert kernel.function_id(default["function"]) == kernel.RASTRIGIN
