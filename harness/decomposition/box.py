"""3D box decomposition of the FEA unknowns, and the FEA's communication.

The m³ interior nodes are split over a 3D Cartesian process grid of dims (dz, dy, dx),
non-increasing, from ``MPI.Compute_dims(ranks, 3)``: the largest dimension cuts z (the slowest
axis), the smallest cuts x, so a box's x-rows stay long and contiguous. Each axis is split into
blocks that differ by at most one node (:mod:`harness.decomposition.blocks`). A rank at grid
coordinates (cz, cy, cx) — row-major in rank order, the grid is not reordered — owns the box of
nodes ``(x0, x1, y0, y1, z0, z1)``. The decomposition exists when every axis has at least as many
nodes as ranks along it: m ≥ max(dims). :func:`largest_grid_dim` bounds max(dims) without MPI
(see there), so inputs can be checked before anything starts.

The trilinear 27-point coupling reaches every node around a node, so the halo exchange before
each matrix–vector product talks to up to 26 neighbours: 6 faces, 12 edges and 8 corners of the
box, each message one packed region of the owned layer (``kernels/halo3d.py``), non-blocking
``Isend``/``Irecv`` on the Cartesian communicator.

Reductions are exact, so they cannot depend on the partition: every rank accumulates its terms
into an int64 fixed-point accumulator (``kernels/exactsum.py``), the accumulators are added with
``Allreduce(SUM)`` on int64 (integer addition: exact in any order), and the exact sum is rounded
to a double once. So dot products, CG iterates and checksums are the same bits at any rank count
and any grid shape.

The I/O patterns of the FEA variants live in :mod:`harness.decomposition.boxio`.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from harness.decomposition.blocks import block_range, check_ranks
from harness.decomposition.cartesian import grid_dims
from kernels import exactsum, halo3d

Box = tuple[int, int, int, int, int, int]


def balanced_dims(ranks: int) -> tuple[int, int, int]:
    """The most balanced (dz, dy, dx), dz ≥ dy ≥ dx, with dz·dy·dx = ``ranks``: the smallest
    largest dimension, then the largest smallest one. Pure integers.

    Raises
    ------
    ValueError
        When ``ranks < 1``.
    """
    check_ranks(ranks)
    best: tuple[int, int, int] | None = None
    for a in range(1, ranks + 1):
        if ranks % a:
            continue
        rest = ranks // a
        for b in range(1, a + 1):
            if rest % b:
                continue
            c = rest // b
            if c > b:
                continue
            if best is None or (a, -c) < (best[0], -best[2]):
                best = (a, b, c)
    assert best is not None  # (ranks, 1, 1) always qualifies
    return best


def largest_grid_dim(ranks: int) -> int:
    """An upper bound of max(``MPI.Compute_dims(ranks, 3)``) without MPI.

    MPI libraries pick a balanced grid but not always the same one: MPICH 5 gives the most
    balanced grid (:func:`balanced_dims`) for every count up to 2,500 but one (360, where it takes
    the greedy grid of :func:`harness.decomposition.cartesian.grid_dims`). The larger of the two
    is the bound; ``tests/mpi/test_fea_mpi.py`` checks it against the MPI in use.
    """
    return max(balanced_dims(ranks)[0], max(grid_dims(ranks, 3)))


def check_grid(m: int, ranks: int) -> None:
    """Raise ``ValueError`` (one line) unless m nodes per axis can be boxed over ``ranks``."""
    need = largest_grid_dim(ranks)
    if m < need:
        raise ValueError(f"{m} interior nodes per axis cannot be split over a process grid of "
                         f"{ranks} ranks with up to {need} ranks along an axis")


def coords_of(rank: int, dims: tuple[int, int, int]) -> tuple[int, int, int]:
    """(cz, cy, cx) of ``rank`` in a row-major grid of ``dims`` (as ``Create_cart`` without
    reordering numbers it)."""
    dz, dy, dx = dims
    if not 0 <= rank < dz * dy * dx:
        raise ValueError(f"rank {rank} outside a grid of {dims}")
    return rank // (dy * dx), (rank // dx) % dy, rank % dx


def box_of(m: int, dims: tuple[int, int, int], coords: tuple[int, int, int]) -> Box:
    """Box ``(x0, x1, y0, y1, z0, z1)`` of the process at ``coords`` of a ``dims`` grid."""
    z0, z1 = block_range(m, dims[0], coords[0])
    y0, y1 = block_range(m, dims[1], coords[1])
    x0, x1 = block_range(m, dims[2], coords[2])
    return x0, x1, y0, y1, z0, z1


@dataclass(frozen=True)
class BoxLayout:
    """The box of ``rank`` in a ``dims`` grid over m³ interior nodes. Pure ints."""

    m: int
    ranks: int
    rank: int
    dims: tuple[int, int, int]
    coords: tuple[int, int, int]
    box: Box

    @property
    def extents(self) -> tuple[int, int, int]:
        """(lx, ly, lz): nodes of the box along x, y, z."""
        x0, x1, y0, y1, z0, z1 = self.box
        return x1 - x0, y1 - y0, z1 - z0

    @property
    def rows(self) -> int:
        """Unknowns (matrix rows) this rank owns."""
        lx, ly, lz = self.extents
        return lx * ly * lz

    @property
    def extended(self) -> int:
        """Length of an extended vector: the box and one halo layer around it."""
        lx, ly, lz = self.extents
        return (lx + 2) * (ly + 2) * (lz + 2)

    def boxes(self) -> list[Box]:
        """Every rank's box, in rank order."""
        return [box_of(self.m, self.dims, coords_of(r, self.dims)) for r in range(self.ranks)]


