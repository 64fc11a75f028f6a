"""Every workload's ``costs()`` against the messages, bytes and collectives counted in a run.

Run inside ``mpiexec -n N`` (N = 1…4). Each test builds a tiny instance on a counting communicator
(``tests/commcount.py``), runs one untimed repetition, then counts a second one per phase on
every rank, and compares the busiest rank's counts (the maximum over ranks of each count) with
what the workload states from its parameters alone: exactly where the schedule is fixed, within
bounds where it depends on timing (the ``dynamic`` parameter study's workers).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from commcount import UNTIMED, CountingTimer, counting
from mpi4py import MPI

from harness import workloads
from harness.workloads import fea_costs
from kernels import param as param_kernel

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()

#: call sites of the communication that workloads time by hand (``timer.add``)
SITES = {
    "cfd": {"HaloExchange.start": "halo", "HaloExchange.finish": "halo",
            "allreduce_max": "reduce"},
    "fea": {"HaloExchange.exchange": "halo", "exact_total": "reduce"},
    "opt": {"allgather_blocks": "reduce", "BestExchange.post": "reduce"},
    "param": {},
    "calibrate": {},
}


def measure(name: str, variant: str, overrides: dict[str, Any]
            ) -> tuple[Any, dict[str, Any], list[dict[str, dict[str, int]]], Path]:
    """Run two repetitions of a tiny instance, counting the second; returns the instance, its
    parameters, every rank's counts ``{phase: {field: n}}`` and the shared work directory
    (the caller removes it)."""
    wl = workloads.get(name)
    params, variant = wl.resolve("tiny", overrides, "strong", size, variant)
    wl.precompile()
    workdir = Path(comm.bcast(tempfile.mkdtemp(prefix="costs-") if rank == 0 else None))
    counted, counter = counting(comm, SITES[name])
    instance = wl.setup(counted, params, variant, workdir)
    timer = CountingTimer(wl.phases, counter)
    instance.reset()
    instance.run(timer)
    instance.reset()
    counter.reset()
    instance.run(timer)
    mine = {phase: {"sent": c.sent, "sent_bytes": c.sent_bytes, "received": c.received,
                    "received_bytes": c.received_bytes, "peers": len(c.peers),
                    "collectives": c.collectives, "collective_bytes": c.collective_bytes}
            for phase, c in counter.counts.items()}
    comm.Barrier()
    return instance, params, comm.allgather(mine), workdir


def busiest(counts: list[dict[str, dict[str, int]]], phase: str, key: str) -> int:
    return max(c.get(phase, {}).get(key, 0) for c in counts)


def check_counted(name: str, variant: str, params: dict[str, Any], counts: list[dict],
                  costs: dict[str, Any], symmetric: bool = True) -> None:
    """Every phase's counted messages and collectives equal the stated ones (busiest rank)."""
    wl = workloads.get(name)
    assert all(UNTIMED not in c for c in counts), counts  # nothing outside a phase
    assert set().union(*counts) <= set(wl.phases)
    for phase in wl.phases:
        cost = costs[phase]
        got = {key: busiest(counts, phase, key) for key in
               ("sent", "sent_bytes", "peers", "collectives", "collective_bytes")}
        want = {"sent": cost.messages, "sent_bytes": cost.message_bytes,
                "peers": cost.neighbours, "collectives": cost.reductions,
                "collective_bytes": cost.reduction_bytes}
        assert got == want, (name, variant, phase, got, want)
        if symmetric:  # halo exchanges: each rank receives what it sends
            for c in counts:
                mine = c.get(phase, {})
                assert mine.get("received", 0) == mine.get("sent", 0), (phase, c)
                assert mine.get("received_bytes", 0) == mine.get("sent_bytes", 0), (phase, c)


def finish(instance: Any, workdir: Path) -> None:
    instance.close()
    comm.Barrier()
    if rank == 0:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("variant", ["blocking", "overlap"])
@pytest.mark.parametrize("overrides", [{}, {"n": 63, "steps": 23, "residual_every": 7},
                                       {"residual_every": 0, "steps": 5}],
                         ids=["tiny", "uneven", "no-residual"])
