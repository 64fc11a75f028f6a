"""Population exchange for the optimization workload: who owns which individuals, and how
fitness and migrants cross ranks.

``sync``: the population is split into contiguous blocks (:mod:`harness.decomposition.blocks`);
every rank evaluates the trials of its block and :func:`allgather_blocks` (in-place
``Allgatherv``) gives every rank the whole trial fitness each generation, so selection happens
everywhere on identical data. ``async``: each rank's block is an island; every k generations
:class:`BestExchange` posts an ``Iallgather`` of the islands' best individuals, the generations
go on, and the exchange is completed with ``Wait`` at the next exchange point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.decomposition.blocks import block_offsets, block_range, block_sizes


@dataclass(frozen=True)
class PopulationBlocks:
    """Block distribution of ``population`` individuals over ``ranks``; this rank owns
    individuals ``[start, stop)``. ``counts`` and ``displs`` are the ``Allgatherv`` layout."""

    population: int
    ranks: int
    rank: int
    start: int
    stop: int
    counts: tuple[int, ...]
    displs: tuple[int, ...]

    @property
    def local(self) -> int:
        """Number of individuals this rank owns."""
        return self.stop - self.start


def population_blocks(population: int, ranks: int, rank: int) -> PopulationBlocks:
    """The block of ``population`` individuals that ``rank`` of ``ranks`` owns (pure ints).

    Raises
    ------
    ValueError
        When ``ranks < 1``, ``population < 0`` or ``rank`` is outside ``[0, ranks)``.
    """
    start, stop = block_range(population, ranks, rank)
    return PopulationBlocks(population, ranks, rank, start, stop,
                            tuple(block_sizes(population, ranks)),
                            tuple(block_offsets(population, ranks)))


def blocks_of(comm: Any, population: int) -> PopulationBlocks:
    """:func:`population_blocks` for this rank of ``comm``."""
    return population_blocks(population, comm.Get_size(), comm.Get_rank())


def allgather_blocks(comm: Any, values: np.ndarray, blocks: PopulationBlocks) -> None:
    """Complete ``values`` (one float64 per individual) on every rank, in place.

    Each rank has filled its own block ``values[start:stop]``; afterwards every rank holds
    every block. Blocking (``Allgatherv`` with ``MPI.IN_PLACE``).
    """
    from mpi4py import MPI

    comm.Allgatherv(MPI.IN_PLACE, [values, blocks.counts, blocks.displs, MPI.DOUBLE])


def gather_population(comm: Any, local: np.ndarray, blocks: PopulationBlocks) -> np.ndarray:
    """The whole population's values in global index order, on every rank.

    ``local`` holds this rank's block: shape ``(local,)`` or ``(local, d)``; the result has
    ``population`` rows.
    """
    from mpi4py import MPI

    local = np.ascontiguousarray(local, dtype=np.float64)
    width = 1 if local.ndim == 1 else local.shape[1]
    out = np.empty((blocks.population, *local.shape[1:]), dtype=np.float64)
    counts = [c * width for c in blocks.counts]
    displs = [o * width for o in blocks.displs]
    comm.Allgatherv(local, [out, counts, displs, MPI.DOUBLE])
    return out


class BestExchange:
    """Non-blocking exchange of each island's best individual among all ranks.

    :meth:`post` copies ``(fitness, x)`` into a send buffer and starts an ``Iallgather``;
    :meth:`poll` lets the library progress it between generations; :meth:`wait` completes it
    and returns one row per rank, ``[fitness, x_0, …, x_{d−1}]``. At most one exchange is in
    flight: a rank's send buffer stays untouched until its exchange completes.
    """

    def __init__(self, comm: Any, d: int):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = comm
        self.send = np.empty(d + 1, dtype=np.float64)
        self.recv = np.empty((comm.Get_size(), d + 1), dtype=np.float64)
        self.request: Any = None

    @property
    def pending(self) -> bool:
        """True while an exchange is posted and not yet completed by :meth:`wait`."""
        return self.request is not None

    def post(self, fitness: float, x: np.ndarray) -> None:
        """Start exchanging this island's best ``(fitness, x)``.

        Raises
        ------
        RuntimeError
            When an exchange is still pending.
        """
        if self.request is not None:
            raise RuntimeError("an exchange of island bests is still pending; wait() first")
        self.send[0] = fitness
        self.send[1:] = x
        self.request = self.comm.Iallgather(self.send, self.recv)

    def poll(self) -> None:
        """Drive the pending exchange (``MPI_Test``) without blocking."""
        if self.request is not None:
            self.request.Test()

    def wait(self) -> np.ndarray:
        """Complete the pending exchange; return the bests, one row per rank (a copy).

        Raises
        ------
        RuntimeError
            When nothing is pending.
        """
        if self.request is None:
            raise RuntimeError("no exchange of island bests is pending")
        self.request.Wait()
        self.request = None
        return self.recv.copy()
