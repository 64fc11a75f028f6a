"""2D Cartesian decomposition of a periodic N×N grid and its one-cell halo exchange.

The process grid comes from ``MPI.Compute_dims`` (mirrored by :func:`grid_dims`, pure ints, so
that inputs can be checked before MPI starts); rows are split over the first dimension and
columns over the second, uneven splits allowed (block sizes differ by at most one). The halo
exchange posts non-blocking receives and sends of four contiguous buffers (packed and unpacked
by Numba), so the ``overlap`` variant can compute the interior while messages are in flight.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.decomposition.blocks import block_range, check_ranks
from kernels import cfd as kernel


def _prime_factors(n: int) -> list[int]:
    factors, p = [], 2
    while p * p <= n:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    if n > 1:
        factors.append(n)
    return factors


def grid_dims(ranks: int, ndims: int = 2) -> tuple[int, ...]:
    """A balanced process grid for ``ranks`` processes, non-increasing, like ``MPI_Dims_create``.

    Largest prime factors go to the currently smallest dimension; the tests check agreement with
    ``MPI.Compute_dims`` for many sizes.
    """
    check_ranks(ranks)
    dims = [1] * ndims
    for p in sorted(_prime_factors(ranks), reverse=True):
        dims[dims.index(min(dims))] *= p
    return tuple(sorted(dims, reverse=True))


@dataclass(frozen=True)
class Block:
    """The part of the global grid one rank owns: rows [row0, row0+rows), cols [col0, col0+cols)."""

    row0: int
    rows: int
    col0: int
    cols: int


def block_of(n: int, dims: tuple[int, int], coords: tuple[int, int]) -> Block:
    """Block owned by the process at ``coords`` of a ``dims`` grid over an N×N domain."""
    r0, r1 = block_range(n, dims[0], coords[0])
    c0, c1 = block_range(n, dims[1], coords[1])
    return Block(r0, r1 - r0, c0, c1 - c0)


def compute_regions(rows: int, cols: int) -> tuple[list[tuple[int, int, int, int]],
                                                   list[tuple[int, int, int, int]]]:
    """Split a padded block's interior into an *inner* part and a *rim* for the overlap variant.

    Returns ``(inner, rim)``, lists of ``(r0, r1, c0, c1)`` in padded indices. Inner cells read
    no halo cell; rim cells (the first and last interior row and column) do. Together they cover
    every interior cell exactly once, for any block size (a block of one or two rows is all rim).
    """
    inner: list[tuple[int, int, int, int]] = []
    rim: list[tuple[int, int, int, int]] = []
    if rows > 2 and cols > 2:
        inner.append((2, rows, 2, cols))
    rim.append((1, 2, 1, cols + 1))  # first row
    if rows >= 2:
        rim.append((rows, rows + 1, 1, cols + 1))  # last row
    if rows > 2:
        rim.append((2, rows, 1, 2))  # first column, between the rows above
        if cols >= 2:
            rim.append((2, rows, cols, cols + 1))  # last column
    return inner, rim


class CartesianGrid:
    """A periodic 2D process grid over ``comm`` and this rank's block of an N×N domain."""

    def __init__(self, comm: Any, n: int):
        from mpi4py import MPI

        size = comm.Get_size()
        self.dims = tuple(MPI.Compute_dims(size, 2))
        self.cart = comm.Create_cart(self.dims, periods=[True, True], reorder=False)
        self.coords = tuple(self.cart.Get_coords(self.cart.Get_rank()))
        self.n = n
        self.block = block_of(n, self.dims, self.coords)
        # (source, dest) for a shift of +1: along rows the source is the north neighbour
        self.north, self.south = self.cart.Shift(0, 1)
        self.west, self.east = self.cart.Shift(1, 1)

    def free(self) -> None:
        self.cart.Free()


# message tags name the direction of travel, so that a rank whose two neighbours along a
# dimension are the same process (2 ranks in that dimension, or 1) still matches correctly
_TO_NORTH, _TO_SOUTH, _TO_WEST, _TO_EAST = 11, 12, 13, 14


