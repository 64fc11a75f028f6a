"""1D slab decomposition of the FEA unknowns by z-planes, and the FEA's communication.

The m³ interior nodes form m planes of m² unknowns (z slowest). Planes are split over the ranks
in contiguous blocks (:mod:`harness.decomposition.blocks`), so every rank needs at least one
plane: slabs, not a 3D decomposition — simple, one neighbour below and one above, at the cost of
a rank limit of m = n − 1. The trilinear 27-point coupling reaches one plane up and down, so the
ghost exchange before each matrix–vector product sends the first and last owned planes
(contiguous, no packing) with non-blocking ``Isend``/``Irecv``.

Reductions are made decomposition-invariant rather than merely close: each rank contributes one
partial sum per plane it owns, in a vector of all m planes that is zero elsewhere. The
``Allreduce(SUM)`` of that vector is exact (each entry is one number plus zeros, whatever order
the MPI library combines them in), and every rank then sums the m planes left to right. So dot
products, CG iterates and checksums are the same bits at any rank count. A plain allreduce of one
local dot per rank would change its summation order with the rank count, and agree only to a
tolerance; the harness still states a tolerance (see ``harness/workloads/fea.py``) so that the
contract does not depend on this.

I/O patterns, one per FEA variant, all writing float64 in the global interior-node order:
``gather`` (``Gatherv`` to rank 0, which writes one file), ``per-rank`` (each rank writes its
planes to its own file) and ``mpiio`` (``MPI.File.Open`` + ``Write_at_all`` of each rank's planes
at its byte offset into one shared file).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.decomposition.blocks import block_offsets, block_range, block_sizes
from kernels.fea import ordered_sum

# a ghost plane travels up (to rank + 1) or down (to rank − 1); tags name the direction so that
# a rank whose neighbours coincide still matches the right messages
_UP, _DOWN = 21, 22


@dataclass(frozen=True)
class SlabLayout:
    """Planes [p0, p1) of m interior-node planes owned by ``rank`` of ``ranks``. Pure ints."""

    m: int
    ranks: int
    rank: int
    p0: int
    p1: int

    @property
    def plane(self) -> int:
        """Unknowns per plane, m²."""
        return self.m * self.m

    @property
    def planes(self) -> int:
        return self.p1 - self.p0

    @property
    def rows(self) -> int:
        """Unknowns (matrix rows) this rank owns."""
        return self.planes * self.plane

    @property
    def offset(self) -> int:
        """Index of this rank's first unknown in the global order."""
        return self.p0 * self.plane

    def counts(self) -> list[int]:
        """Unknowns owned by each rank, for ``Gatherv``."""
        return [k * self.plane for k in block_sizes(self.m, self.ranks)]

    def displacements(self) -> list[int]:
        """Global index of each rank's first unknown, for ``Gatherv``."""
        return [k * self.plane for k in block_offsets(self.m, self.ranks)]


def slab_layout(m: int, ranks: int, rank: int) -> SlabLayout:
    """The slab of ``rank`` when m interior-node planes are split over ``ranks``.

    Raises
    ------
    ValueError
        When there are fewer planes than ranks (a rank would own nothing) or the rank is out of
        range.
    """
    if m < ranks:
        raise ValueError(f"{m} interior-node planes cannot be split over {ranks} ranks")
    p0, p1 = block_range(m, ranks, rank)
    return SlabLayout(m, ranks, rank, p0, p1)


