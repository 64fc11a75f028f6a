"""``calibrate``: a workload whose serial fraction is known, to check the analyzer against.

Rank 0 does ``serial`` seconds of real work (a dependent floating-point chain, not a sleep)
while the other ranks wait for it; then the ranks share ``parallel`` seconds of perfectly
parallel work. The seconds are turned into iteration counts once, in the untimed setup, from
rank 0's measured rate, so every rank count runs the same work. At 1 rank a repetition takes
s + W; at p ranks s + W/p; Amdahl's serial fraction is f = s / (s + W) (weak mode: W per rank).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness.decomposition import collectives
from harness.decomposition.blocks import block_range
from harness.timing import PhaseTimer, wtime
from harness.workloads.base import FOM, Case, Param, Verification, Workload
from kernels import calibrate as kernel

RATE_PROBE_SECONDS = 0.05
PROBE_ITERATIONS = 50  # short enough that the chain is still far from its fixed point
PROBE_START = 100.0
TOLERANCE = 1e-12


class Calibrate(Workload):
    name = "calibrate"
    description = "known serial fraction: rank 0 serial work, then shared parallel work"
    variants = ("amdahl",)
    #: the iteration counts come from a measured rate, so the checksum varies between runs
    deterministic_variants = ()
    phases = ("serial", "compute")
    params = (
        Param("serial", float, "seconds of serial work on rank 0 per repetition", minimum=0.0),
        Param("parallel", float, "seconds of parallel work per repetition at 1 rank (weak "
              "mode: per rank)", positive=True),
    )
    sizes = {
        "tiny": {"serial": 0.01, "parallel": 0.04},
        "small": {"serial": 0.05, "parallel": 0.2},
        "medium": {"serial": 0.2, "parallel": 0.8},
        "large": {"serial": 1.0, "parallel": 4.0},
    }

    def weak_scale(self, params: dict[str, Any], ranks: int) -> dict[str, Any]:
        return {**params, "parallel": params["parallel"] * ranks}

    def memory_per_rank(self, params: dict[str, Any], variant: str, ranks: int,
                        rank: int = 0) -> int:
        """Nothing beyond scalars: the spin kernel works in registers."""
        return 0

    def precompile(self) -> None:
        kernel.precompile()

    def setup(self, comm: Any, params: dict[str, Any], variant: str, workdir: Path) -> Case:
        return CalibrateCase(comm, params)


def measure_rate(seconds: float = RATE_PROBE_SECONDS) -> float:
    """Iterations per second of the chain on this core, doubling the count until it takes
    at least ``seconds``."""
    iterations = 1 << 16
    while True:
        start = wtime()
        kernel.spin(iterations, 1.0)
        elapsed = wtime() - start
        if elapsed >= seconds:
            return iterations / elapsed
        iterations *= 2


class CalibrateCase(Case):
    def __init__(self, comm: Any, params: dict[str, Any]):
        self.comm = comm
        rank, size = comm.Get_rank(), comm.Get_size()
        rate = collectives.broadcast(comm, measure_rate() if rank == 0 else None)
        self.serial_iterations = round(params["serial"] * rate)
        self.parallel_iterations = round(params["parallel"] * rate)
        start, stop = block_range(self.parallel_iterations, size, rank)
        self.share = stop - start
        self.rate = rate
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
                "rate_per_core": self.rate,
                "expected_serial_fraction":
                    self.serial_iterations / max(self.iterations, 1)}
