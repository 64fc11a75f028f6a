"""How every micro-benchmark of ``harness probe`` is timed and verified.

One *point* (one message size, one rank count) is: an untimed warm-up call that also sizes the
batch (enough repetitions for a sample to last about ``sample_seconds``, the slowest rank's time
deciding, so every rank runs the same count), then ``samples`` timed samples. Each sample is
bracketed by a barrier and two ``MPI.Wtime`` reads; its per-repetition time is reduced across
the communicator with MAX, MIN and mean kept beside it (:func:`harness.timing.reduce_seconds`).
The point's figure, ``time``, is the fastest sample's MAX — STREAM's convention of the best
trial, which other work on the node can only make slower, never faster — with the median
sample's beside it. Before each sample an untimed ``prepare(sample)`` refills the buffers with
data that depends on the sample, and after it an untimed ``check(sample)`` verifies what
arrived; the point counts only when every rank's every check passed (a logical AND across the
communicator).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mpi4py import MPI

from harness.timing import reduce_seconds

#: the most repetitions one sample may batch (a sub-microsecond operation at 5 ms per sample)
MAX_BATCH = 100_000


@dataclass
class Timing:
    """One point's samples: seconds per repetition (MAX over ranks, and MIN, mean), the batch
    of repetitions per sample, and whether every check passed on every rank."""

    batch: int
    seconds: list[float]
    seconds_min: list[float]
    seconds_mean: list[float]
    verified: bool

    @property
    def best(self) -> float:
        """The fastest sample's MAX-over-ranks seconds per repetition (the point's figure)."""
        return min(self.seconds)

    @property
    def median(self) -> float:
        """Median over samples of the MAX-over-ranks seconds per repetition."""
        return statistics.median(self.seconds)

    def to_dict(self, scale: float = 1.0) -> dict[str, Any]:
        """The record's fields, every time multiplied by ``scale`` (e.g. 1/2: one way of a
        round trip)."""
        return {"batch": self.batch,
                "seconds": [s * scale for s in self.seconds],
                "seconds_min": [s * scale for s in self.seconds_min],
                "seconds_mean": [s * scale for s in self.seconds_mean],
                "time": self.best * scale,
                "median": self.median * scale,
                "verified": self.verified}


def timed(comm: Any, body: Callable[[int], None], *, samples: int, sample_seconds: float,
          prepare: Callable[[int], None] | None = None,
          check: Callable[[int], bool] | None = None, batch: int | None = None) -> Timing:
    """Time ``body(n)`` (``n`` repetitions of the operation) on every rank of ``comm``.

    Collective over ``comm``. ``prepare(s)`` runs before sample ``s`` (``-1``: the warm-up),
    ``check(s)`` after it (True: the data is right); neither is timed. ``batch`` fixes the
    repetitions per sample instead of sizing them from the warm-up.

    Returns
    -------
    Timing
        Seconds per repetition per sample (MAX, MIN, mean over ranks), the batch, and the
        verification across ranks and samples.
    """
    ok = True
    if prepare is not None:
        prepare(-1)
    comm.Barrier()
    start = MPI.Wtime()
    body(1)
    warm = comm.allreduce(MPI.Wtime() - start, op=MPI.MAX)
    if check is not None:
        ok = bool(check(-1))
    if batch is None:
        batch = 1 if warm >= sample_seconds else min(
            MAX_BATCH, math.ceil(sample_seconds / max(warm, 1e-9)))
    local: list[float] = []
    for sample in range(samples):
        if prepare is not None:
            prepare(sample)
        comm.Barrier()
        start = MPI.Wtime()
        body(batch)
        local.append((MPI.Wtime() - start) / batch)
        if check is not None:
            ok = bool(check(sample)) and ok
    reduced = reduce_seconds(comm, local)
    verified = bool(comm.allreduce(ok, op=MPI.LAND))
    return Timing(batch, reduced["max"], reduced["min"], reduced["mean"], verified)


def split(comm: Any, members: list[int]) -> Any:
    """A communicator of the world ranks ``members``, ranked in that order (``MPI.COMM_NULL``
    on the others). Collective over ``comm``; free it with :func:`free`."""
    rank = comm.Get_rank()
    if rank in members:
        return comm.Split(0, members.index(rank))
    return comm.Split(MPI.UNDEFINED, rank)


def member(sub: Any) -> bool:
    """True on the ranks of a communicator from :func:`split`."""
    return sub != MPI.COMM_NULL


def free(sub: Any) -> None:
    """Free a communicator from :func:`split` (nothing for ``MPI.COMM_NULL``)."""
    if sub != MPI.COMM_NULL:
        sub.Free()