class GhostExchange:
    """Fills the two ghost planes of an extended vector from the neighbouring slabs.

    An extended vector holds the ghost plane below, the owned planes, then the ghost plane
    above. The ranks owning the bottom and top slabs talk to ``MPI.PROC_NULL`` on their outer
    side (that ghost plane stays as it is; no matrix column refers to it).
    """

    def __init__(self, comm: Any, layout: SlabLayout):
        from mpi4py import MPI

        self._waitall = MPI.Request.Waitall
        self.comm = comm
        self.layout = layout
        rank, size = comm.Get_rank(), comm.Get_size()
        self.below = rank - 1 if rank > 0 else MPI.PROC_NULL
        self.above = rank + 1 if rank < size - 1 else MPI.PROC_NULL

    def exchange(self, v: np.ndarray) -> None:
        """Receive both ghost planes of the extended ``v`` and send its first and last planes."""
        s, planes, comm = self.layout.plane, self.layout.planes, self.comm
        requests = [
            comm.Irecv(v[:s], source=self.below, tag=_UP),
            comm.Irecv(v[(planes + 1) * s:(planes + 2) * s], source=self.above, tag=_DOWN),
            comm.Isend(v[s:2 * s], dest=self.below, tag=_DOWN),
            comm.Isend(v[planes * s:(planes + 1) * s], dest=self.above, tag=_UP),
        ]
        self._waitall(requests)


def plane_sum(comm: Any, partial: np.ndarray, total: np.ndarray) -> float:
    """Global sum of per-plane partials: exact ``Allreduce`` of the plane vector, then Σ in
    plane order (see the module docstring). ``partial`` holds this rank's planes, zeros
    elsewhere; ``total`` is scratch of the same shape."""
    from mpi4py import MPI

    comm.Allreduce(partial, total, op=MPI.SUM)
    return float(ordered_sum(total))


def plane_sums(comm: Any, partial: np.ndarray) -> np.ndarray:
    """Element-wise exact ``Allreduce`` of an array of per-plane partials (any shape)."""
    from mpi4py import MPI

    total = np.empty_like(partial)
    comm.Allreduce(partial, total, op=MPI.SUM)
    return total


def elementwise_max(comm: Any, values: np.ndarray) -> np.ndarray:
    """Element-wise maximum of an array over ranks."""
    from mpi4py import MPI

    out = np.empty_like(values)
    comm.Allreduce(values, out, op=MPI.MAX)
    return out


def barrier(comm: Any) -> None:
    comm.Barrier()


def gather_planes(comm: Any, layout: SlabLayout, local: np.ndarray,
                  out: np.ndarray | None = None, root: int = 0) -> np.ndarray | None:
    """Every rank's planes, in global order, on ``root`` (``None`` elsewhere), by ``Gatherv``.

    ``out`` (m³ doubles, on ``root``) is filled when given, else allocated.
    """
    from mpi4py import MPI

    counts = layout.counts()
    if comm.Get_rank() == root:
        if out is None:
            out = np.empty(layout.m ** 3)
        displs = layout.displacements()
        comm.Gatherv(local, [out, counts, displs, MPI.DOUBLE], root=root)
        return out
    comm.Gatherv(local, None, root=root)
    return None


def _write_file(path: Path, data: np.ndarray, fsync: bool) -> None:
    with open(path, "wb") as f:
        f.write(memoryview(data))
        if fsync:
            f.flush()
            os.fsync(f.fileno())


def write_gather(comm: Any, layout: SlabLayout, path: Path, local: np.ndarray,
                 buffer: np.ndarray | None, fsync: bool = False) -> None:
    """``gather``: rank 0 collects every slab (``Gatherv`` into ``buffer``) and writes ``path``."""
    whole = gather_planes(comm, layout, local, buffer)
    if whole is not None:
        _write_file(path, whole, fsync)


def write_per_rank(comm: Any, layout: SlabLayout, path: Path, local: np.ndarray,
                   fsync: bool = False) -> None:
    """``per-rank``: each rank writes its own planes to its own ``path``; no communication."""
    _write_file(path, local, fsync)


def write_mpiio(comm: Any, layout: SlabLayout, path: Path, local: np.ndarray,
                fsync: bool = False) -> None:
    """``mpiio``: collective ``Write_at_all`` of each rank's planes at its byte offset into
    the shared ``path``."""
    from mpi4py import MPI

    fh = MPI.File.Open(comm, str(path), MPI.MODE_WRONLY | MPI.MODE_CREATE)
    try:
        fh.Write_at_all(layout.offset * local.itemsize, local)
        if fsync:
            fh.Sync()
    finally:
        fh.Close()