class HaloExchange:
    """Non-blocking exchange of the one-cell halo of a padded block on a :class:`CartesianGrid`.

    ``start(c)`` packs the four edges of the interior into contiguous buffers and posts
    ``Irecv``/``Isend``; ``finish(c)`` waits and unpacks into the halo layer. Corners are not
    exchanged: the 5-point stencil never reads them.
    """

    def __init__(self, grid: CartesianGrid):
        from mpi4py import MPI

        self._MPI = MPI
        self.grid = grid
        rows, cols = grid.block.rows, grid.block.cols
        self.rows, self.cols = rows, cols
        self.send = {k: np.empty(rows if k in "we" else cols) for k in "nswe"}
        self.recv = {k: np.empty(rows if k in "we" else cols) for k in "nswe"}
        self.requests: list[Any] = []

    def start(self, c: np.ndarray) -> None:
        rows, cols, cart, g = self.rows, self.cols, self.grid.cart, self.grid
        kernel.pack_row(c, 1, 1, cols + 1, self.send["n"])
        kernel.pack_row(c, rows, 1, cols + 1, self.send["s"])
        kernel.pack_column(c, 1, 1, rows + 1, self.send["w"])
        kernel.pack_column(c, cols, 1, rows + 1, self.send["e"])
        self.requests = [
            cart.Irecv(self.recv["n"], source=g.north, tag=_TO_SOUTH),
            cart.Irecv(self.recv["s"], source=g.south, tag=_TO_NORTH),
            cart.Irecv(self.recv["w"], source=g.west, tag=_TO_EAST),
            cart.Irecv(self.recv["e"], source=g.east, tag=_TO_WEST),
            cart.Isend(self.send["n"], dest=g.north, tag=_TO_NORTH),
            cart.Isend(self.send["s"], dest=g.south, tag=_TO_SOUTH),
            cart.Isend(self.send["w"], dest=g.west, tag=_TO_WEST),
            cart.Isend(self.send["e"], dest=g.east, tag=_TO_EAST),
        ]

    def finish(self, c: np.ndarray) -> None:
        rows, cols = self.rows, self.cols
        self._MPI.Request.Waitall(self.requests)
        self.requests = []
        kernel.unpack_row(self.recv["n"], c, 0, 1, cols + 1)
        kernel.unpack_row(self.recv["s"], c, rows + 1, 1, cols + 1)
        kernel.unpack_column(self.recv["w"], c, 0, 1, rows + 1)
        kernel.unpack_column(self.recv["e"], c, cols + 1, 1, rows + 1)

    def exchange(self, c: np.ndarray) -> None:
        """Blocking form: start and finish."""
        self.start(c)
        self.finish(c)


def gather_field(grid: CartesianGrid, c: np.ndarray, root: int = 0) -> np.ndarray | None:
    """The whole N×N field on ``root`` (None elsewhere), assembled from every block's interior.

    Used for the decomposition-invariant checksum: the sum is then taken over the same array in
    the same order whatever the rank count.
    """
    from mpi4py import MPI

    cart = grid.cart
    s = grid.block
    mine = np.ascontiguousarray(c[1:s.rows + 1, 1:s.cols + 1])
    blocks = cart.gather((s.row0, s.rows, s.col0, s.cols), root=root)
    if cart.Get_rank() == root:
        counts = [r * k for (_, r, _, k) in blocks]
        flat = np.empty(sum(counts))
        displs = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        cart.Gatherv(mine, [flat, counts, displs, MPI.DOUBLE], root=root)
        field = np.empty((grid.n, grid.n))
        for (r0, r, c0, k), off, cnt in zip(blocks, displs, counts, strict=True):
            field[r0:r0 + r, c0:c0 + k] = flat[off:off + cnt].reshape(r, k)
        return field
    cart.Gatherv(mine, None, root=root)
    return None


def field_checksum(grid: CartesianGrid, c: np.ndarray) -> dict[str, float]:
    """Sum and L2 norm of the whole field, identical on every rank and for any rank count.

    The field is gathered to rank 0 and summed there in global order, then broadcast.
    """
    field = gather_field(grid, c)
    checksum = None
    if field is not None:
        checksum = {"sum": float(np.sum(field)), "l2": float(np.sqrt(np.sum(field * field)))}
    return grid.cart.bcast(checksum, root=0)
