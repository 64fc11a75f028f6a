"""Allreduce against rank count and message size, and the halo (neighbour) exchange.

**Allreduce.** For each rank count ``p`` of a ladder (powers of two and the largest), a
communicator of the first ``p`` ranks of an order (the node's ranks for the intra-node level;
ranks taken from each node in turn for the inter-node level, so that every ``p ≥ 2`` spans
nodes) sums float64 vectors of ``m`` bytes (``MPI.SUM``). Rank ``i`` contributes
``i + 1 + (k mod 7) + s`` at element ``k`` in sample ``s``, small integers, so the sum is exact
in float64 and is checked for equality: ``p(p+1)/2 + p·((k mod 7) + s)``.

**Halo exchange.** A periodic Cartesian grid of all ranks (``MPI.Compute_dims`` and
``Create_cart``), 2D with the 4 face neighbours and 3D with all 26 (faces, edges, corners),
the pattern of the CFD and FEA halos. One repetition posts an ``Irecv`` from and an ``Isend``
to every neighbour (tag = the direction's index, so a rank that is its own neighbour on a
small grid still matches each message) and waits for all. Every message carries its sender,
direction and sample, checked on arrival.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np
from mpi4py import MPI

from harness.probe.measure import free, member, split, timed
from harness.probe.sizes import ProbeSizes

Tamper = Callable[[np.ndarray], None] | None


def allreduce(comm: Any, order: list[int], counts: list[int], ladder: list[int],
              sizes: ProbeSizes, tamper: Tamper = None) -> list[dict[str, Any]]:
    """Time ``Allreduce(SUM)`` of float64 vectors over the first ``p`` ranks of ``order`` for
    each ``p`` in ``counts`` and each size (bytes) in ``ladder``. Collective over ``comm``.

    ``tamper`` alters the result on the communicator's first rank before it is checked.

    Returns
    -------
    list of dict
        On world rank 0 (always the first of ``order``): per (p, m) ``{ranks, bytes, batch,
        seconds, seconds_min, seconds_mean, time, verified}``; an empty list elsewhere.
    """
    points: list[dict[str, Any]] = []
    for p in counts:
        sub = split(comm, order[:p])
        if member(sub):
            for nbytes in ladder:
                point = _allreduce_point(sub, nbytes, sizes, tamper)
                if comm.Get_rank() == 0:
                    points.append({"ranks": p, "bytes": nbytes, **point})
        free(sub)
        comm.Barrier()
    return points


def _allreduce_point(sub: Any, nbytes: int, sizes: ProbeSizes,
                     tamper: Tamper) -> dict[str, Any]:
    p, me = sub.Get_size(), sub.Get_rank()
    n = max(1, nbytes // 8)
    base = (np.arange(n) % 7).astype(np.float64)
    send = np.empty(n)
    result = np.empty(n)

    def prepare(sample: int) -> None:
        send[:] = base + (me + 1 + sample)
        result.fill(0.0)

    def body(reps: int) -> None:
        for _ in range(reps):
            sub.Allreduce(send, result, op=MPI.SUM)

    def check(sample: int) -> bool:
        if tamper is not None and me == 0:
            tamper(result)
        expected = p * (p + 1) / 2 + p * (base + sample)
        return bool(np.array_equal(result, expected))

    return timed(sub, body, samples=sizes.samples, sample_seconds=sizes.sample_seconds,
                 prepare=prepare, check=check).to_dict()


def offsets(dims: int) -> list[tuple[int, ...]]:
    """Neighbour directions: 2D the 4 faces, 3D all 26 of the 3×3×3 block but the centre.

    >>> offsets(2)
    [(-1, 0), (1, 0), (0, -1), (0, 1)]
    >>> len(offsets(3))
    26
    """
    if dims == 2:
        return [(-1, 0), (1, 0), (0, -1), (0, 1)]
    return [o for o in itertools.product((-1, 0, 1), repeat=3) if any(o)]


def _message(src: int, direction: int, sample: int, n: int) -> np.ndarray:
    # exact small integers (< 2**53 for any rank count a machine has)
    return ((src * 27 + direction) * 1000 + sample + 1) * 1024.0 + (np.arange(n) % 1024)


def halo(comm: Any, dims: int, ladder: list[int], sizes: ProbeSizes,
         tamper: Tamper = None) -> dict[str, Any]:
    """Time one neighbour exchange on a periodic ``dims``-D grid of all ranks of ``comm`` for
    each message size (bytes to each neighbour) of ``ladder``. Collective.

    ``tamper`` alters the first received message on rank 0 before it is checked.

    Returns
    -------
    dict
        ``{grid, neighbours, points}`` with per size ``{bytes, batch, seconds, seconds_min,
        seconds_mean, time, verified}`` (seconds per exchange), on every rank.
    """
    grid = MPI.Compute_dims(comm.Get_size(), dims)
    cart = comm.Create_cart(grid, periods=[True] * dims, reorder=False)
    try:
        me = cart.Get_rank()
        coords = cart.Get_coords(me)
        dirs = offsets(dims)

        def at(offset: tuple[int, ...], sign: int) -> int:
            return cart.Get_cart_rank([(c + sign * o) % g
                                       for c, o, g in zip(coords, offset, grid, strict=True)])

        dest = [at(o, 1) for o in dirs]
        source = [at(o, -1) for o in dirs]
        points = [{"bytes": m, **_halo_point(cart, m, dest, source, sizes, tamper)}
                  for m in ladder]
    finally:
        cart.Free()
    return {"grid": list(grid), "neighbours": len(dirs), "points": points}


def _halo_point(cart: Any, nbytes: int, dest: list[int], source: list[int],
                sizes: ProbeSizes, tamper: Tamper) -> dict[str, Any]:
    me = cart.Get_rank()
    n = max(1, nbytes // 8)
    sends = [np.empty(n) for _ in dest]
    recvs = [np.empty(n) for _ in source]

    def prepare(sample: int) -> None:
        for k, buf in enumerate(sends):
            buf[:] = _message(me, k, sample, n)
        for buf in recvs:
            buf.fill(-1.0)

    def body(reps: int) -> None:
        for _ in range(reps):
            requests = [cart.Irecv(recvs[k], source=source[k], tag=k) for k in range(len(dest))]
            requests += [cart.Isend(sends[k], dest=dest[k], tag=k) for k in range(len(dest))]
            MPI.Request.Waitall(requests)

    def check(sample: int) -> bool:
        if tamper is not None and me == 0:
            tamper(recvs[0])
        return all(np.array_equal(recvs[k], _message(source[k], k, sample, n))
                   for k in range(len(source)))

    return timed(cart, body, samples=sizes.samples, sample_seconds=sizes.sample_seconds,
                 prepare=prepare, check=check).to_dict()