def test_cfd_counts(variant: str, overrides: dict[str, Any]) -> None:
    instance, params, counts, workdir = measure("cfd", variant, overrides)
    costs = workloads.get("cfd").costs(params, variant, size)
    finish(instance, workdir)
    check_counted("cfd", variant, params, counts, costs)


@pytest.mark.parametrize("variant", ["gather", "per-rank", "mpiio"])
def test_fea_counts_and_files(variant: str) -> None:
    instance, params, counts, workdir = measure("fea", variant, {"n": 9, "cases": 3})
    iterations = list(instance.load_case_iterations)
    assert comm.allgather(iterations) == [iterations] * size
    costs = fea_costs.phase_costs(params, variant, size, iterations)
    files = {p.name: p.stat().st_size for p in workdir.iterdir()} if rank == 0 else None
    own = 8 * instance.layout.rows * params["cases"]  # what rank 0 hands to be written
    finish(instance, workdir)
    check_counted("fea", variant, params, counts, costs)
    if rank == 0:
        io = costs["io"].io_bytes
        assert sum(files.values()) == 8 * (params["n"] - 1) ** 3 * params["cases"]
        if variant == "per-rank":
            assert io == own == sum(n for f, n in files.items() if f.endswith("-rank00000.f64"))
        elif variant == "gather":
            assert io == sum(files.values())
        else:
            assert io == own


@pytest.mark.parametrize("variant,overrides", [
    ("sync", {}), ("sync", {"population": 37, "generations": 13}),
    ("async", {}), ("async", {"generations": 25, "k": 10}),
    ("async", {"generations": 7, "k": 7}),
])
def test_opt_counts(variant: str, overrides: dict[str, Any]) -> None:
    instance, params, counts, workdir = measure("opt", variant, overrides)
    exchanges = instance.exchanges
    costs = workloads.get("opt").costs(params, variant, size)
    finish(instance, workdir)
    check_counted("opt", variant, params, counts, costs)
    if variant == "async":
        assert costs["reduce"].reductions == exchanges


@pytest.mark.parametrize("overrides", [{}, {"cases": 37, "chunk": 5, "steps": 30},
                                       {"cases": 2, "chunk": 1}])
def test_param_static_counts(overrides: dict[str, Any]) -> None:
    instance, params, counts, workdir = measure("param", "static", overrides)
    steps = comm.allgather(instance.steps_done)
    costs = workloads.get("param").costs(params, "static", size)
    finish(instance, workdir)
    check_counted("param", "static", params, counts, costs)
    assert costs["compute"].items == max(steps)


@pytest.mark.parametrize("overrides", [{}, {"cases": 37, "chunk": 5, "steps": 30},
                                       {"cases": 2, "chunk": 1}])
def test_param_dynamic_manager_counts_and_worker_bounds(overrides: dict[str, Any]) -> None:
    instance, params, counts, workdir = measure("param", "dynamic", overrides)
    steps = comm.allgather(instance.steps_done)
    costs = workloads.get("param").costs(params, "dynamic", size)
    finish(instance, workdir)
    manager = counts[0].get("distribute", {})
    cost = costs["distribute"]
    # the manager handles every message: those it sends and those it receives
    assert manager.get("sent", 0) + manager.get("received", 0) == cost.messages
    assert (manager.get("sent_bytes", 0) + manager.get("received_bytes", 0)
            == cost.message_bytes)
    assert manager.get("peers", 0) == cost.neighbours == size - 1
    assert all(c.get("distribute", {}).get("collectives", 0) == 0 for c in counts)
    total = sum(steps)
    assert total == param_kernel.total_steps(params["cases"], params["steps"], params["spread"])
    if size == 1:
        assert costs["compute"].items == steps[0]
    else:
        assert steps[0] == 0  # the manager computes nothing
        # who gets which chunk depends on timing: the stated load is the workers' lower bound
        assert costs["compute"].items <= max(steps[1:]) <= total


def test_calibrate_counts() -> None:
    instance, params, counts, workdir = measure("calibrate", "amdahl", {})
    done = comm.allgather(instance.done)
    costs = workloads.get("calibrate").costs(params, "amdahl", size)
    finish(instance, workdir)
    check_counted("calibrate", "amdahl", params, counts, costs)
    assert costs["serial"].items + costs["compute"].items == max(done)
