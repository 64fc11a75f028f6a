"""Distribution of independent cases over ranks: static blocks or a manager–worker queue.

Both schedules compute results of shape ``(cases, width)`` (one row per case) and leave them, in
case order, on rank 0. The caller supplies ``solve(start, stop, out)``, which fills ``out`` (shape
``(stop − start, width)``) with the results of cases ``[start, stop)``; the schedule decides who
calls it for which range and moves the rows. Time in ``solve`` is booked under the compute phase,
time in sends, receives and the gather (waiting included) under the distribute phase.

``static``
    Rank r solves the contiguous block :func:`~harness.decomposition.blocks.block_range` of the
    cases in one call; the blocks are gathered to rank 0 with one ``Gatherv``. Uneven case costs
    show up as time the early finishers wait in the gather.
``dynamic``
    Rank 0 is the manager: it hands out chunks of ``chunk`` cases in order, one per request.
    A worker's request carries the results of its previous chunk (``[start, count, rows…]`` as
    float64, tag :data:`TAG_RESULT`); the reply is ``[start, count]`` (int64) with tag
    :data:`TAG_WORK`. Once the queue is empty and every worker has returned its last rows, all
    get :data:`TAG_STOP` together, so a worker that ran dry waits (in distribute) for the last
    one, as the early blocks of ``static`` wait in the gather. Alone (one rank), rank 0 works
    through the same chunks itself and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.decomposition.blocks import block_offsets, block_range, block_sizes

if TYPE_CHECKING:
    from harness.timing import PhaseTimer

TAG_WORK = 11
TAG_RESULT = 12
TAG_STOP = 13
ROOT = 0
#: float64 slots before the rows in a result message: start, count
HEADER = 2

Solve = Callable[[int, int, np.ndarray], Any]


@dataclass
class Tally:
    """What one repetition's schedule did on this rank.

    ``computed`` and ``chunks`` count the cases and ``solve`` calls of this rank; ``received``
    (rank 0 only, else ``None``) counts, per case, how many times its row reached rank 0 — all
    ones when every case was computed exactly once.
    """

    computed: int = 0
    chunks: int = 0
    received: np.ndarray | None = None


def static_schedule(comm: Any, cases: int, width: int, results: np.ndarray | None,
                    solve: Solve, timer: PhaseTimer, compute: str = "compute",
                    distribute: str = "distribute") -> Tally:
    """Solve this rank's contiguous block, then gather every block to rank 0. Collective.

    ``results`` (shape ``(cases, width)``, C-contiguous float64) is needed on rank 0 only; rank
    0 solves straight into it and gathers in place.

    Returns
    -------
    Tally
        Cases and calls on this rank; on rank 0, ``received`` from the block layout of the gather.

    Raises
    ------
    ValueError
        When rank 0 has no ``results`` array of shape ``(cases, width)``.
    """
    from mpi4py import MPI

    rank, size = comm.Get_rank(), comm.Get_size()
    start, stop = block_range(cases, size, rank)
    tally = Tally()
    if rank == ROOT:
        results = _check_results(results, cases, width)
        local = results[start:stop]
    else:
        local = np.empty((stop - start, width))
    if stop > start:
        with timer(compute):
            solve(start, stop, local)
        tally.computed, tally.chunks = stop - start, 1
    with timer(distribute):
        if rank == ROOT:
            counts = [n * width for n in block_sizes(cases, size)]
            displs = [o * width for o in block_offsets(cases, size)]
            comm.Gatherv(MPI.IN_PLACE, [results, counts, displs, MPI.DOUBLE], root=ROOT)
        else:
            comm.Gatherv([local, MPI.DOUBLE], None, root=ROOT)
    if rank == ROOT:
        tally.received = np.zeros(cases, dtype=np.int64)
        for r in range(size):
            lo, hi = block_range(cases, size, r)
            tally.received[lo:hi] += 1
    return tally


def dynamic_schedule(comm: Any, cases: int, width: int, chunk: int,
                     results: np.ndarray | None, solve: Solve, timer: PhaseTimer,
                     compute: str = "compute", distribute: str = "distribute") -> Tally:
    """Manager–worker distribution of chunks of ``chunk`` cases. Collective.

    Rank 0 manages (and, alone, computes); ranks 1… request chunks until told to stop.
    ``results`` is needed on rank 0 only. A ``chunk`` above ``cases`` acts as ``cases``.

    Raises
    ------
    ValueError
        When ``chunk < 1``, or rank 0 has no ``results`` array of shape ``(cases, width)``.
    """
    if chunk < 1:
        raise ValueError(f"chunk={chunk} must be >= 1")
    rank, size = comm.Get_rank(), comm.Get_size()
    chunk = max(1, min(chunk, cases))
    if rank != ROOT:
        return _worker(comm, chunk, width, solve, timer, compute, distribute)
    results = _check_results(results, cases, width)
    tally = Tally(received=np.zeros(cases, dtype=np.int64))
    if size == 1:
        for start in range(0, cases, chunk):
            stop = min(start + chunk, cases)
            with timer(compute):
                solve(start, stop, results[start:stop])
            tally.received[start:stop] += 1
            tally.computed += stop - start
            tally.chunks += 1
        return tally
    with timer(distribute):
        _manage(comm, cases, chunk, width, results, tally)
    return tally


def _check_results(results: np.ndarray | None, cases: int, width: int) -> np.ndarray:
    if (results is None or results.shape != (cases, width) or results.dtype != np.float64
            or not results.flags.c_contiguous):
        got = "None" if results is None else f"{results.dtype} {results.shape}"
        raise ValueError(f"rank 0 needs a C-contiguous float64 results array of shape "
                         f"({cases}, {width}), got {got}")
    return results


def _manage(comm: Any, cases: int, chunk: int, width: int, results: np.ndarray,
            tally: Tally) -> None:
    """Serve requests until the queue is empty and every worker has asked once more; store rows
    as they come; then stop everyone."""
    from mpi4py import MPI

    buf = np.empty(HEADER + chunk * width)
    reply = np.empty(2, dtype=np.int64)
    status = MPI.Status()
    following = 0
    workers = comm.Get_size() - 1
    idle: list[int] = []
    while len(idle) < workers:
        comm.Recv([buf, MPI.DOUBLE], source=MPI.ANY_SOURCE, tag=TAG_RESULT, status=status)
        source = status.Get_source()
        count = int(buf[1])
        if count > 0:
            start = int(buf[0])
            results[start:start + count] = buf[HEADER:HEADER + count * width].reshape(count, width)
            tally.received[start:start + count] += 1
        if following < cases:
            reply[0] = following
            reply[1] = min(chunk, cases - following)
            following += int(reply[1])
            comm.Send([reply, MPI.INT64_T], dest=source, tag=TAG_WORK)
        else:
            idle.append(source)
    # Stop only once every worker's last rows are in: a worker released earlier could start the
    # next repetition and its first request would be taken for one of this repetition's.
    reply[:] = 0
    for source in idle:
        comm.Send([reply, MPI.INT64_T], dest=source, tag=TAG_STOP)


def _worker(comm: Any, chunk: int, width: int, solve: Solve, timer: PhaseTimer,
            compute: str, distribute: str) -> Tally:
    """Request, solve, return, until the manager says stop; the last request carries results."""
    from mpi4py import MPI

    buf = np.empty(HEADER + chunk * width)
    assignment = np.empty(2, dtype=np.int64)
    status = MPI.Status()
    tally = Tally()
    buf[0] = buf[1] = 0.0  # the first request carries no results
    count = 0
    while True:
        with timer(distribute):
            comm.Send([buf[:HEADER + count * width], MPI.DOUBLE], dest=ROOT, tag=TAG_RESULT)
            comm.Recv([assignment, MPI.INT64_T], source=ROOT, tag=MPI.ANY_TAG, status=status)
        if status.Get_tag() == TAG_STOP:
            return tally
        start, count = int(assignment[0]), int(assignment[1])
        rows = buf[HEADER:HEADER + count * width].reshape(count, width)
        with timer(compute):
            solve(start, start + count, rows)
        buf[0], buf[1] = start, count
        tally.computed += count
        tally.chunks += 1


def broadcast_from_root(comm: Any, values: np.ndarray) -> np.ndarray:
    """Give every rank rank 0's copy of the float64 array ``values`` (same shape everywhere)."""
    from mpi4py import MPI

    comm.Bcast([values, MPI.DOUBLE], root=ROOT)
    return values