def box_layout(m: int, ranks: int, rank: int,
               dims: tuple[int, int, int] | None = None) -> BoxLayout:
    """The box of ``rank`` when m³ nodes go to ``ranks`` (grid ``dims``, default
    :func:`balanced_dims`).

    Raises
    ------
    ValueError
        When the grid does not multiply to ``ranks``, an axis has fewer nodes than ranks along
        it (a rank would own nothing), or the rank is out of range.
    """
    dims = balanced_dims(ranks) if dims is None else tuple(int(d) for d in dims)
    if len(dims) != 3 or dims[0] * dims[1] * dims[2] != ranks:
        raise ValueError(f"process grid {dims} does not hold {ranks} ranks")
    if m < max(dims):
        raise ValueError(f"{m} interior nodes per axis cannot be split over the {dims[0]}x"
                         f"{dims[1]}x{dims[2]} process grid of {ranks} ranks")
    coords = coords_of(rank, dims)
    return BoxLayout(m, ranks, rank, dims, coords, box_of(m, dims, coords))


def layout_of(comm: Any, m: int) -> BoxLayout:
    """This rank's box on the grid ``MPI.Compute_dims(size, 3)`` of ``comm``.

    Raises
    ------
    ValueError
        When this MPI's grid has an axis with more ranks than nodes (inputs checked with
        :func:`check_grid` never do, unless the MPI library's grid is less balanced than
        :func:`largest_grid_dim` allows for).
    """
    from mpi4py import MPI

    size = comm.Get_size()
    return box_layout(m, size, comm.Get_rank(), tuple(MPI.Compute_dims(size, 3)))


