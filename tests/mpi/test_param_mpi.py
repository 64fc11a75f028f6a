"""The parameter study under MPI: same results at any rank count and either schedule.

Run inside ``mpiexec -n N`` (N = 1…4); every assertion holds at any N. Rank 0 compares against a
serial run of its own on ``COMM_SELF``.
"""

from __future__ import annotations

import math
from typing import Any

import casetools
import numpy as np
import pytest
from mpi4py import MPI

from harness.decomposition.blocks import block_range
from harness.errors import ParameterError
from harness.timing import PhaseTimer
from harness.workloads.param import ParameterStudy
from kernels import param as kernel

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


def run_case(on: Any, variant: str, overrides: dict[str, Any], mode: str = "strong",
             reps: int = 1) -> tuple[Any, Any, PhaseTimer]:
    """Build, run ``reps`` repetitions and verify on communicator ``on``."""
    return casetools.run_case("param", on, variant, overrides, mode, reps, close=False)


def serial(variant: str, overrides: dict[str, Any]) -> tuple[np.ndarray, dict[str, float]]:
    """Rank 0's own serial run: the ordered results and the checksum."""
    instance, verification, _ = run_case(MPI.COMM_SELF, variant, overrides)
    assert verification.passed
    return instance.results.copy(), verification.checksum


SHAPES = [
    {},                                     # tiny: 400 cases, chunk 8
    {"cases": 37, "chunk": 5, "steps": 30},  # chunks that do not divide the cases
    {"cases": 10, "chunk": 50},             # chunk > cases
    {"cases": 2, "chunk": 1},               # fewer cases than ranks at 3-4 ranks
    {"cases": 1},
]


@pytest.mark.parametrize("variant", ["static", "dynamic"])
@pytest.mark.parametrize("overrides", SHAPES, ids=lambda o: ",".join(f"{k}={v}" for k, v in
                                                                     o.items()) or "tiny")
def test_results_and_checksum_equal_serial(variant: str, overrides: dict[str, Any]) -> None:
    instance, verification, _ = run_case(comm, variant, overrides)
    assert verification.passed, verification
    # the same verification on every rank
    everyone = comm.allgather(verification.to_dict())
    assert all(v == everyone[0] for v in everyone)
    agree = True
    if rank == 0:
        for reference_variant in ("static", "dynamic"):
            results, checksum = serial(reference_variant, overrides)
            agree &= bool(np.array_equal(instance.results, results))
            agree &= verification.checksum == checksum
        # and the checksum really is the sum and 2-norm of the rows in case order
        agree &= math.isclose(verification.checksum["sum"], float(np.sum(instance.results)),
                              rel_tol=1e-12)
    assert comm.bcast(agree, root=0)


@pytest.mark.parametrize("overrides", [*SHAPES[1:], {"cases": 400, "chunk": 3}],
                         ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()))
def test_dynamic_computes_every_case_exactly_once(overrides: dict[str, Any]) -> None:
    instance, verification, timer = run_case(comm, "dynamic", overrides, reps=2)
    assert verification.passed
    p = instance.params
    cases, chunk = p["cases"], min(p["chunk"], p["cases"])
    computed = comm.allreduce(instance.tally.computed)
    chunks = comm.allreduce(instance.tally.chunks)
    steps = comm.allreduce(instance.steps_done)
    assert computed == cases
    assert chunks == math.ceil(cases / chunk)
    assert steps == kernel.total_steps(cases, p["steps"], p["spread"])
    ok = True
    if rank == 0:
        ok = bool(np.all(instance.tally.received == 1)) and not np.isnan(instance.results).any()
    assert comm.bcast(ok, root=0)
    if size > 1:
        # the manager only distributes; every worker's time is split between the two phases
        if rank == 0:
            assert instance.tally.computed == 0 and timer.totals["compute"] == 0.0
        assert timer.totals["distribute"] > 0.0


def test_static_blocks_are_contiguous_and_complete() -> None:
    instance, verification, _ = run_case(comm, "static", {"cases": 53})
    assert verification.passed
    start, stop = block_range(53, size, rank)
    assert instance.tally.computed == stop - start
    assert comm.allreduce(instance.tally.computed) == 53
    ok = True
    if rank == 0:
        ok = bool(np.all(instance.tally.received == 1))
    assert comm.bcast(ok, root=0)


def test_verification_fails_when_a_row_is_missing() -> None:
    """A row that never reached rank 0 (still NaN) must fail, on every rank."""
    instance, _, _ = run_case(comm, "dynamic", {"cases": 20, "chunk": 4})
    if rank == 0:
        instance.results[7] = np.nan
    verification = instance.verify()
    assert not verification.passed
    assert comm.allreduce(int(verification.passed)) == 0


def test_verification_fails_on_a_wrong_result() -> None:
    instance, _, _ = run_case(comm, "static", {"cases": 20})
    if rank == 0:
        instance.results[3, 1] += 1e-2
    verification = instance.verify()
    assert not verification.passed
    assert verification.error > verification.tolerance


def test_weak_mode_scales_cases_with_ranks() -> None:
    params, _ = ParameterStudy().resolve("tiny", {"cases": 30}, "weak", size, "dynamic")
    assert params["cases"] == 30 * size


@pytest.mark.parametrize(("key", "value", "named"), [
    ("chunk", "0", "chunk=0"), ("chunk", "-3", "chunk=-3"), ("cases", "-1", "cases=-1"),
    ("cases", "0", "cases=0"), ("steps", "0", "steps=0"), ("steps", "abc", "steps='abc'"),
    ("spread", "0.5", "spread=0.5"), ("spread", "100", "spread=100"),
])
def test_bad_parameters_are_refused(key: str, value: str, named: str) -> None:
    with pytest.raises(ParameterError) as info:
        ParameterStudy().resolve("tiny", {key: value}, "strong", size, "static")
    message = str(info.value)
    assert named in message and "\n" not in message
