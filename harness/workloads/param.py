"""``param``: the parameter-study family — communication-bound distribution of uneven cases.

A grid of ``cases`` damped driven linear oscillators (``kernels/param.py``), each integrated with
RK4 over the same horizon in ``⌊steps·ω + ½⌋`` steps, so the most expensive case costs
``spread`` times the cheapest and the cost grows along the case order. Each case yields
(x(T), v(T), ∫₀ᵀ x dt); all rows end on rank 0 in case order.

Variants (``harness/decomposition/scheduling.py``): ``static`` — contiguous blocks per rank, one
``Gatherv`` at the end (the imbalance shows as waiting in the gather); ``dynamic`` — rank 0 hands
out chunks of ``chunk`` cases on request and collects the rows (with one rank, rank 0 computes
them itself). Phases: ``compute`` (the integration), ``distribute`` (sends, receives, gather,
waiting included).

Verification, on rank 0 and broadcast: every case lands exactly once and matches the closed form
to ``(T/steps)⁴ + 1e-12`` in the norm |RK4 − exact| / (1 + |exact|), maximum over cases and the
three results. T/steps is ω·dt, the same for every case; RK4's global error measures about
0.3·(ω·dt)⁴ on this grid for any spread up to 64, and the 1e-12 covers round-off at very
large ``steps``. The checksum (sum and 2-norm of all results in case order) does not depend on
the rank count or the variant: every row is computed by the same arithmetic whoever computes it.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.decomposition import scheduling
from harness.decomposition.blocks import block_range, check_ranks
from harness.errors import ParameterError
from harness.timing import PhaseTimer
from harness.workloads.base import FOM, Instance, Param, PhaseCost, Verification, Workload
from kernels import param as kernel

ROUNDOFF = 1e-12
MAX_SPREAD = 64.0
#: Gatherv counts are C ints: cases × 3 results must stay below 2³¹
MAX_CASES = (2**31 - 1) // kernel.RESULTS
#: RK4 steps of the cheapest case below which ω·dt nears RK4's stability limit (≈2.8 / 3.7 for
#: the fast root of the ζ = 2 cases)
MIN_STEPS = 20
#: one RK4 step of ``kernels.param.integrate``: 61 additions and multiplications and three
#: cosines (the drive at t, t + dt/2, t + dt), each counted as one
FLOPS_PER_STEP = 64
#: memory per case: the case's ω, ζ, Ω and step count written and read back (64 B), its three
#: results written (24 B); the integration itself runs in registers
BYTES_PER_CASE = 88


def tolerance(steps: int) -> float:
    """Verification bound for ``steps`` base steps: (T/steps)⁴ + round-off (module docstring)."""
    return (kernel.HORIZON / steps) ** 4 + ROUNDOFF


class ParameterStudy(Workload):
    name = "param"
    description = "RK4 parameter sweep of damped driven oscillators, uneven cost (communication)"
    variants = ("static", "dynamic")
    deterministic_variants = ("static", "dynamic")
    fixed_work = ("cases", "rk4_steps")
    phases = ("compute", "distribute")
    params = (
        Param("cases", int, "number of grid cases, > 0", positive=True),
        Param("steps", int, f"RK4 steps of the cheapest case, >= {MIN_STEPS}",
              minimum=MIN_STEPS),
        Param("chunk", int, "cases per request in the dynamic variant, > 0", positive=True),
        Param("spread", float,
              f"cost of the dearest case over the cheapest, in [1, {MAX_SPREAD:g}]", minimum=1.0),
    )
    sizes = {
        "tiny": {"cases": 400, "steps": 100, "chunk": 8, "spread": 4.0},
        "small": {"cases": 8_000, "steps": 100, "chunk": 16, "spread": 4.0},
        "medium": {"cases": 80_000, "steps": 100, "chunk": 32, "spread": 4.0},
        # 2·10⁶ rows of 3 doubles: 48 MB of results, well past L2
        "large": {"cases": 2_000_000, "steps": 64, "chunk": 128, "spread": 4.0},
    }

    def weak_scale(self, params: dict[str, Any], ranks: int) -> dict[str, Any]:
        scaled = dict(params)
        scaled["cases"] = params["cases"] * ranks
        return scaled

    def validate(self, params: dict[str, Any], variant: str, ranks: int) -> None:
        if params["spread"] > MAX_SPREAD:
            raise ParameterError(
                f"spread={params['spread']} must be in [1, {MAX_SPREAD:g}] (cost of the dearest "
                "case over the cheapest; the stated tolerance was checked up to that)"
            )
        if params["cases"] > MAX_CASES:
            raise ParameterError(
                f"cases={params['cases']} must be <= {MAX_CASES} (the gather counts "
                f"{kernel.RESULTS} values per case in a C int)"
            )

    def memory_per_rank(self, params: dict[str, Any], variant: str, ranks: int,
                        rank: int = 0) -> int:
        """Bytes of the result rows a rank holds (float64, ``RESULTS`` per case): every case on
        rank 0; the rank's block (``static``) or one chunk and its header (``dynamic``)
        elsewhere."""
        width = 8 * kernel.RESULTS
        if rank == scheduling.ROOT:
            return width * params["cases"]
        if variant == "static":
            start, stop = block_range(params["cases"], ranks, rank)
            return width * (stop - start)
        return width * params["chunk"] + 8 * scheduling.HEADER

    def costs(self, params: dict[str, Any], variant: str, ranks: int) -> dict[str, PhaseCost]:
        """Per repetition, for the busiest rank of each phase. Items are RK4 steps (the FOM's
        unit; cases differ in cost), :data:`FLOPS_PER_STEP` flops each, :data:`BYTES_PER_CASE`
        bytes per case.

        ``compute``: ``static``: the block of :func:`~harness.decomposition.blocks.block_range`
        with the most RK4 steps (cost grows along the case order, so usually the last).
        ``dynamic`` at p ≥ 2 (rank 0 manages and computes nothing): the workers' lower bound
        max(W/(p − 1), the dearest chunk), W the grid's steps — who gets which chunk depends on
        timing; at one rank, rank 0 computes every chunk.
        ``distribute`` (``serial``: every row ends on rank 0): ``static``: one ``Gatherv`` of
        the 24·cases result bytes to rank 0. ``dynamic`` at p ≥ 2: the manager, through which
        every message passes, receives a request per chunk plus each worker's first (16 B of
        header; all but the first carry their chunk's rows, 24 B a case) and sends a reply per
        request (16 B): 2·(chunks + p − 1) messages sent and received, the same as the run's
        ``work["messages"]``, with p − 1 neighbours.

        Raises
        ------
        ValueError
            When ``ranks < 1``.
        """
        check_ranks(ranks)
        cases, chunk = params["cases"], max(1, min(params["chunk"], params["cases"]))
        prefix = _step_prefix(cases, params["steps"], params["spread"])
        chunks = -(-cases // chunk)
        results = 8 * kernel.RESULTS * cases
        if variant == "static":
            bounds = [block_range(cases, ranks, r) for r in range(ranks)]
            busiest = max(bounds, key=lambda b: (prefix(b[1]) - prefix(b[0]), b[1] - b[0]))
            steps, mine = prefix(busiest[1]) - prefix(busiest[0]), busiest[1] - busiest[0]
            distribute = PhaseCost(reductions=1, reduction_bytes=results, serial=True)
        elif ranks == 1:
            steps, mine = prefix(cases), cases
            distribute = PhaseCost(serial=True)
        else:
            # steps never decrease along the case order: the dearest chunk is the last full
            # one or the (shorter) last one
            last = (chunks - 1) * chunk
            dearest = max(prefix(cases) - prefix(last),
                          prefix(cases // chunk * chunk) - prefix(cases // chunk * chunk - chunk))
            steps = max(prefix(cases) / (ranks - 1), dearest)
            mine = cases / (ranks - 1)
            requests = chunks + ranks - 1
            distribute = PhaseCost(messages=2 * requests,
                                   message_bytes=2 * 8 * scheduling.HEADER * requests + results,
                                   neighbours=ranks - 1, serial=True)
        compute = PhaseCost(items=steps, flops=FLOPS_PER_STEP * steps, bytes=BYTES_PER_CASE * mine)
        return {"compute": compute, "distribute": distribute}

    def precompile(self) -> None:
        kernel.precompile()

    def setup(self, comm: Any, params: dict[str, Any], variant: str, workdir: Path) -> Instance:
        """The instance, on a duplicate of ``comm`` that its :meth:`~Instance.close` frees: the
        manager–worker messages' fixed tags then never meet another library's. Collective."""
        return ParameterStudyInstance(comm.Dup(), params, variant)


def level_steps(cases: int, steps: int, spread: float) -> np.ndarray:
    """RK4 steps of one case at each ω level of the grid (int64, shape (levels,)): the
    arithmetic of ``kernels.param.fill_grid``, one entry per level instead of per case."""
    per_level = len(kernel.DAMPING) * len(kernel.RATIOS)
    levels = -(-cases // per_level)
    level = np.arange(levels, dtype=np.float64)
    w = 1.0 + (spread - 1.0) * level / (levels - 1) if levels > 1 else np.ones(1)
    return np.maximum(1, np.floor(steps * w + 0.5)).astype(np.int64)


def _step_prefix(cases: int, steps: int, spread: float):
    """``prefix(k)``: RK4 steps of cases [0, k), in O(1) per call after O(levels) set-up."""
    per_level = len(kernel.DAMPING) * len(kernel.RATIOS)
    each = level_steps(cases, steps, spread)
    before = np.concatenate(([0], np.cumsum(each * per_level)))

    def prefix(k: int) -> int:
        level, within = divmod(k, per_level)
        partial = int(each[level]) * within if within else 0
        return int(before[level]) + partial

    return prefix


class ParameterStudyInstance(Instance):
    def __init__(self, comm: Any, params: dict[str, Any], variant: str):
        self.comm = comm
        self.params = params
        self.variant = variant
        self.cases = params["cases"]
        self.iterations = self.cases
        self.is_root = comm.Get_rank() == scheduling.ROOT
        # the ordered results live on rank 0 only
        self.results = np.full((self.cases, kernel.RESULTS), np.nan) if self.is_root else None
        self.tally = scheduling.Tally()
        self.steps_done = 0

    def solve(self, start: int, stop: int, out: np.ndarray) -> None:
        """Integrate cases [start, stop) into ``out``: the compute the schedules call."""
        p = self.params
        self.steps_done += kernel.solve_range(start, stop, self.cases, p["steps"], p["spread"],
                                              out)

    def reset(self) -> None:
        if self.results is not None:
            self.results.fill(np.nan)
        self.tally = scheduling.Tally()
        self.steps_done = 0

    def run(self, timer: PhaseTimer) -> None:
        width = kernel.RESULTS
        if self.variant == "static":
            self.tally = scheduling.static_schedule(self.comm, self.cases, width, self.results,
                                                    self.solve, timer)
        else:
            self.tally = scheduling.dynamic_schedule(self.comm, self.cases, width,
                                                     self.params["chunk"], self.results,
                                                     self.solve, timer)

    def close(self) -> None:
        self.comm.Free()

    def verify(self) -> Verification:
        p = self.params
        # [error, sum, l2, cases received exactly once]
        summary = np.zeros(4)
        if self.results is not None and self.tally.received is not None:
            exact = kernel.exact_range(0, self.cases, self.cases, p["steps"], p["spread"])
            deviation = np.abs(self.results - exact) / (1.0 + np.abs(exact))
            # NaN (a row never filled) must fail, so take the max with NaN propagating
            summary[0] = float(np.max(deviation))
            summary[1] = float(np.sum(self.results))
            summary[2] = float(np.sqrt(np.sum(self.results * self.results)))
            summary[3] = float(np.count_nonzero(self.tally.received == 1))
        scheduling.broadcast_from_root(self.comm, summary)
        error, total, l2, once = summary
        tol = tolerance(p["steps"])
        complete = int(once) == self.cases
        passed = complete and math.isfinite(error) and error <= tol and math.isfinite(l2)
        return Verification(
            passed=bool(passed),
            method=f"closed form of every case (RK4 error bound (T/steps)^4 + {ROUNDOFF:g}, "
                   "|RK4 - exact| / (1 + |exact|), max over cases of x(T), v(T), int x dt); "
                   "each case received exactly once "
                   f"({int(once)}/{self.cases}); checksum of all results in case order",
            checksum={"sum": float(total), "l2": float(l2)},
            error=float(error) if complete else math.inf,
            tolerance=tol,
        )

    def rk4_steps(self) -> int:
        p = self.params
        return kernel.total_steps(self.cases, p["steps"], p["spread"])

    def foms(self, seconds: float, phases: dict[str, dict[str, float]] | None = None
             ) -> list[FOM]:
        if seconds <= 0:
            return [FOM("cases/s", "cases/s", math.nan), FOM("RK4 steps/s", "steps/s", math.nan)]
        return [FOM("cases/s", "cases/s", self.cases / seconds),
                FOM("RK4 steps/s", "steps/s", self.rk4_steps() / seconds)]

    def work(self) -> dict[str, Any]:
        p = self.params
        size = self.comm.Get_size()
        chunks = math.ceil(self.cases / max(1, min(p["chunk"], self.cases)))
        if self.variant == "dynamic":
            # each worker's first request and its stop, plus one request and one reply per chunk
            messages = 0 if size == 1 else 2 * (chunks + size - 1)
        else:
            messages = size - 1  # one Gatherv contribution per non-root rank
        return {"cases": self.cases, "rk4_steps": self.rk4_steps(),
                "results_per_case": kernel.RESULTS,
                "result_bytes": self.cases * kernel.RESULTS * 8,
                "messages": messages, "spread": p["spread"]}