def _ranges(offset: int, extent: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(send, receive) index ranges along one axis of an extended box, for the neighbour at
    ``offset`` ∈ {−1, 0, 1}: the owned layer next to it, and the halo layer it fills."""
    if offset < 0:
        return (1, 2), (0, 1)
    if offset > 0:
        return (extent, extent + 1), (extent + 1, extent + 2)
    return (1, extent + 1), (1, extent + 1)


def neighbour_offsets(layout: BoxLayout) -> list[tuple[int, int, int]]:
    """Offsets (dz, dy, dx) of the boxes next to this one (faces, edges, corners), in a fixed
    order; boxes on the domain boundary have fewer than 26."""
    out = []
    for offset in itertools.product((-1, 0, 1), repeat=3):
        where = [c + o for c, o in zip(layout.coords, offset, strict=True)]
        if offset != (0, 0, 0) and all(0 <= w < d for w, d in
                                       zip(where, layout.dims, strict=True)):
            out.append(offset)
    return out


def halo_doubles(layout: BoxLayout) -> int:
    """Doubles one halo exchange sends (and receives) for this box: the regions of
    :func:`neighbour_offsets`."""
    lx, ly, lz = layout.extents
    total = 0
    for offset in neighbour_offsets(layout):
        size = 1
        for o, e in zip(offset, (lz, ly, lx), strict=True):
            size *= e if o == 0 else 1
        total += size
    return total


def _tag(offset: tuple[int, int, int]) -> int:
    """Tag of a message travelling along ``offset``: one per direction, so two messages between
    the same pair of ranks (never the case without periodicity, but cheap to rule out) match."""
    dz, dy, dx = offset
    return 300 + (dz + 1) * 9 + (dy + 1) * 3 + (dx + 1)


class HaloExchange:
    """Fills the halo layer of an extended vector from the up to 26 neighbouring boxes.

    Halo regions that face the domain boundary are left as they are (no matrix column refers
    to them).
    """

    def __init__(self, comm: Any, layout: BoxLayout):
        from mpi4py import MPI

        self._waitall = MPI.Request.Waitall
        self.layout = layout
        self.cart = comm.Create_cart(list(layout.dims), periods=[False] * 3, reorder=False)
        lx, ly, lz = layout.extents
        self.ny, self.nx = ly + 2, lx + 2
        self.links: list[tuple[int, int, int, tuple[int, ...], tuple[int, ...], np.ndarray,
                               np.ndarray]] = []
        for offset in neighbour_offsets(layout):
            where = [c + o for c, o in zip(layout.coords, offset, strict=True)]
            (sz, rz), (sy, ry), (sx, rx) = (_ranges(o, e) for o, e in
                                            zip(offset, (lz, ly, lx), strict=True))
            size = (sz[1] - sz[0]) * (sy[1] - sy[0]) * (sx[1] - sx[0])
            neighbour = self.cart.Get_cart_rank(where)
            back = tuple(-o for o in offset)
            self.links.append((neighbour, _tag(offset), _tag(back), (*sz, *sy, *sx),
                               (*rz, *ry, *rx), np.empty(size), np.empty(size)))

    @property
    def neighbours(self) -> int:
        """How many boxes this one exchanges with (0 to 26)."""
        return len(self.links)

    def exchange(self, v: np.ndarray) -> None:
        """Receive the halo layer of the extended ``v`` and send the owned layer's regions."""
        cart, ny, nx = self.cart, self.ny, self.nx
        requests = []
        for neighbour, _, tag_in, _, _, _, recv in self.links:
            requests.append(cart.Irecv(recv, source=neighbour, tag=tag_in))
        for neighbour, tag_out, _, send_region, _, send, _ in self.links:
            halo3d.pack(v, ny, nx, send_region, send)
            requests.append(cart.Isend(send, dest=neighbour, tag=tag_out))
        self._waitall(requests)
        for _, _, _, _, recv_region, _, recv in self.links:
            halo3d.unpack(recv, v, ny, nx, recv_region)

    def free(self) -> None:
        self.cart.Free()


def exact_total(comm: Any, acc: np.ndarray) -> float:
    """The global sum held by every rank's accumulator ``acc`` (int64[LIMBS], normalized here in
    place), rounded once: the same bits on every rank and for any decomposition."""
    from mpi4py import MPI

    exactsum.normalize(acc)
    total = np.empty_like(acc)
    comm.Allreduce(acc, total, op=MPI.SUM)
    return float(exactsum.to_float(total))


def exact_totals(comm: Any, accs: np.ndarray) -> np.ndarray:
    """:func:`exact_total` of each accumulator in ``accs`` (int64, shape (…, LIMBS)); float64
    of shape ``accs.shape[:-1]``."""
    from mpi4py import MPI

    flat = accs.reshape(-1, exactsum.LIMBS)
    for acc in flat:
        exactsum.normalize(acc)
    total = np.empty_like(flat)
    comm.Allreduce(flat, total, op=MPI.SUM)
    return np.array([exactsum.to_float(t) for t in total]).reshape(accs.shape[:-1])


def elementwise_max(comm: Any, values: np.ndarray) -> np.ndarray:
    """Element-wise maximum of an array over ranks."""
    from mpi4py import MPI

    out = np.empty_like(values)
    comm.Allreduce(values, out, op=MPI.MAX)
    return out


def barrier(comm: Any) -> None:
    comm.Barrier()
