"""Phase timers on ``MPI.Wtime`` and the reductions that turn per-rank times into a record.

The timed region of a repetition is bracketed by a barrier and two ``MPI.Wtime`` reads; its
elapsed time is reduced across ranks with MAX (what the user waits for), and MIN and mean are
kept beside it. Inside the region a :class:`PhaseTimer` accumulates wall time per named phase
on each rank; after the repetitions the per-rank phase times are reduced to min/mean/max.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

# MPI is imported inside functions, not at module level: a process that only loads workloads to
# validate their parameters (a sweep, a supervising `harness run`) must not initialize MPI.


def wtime() -> float:
    """``MPI.Wtime()``. Hot loops use :attr:`PhaseTimer.clock`, bound once, instead."""
    from mpi4py import MPI

    return MPI.Wtime()


class PhaseTimer:
    """Accumulates wall seconds per phase on one rank.

    Use ``with timer("halo"): ...`` around a block, or ``timer.add("halo", seconds)`` where a
    context manager would split a non-blocking operation awkwardly. Names outside the declared
    phases are an error (a typo would otherwise vanish from the record).
    """

    def __init__(self, phases: Iterable[str]):
        from mpi4py import MPI

        #: the clock behind every phase (``MPI.Wtime``), for code that brackets phases by hand
        self.clock = MPI.Wtime
        self.phases = tuple(phases)
        self.totals = dict.fromkeys(self.phases, 0.0)

    def reset(self) -> None:
        for name in self.totals:
            self.totals[name] = 0.0

    def add(self, name: str, seconds: float) -> None:
        if name not in self.totals:
            raise KeyError(f"phase {name!r} is not one of {self.phases}")
        self.totals[name] += seconds

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        start = self.clock()
        try:
            yield
        finally:
            self.add(name, self.clock() - start)


def compiled_signatures() -> int:
    """How many Numba signatures the loaded ``kernels`` modules hold, all kernels together.

    Compared before and after the timed repetitions, it tells whether any compilation (a new
    argument type a warm-up did not see) happened inside the timed region.
    """
    import sys

    from numba.core.registry import CPUDispatcher

    total = 0
    for name, module in list(sys.modules.items()):
        if name == "kernels" or name.startswith("kernels."):
            total += sum(len(obj.signatures) for obj in vars(module).values()
                         if isinstance(obj, CPUDispatcher))
    return total


def time_repetition(comm: Any, body, timer: PhaseTimer) -> float:
    """Run ``body(timer)`` as one timed repetition on this rank and return its elapsed seconds.

    A barrier lines the ranks up first so that the clock starts together everywhere; the caller
    reduces the returned per-rank times with :func:`reduce_seconds`.
    """
    timer.reset()
    comm.Barrier()
    start = timer.clock()
    body(timer)
    return timer.clock() - start


def reduce_seconds(comm: Any, local: list[float]) -> dict[str, list[float]]:
    """Reduce per-repetition elapsed times across ranks: max (the run's time), min and mean.

    Returns the lists on every rank.
    """
    from mpi4py import MPI

    values = np.asarray(local, dtype=np.float64)
    out_max = np.empty_like(values)
    out_min = np.empty_like(values)
    out_sum = np.empty_like(values)
    comm.Allreduce(values, out_max, op=MPI.MAX)
    comm.Allreduce(values, out_min, op=MPI.MIN)
    comm.Allreduce(values, out_sum, op=MPI.SUM)
    return {
        "max": out_max.tolist(),
        "min": out_min.tolist(),
        "mean": (out_sum / comm.Get_size()).tolist(),
    }


def reduce_phases(comm: Any, phases: tuple[str, ...], per_rep: list[dict[str, float]]
                  ) -> dict[str, dict[str, float]]:
    """Reduce phase times to ``{phase: {min, mean, max}}`` in seconds per repetition.

    Each rank first averages its own phase times over the repetitions; min, mean and max are then
    taken across ranks, so ``max/mean`` of ``compute`` is the load imbalance.
    """
    from mpi4py import MPI

    reps = max(len(per_rep), 1)
    local = np.array([sum(rep[name] for rep in per_rep) / reps for name in phases],
                     dtype=np.float64)
    out_max = np.empty_like(local)
    out_min = np.empty_like(local)
    out_sum = np.empty_like(local)
    comm.Allreduce(local, out_max, op=MPI.MAX)
    comm.Allreduce(local, out_min, op=MPI.MIN)
    comm.Allreduce(local, out_sum, op=MPI.SUM)
    size = comm.Get_size()
    return {
        name: {"min": float(out_min[k]), "mean": float(out_sum[k] / size), "max": float(out_max[k])}
        for k, name in enumerate(phases)
    }
