"""``calibrate``: a workload whose serial fraction is known, to check the analyzer against.

Rank 0 does ``serial_iterations`` steps of real work (a dependent floating-point chain, not a
sleep) while the other ranks wait for it; then the ranks share ``parallel_iterations`` steps of
perfectly parallel work. The work is fixed by the problem (the named size, or ``--set``), never
by a measured rate, so every run of a problem does exactly the same work on any machine and the
analyzer can pool runs of it. With s serial and W parallel iterations, a repetition takes time
proportional to s + W at 1 rank and s + W/p at p ranks, so Amdahl's serial fraction is
f = s / (s + W) (Amdahl 1967), known exactly before anything runs (weak mode: W per rank).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.decomposition import collectives
from harness.decomposition.blocks import block_range, check_ranks
from harness.timing import PhaseTimer
from harness.workloads.base import FOM, Instance, Param, PhaseCost, Verification, Workload
from kernels import calibrate as kernel

PROBE_ITERATIONS = 50  # short enough that the chain is still far from its fixed point
PROBE_START = 100.0
TOLERANCE = 1e-12
#: one iteration of the chain x ← √(a·x + 1): a multiplication, an addition, a square root
FLOPS_PER_ITERATION = 3


class Calibrate(Workload):
    name = "calibrate"
    description = "known serial fraction: rank 0 serial work, then shared parallel work"
    variants = ("amdahl",)
    #: the work is fixed by the problem, so the checksum (iterations done) is too
    deterministic_variants = ("amdahl",)
    fixed_work = ("serial_iterations", "parallel_iterations")
    phases = ("serial", "compute")
    params = (
        Param("serial_iterations", int, "iterations of the serial chain on rank 0 per "
              "repetition", minimum=0),
        Param("parallel_iterations", int, "iterations of parallel work per repetition, "
              "shared by the ranks (weak mode: per rank)", positive=True),
    )
    # f = 0.2 at every size; about 40 M iterations/s per core on a current x86 core
    sizes = {
        "tiny": {"serial_iterations": 400_000, "parallel_iterations": 1_600_000},
        "small": {"serial_iterations": 2_000_000, "parallel_iterations": 8_000_000},
        "medium": {"serial_iterations": 8_000_000, "parallel_iterations": 32_000_000},
        "large": {"serial_iterations": 40_000_000, "parallel_iterations": 160_000_000},
    }

    def weak_scale(self, params: dict[str, Any], ranks: int) -> dict[str, Any]:
        return {**params, "parallel_iterations": params["parallel_iterations"] * ranks}

    def memory_per_rank(self, params: dict[str, Any], variant: str, ranks: int,
                        rank: int = 0) -> int:
        """Nothing beyond scalars: the spin kernel works in registers."""
        return 0

    def costs(self, params: dict[str, Any], variant: str, ranks: int) -> dict[str, PhaseCost]:
        """Per repetition, for rank 0 (which does the serial chain and the largest parallel
        share). Items are chain iterations; 3 flops each (:data:`FLOPS_PER_ITERATION`, the
        square root counted as one) and no memory traffic (the chain lives in registers).

        ``serial``: ``serial_iterations`` on rank 0 at any rank count (``serial`` = True), then
        one broadcast of an empty object (``None``, 0 bytes) that the other ranks wait in.
        ``compute``: rank 0's block ⌈W/p⌉ of the W = ``parallel_iterations``.

        Raises
        ------
        ValueError
            When ``ranks < 1``.
        """
        check_ranks(ranks)
        serial = params["serial_iterations"]
        start, stop = block_range(params["parallel_iterations"], ranks, 0)
        share = stop - start
        return {
            "serial": PhaseCost(items=serial, flops=FLOPS_PER_ITERATION * serial,
                                reductions=1, serial=True),
            "compute": PhaseCost(items=share, flops=FLOPS_PER_ITERATION * share),
        }

    def precompile(self) -> None:
        kernel.precompile()

    def setup(self, comm: Any, params: dict[str, Any], variant: str, workdir: Path) -> Instance:
        """The instance, on a duplicate of ``comm`` that its :meth:`~Instance.close` frees.
        Collective."""
        return CalibrateInstance(comm.Dup(), params)


class CalibrateInstance(Instance):
    def __init__(self, comm: Any, params: dict[str, Any]):
        self.comm = comm
        rank, size = comm.Get_rank(), comm.Get_size()
        self.serial_iterations = int(params["serial_iterations"])
        self.parallel_iterations = int(params["parallel_iterations"])
        start, stop = block_range(self.parallel_iterations, size, rank)
        self.share = stop - start
        self.iterations = self.serial_iterations + self.parallel_iterations
        self.done = 0
        self.value = math.nan

    def reset(self) -> None:
        self.done = 0
        self.value = math.nan

    def run(self, timer: PhaseTimer) -> None:
        rank = self.comm.Get_rank()
        with timer("serial"):
            if rank == 0:
                self.value = kernel.spin(self.serial_iterations, 1.0)
                self.done += self.serial_iterations
            # everyone waits for the serial part, as in Amdahl's model
            collectives.broadcast(self.comm, None)
        with timer("compute"):
            self.value = kernel.spin(self.share, 1.0 if math.isnan(self.value) else self.value)
            self.done += self.share

    def close(self) -> None:
        self.comm.Free()

    def verify(self) -> Verification:
        # 1. the kernel computes the chain it claims to: bitwise against plain Python, from a
        #    start that has not converged yet; 2. every planned iteration was done exactly once
        #    (serial on rank 0, the parallel share split without gaps or overlap); 3. each
        #    rank's chain ended at the fixed point
        probe = kernel.spin(PROBE_ITERATIONS, PROBE_START)
        kernel_error = abs(probe - kernel.spin_reference(PROBE_ITERATIONS, PROBE_START))
        total = collectives.allreduce_sum(self.comm, self.done)
        expected = self.serial_iterations + self.parallel_iterations
        value_error = abs(self.value - kernel.fixed_point()) if self.done else 0.0
        worst = collectives.allreduce_max(self.comm, max(kernel_error, value_error))
        missing = abs(total - expected)
        passed = missing == 0 and worst <= TOLERANCE
        return Verification(
            passed=bool(passed),
            method="kernel bitwise against a plain-Python chain; iterations done across ranks "
                   "== planned serial + parallel; each chain at its fixed point",
            checksum={"iterations": float(total)},
            error=float(worst if missing == 0 else missing),
            tolerance=TOLERANCE,
        )

    def foms(self, seconds: float, phases: dict[str, dict[str, float]] | None = None
             ) -> list[FOM]:
        return [FOM("iterations/s", "iterations/s", self.iterations / seconds)]

    def work(self) -> dict[str, Any]:
        return {"serial_iterations": self.serial_iterations,
                "parallel_iterations": self.parallel_iterations,
                "expected_serial_fraction":
                    self.serial_iterations / max(self.iterations, 1)}
