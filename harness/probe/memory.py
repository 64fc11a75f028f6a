"""Memory bandwidth of one node against the number of ranks using it at once (STREAM triad).

On the node of world rank 0, ``j`` of its ``k`` ranks (``j`` = 1, 2, 4, …, k) run the Numba
triad ``a[i] = b[i] + s·c[i]`` (``kernels/stream.py``) over their own float64 arrays at the same
moment; the others wait. A repetition's time is the slowest active rank's (MAX), and the
aggregate bandwidth is ``j × 24 B × n`` over it (the fastest sample's, as STREAM reports):
STREAM's byte count (McCalpin, https://www.cs.virginia.edu/stream/ref.html), 24 B per element,
write-allocate traffic not counted. Each sample uses its own scalar ``s``, so the check ``a == 2
+ 0.5·s`` after it fails if the triad did not run over the whole array. STREAM's rule asks for
arrays of at least four times the last-level cache; the record says when they were smaller (then
the figure is partly a cache bandwidth).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from harness.probe.measure import free, member, split, timed
from harness.probe.sizes import ProbeSizes, count_ladder
from kernels.stream import TRIAD_BYTES, triad


def precompile(comm: Any) -> None:
    """Compile the triad on rank 0 first (filling Numba's cache), then on the others, so no
    two ranks write the cache files at once. Collective."""
    tiny = np.ones(8)
    if comm.Get_rank() == 0:
        triad(tiny, tiny, tiny, 1.0)
    comm.Barrier()
    if comm.Get_rank() != 0:
        triad(tiny, tiny, tiny, 1.0)


def triad_curve(comm: Any, node_ranks: list[int], array_bytes: int, sizes: ProbeSizes,
                tamper: Any = None) -> list[dict[str, Any]]:
    """Aggregate triad bandwidth of ``j`` of the world ranks ``node_ranks`` (one node's, rank 0
    first) for each ``j`` of 1, 2, 4, …, ``len(node_ranks)``. Collective over ``comm``.

    ``array_bytes`` is the size of each of a rank's three arrays; ``tamper`` alters rank 0's
    result array before it is checked.

    Returns
    -------
    list of dict
        On world rank 0: per count ``{ranks, batch, seconds, seconds_min, seconds_mean, time,
        median, verified, bandwidth, median_bandwidth}`` (bytes/s, all active ranks together:
        at the fastest and at the median sample). An empty list elsewhere.
    """
    node = split(comm, node_ranks)
    points: list[dict[str, Any]] = []
    if member(node):
        n = max(1, array_bytes // 8)
        a, b, c = np.zeros(n), np.full(n, 2.0), np.full(n, 0.5)
        me = node.Get_rank()
        scale = [1.0]  # the triad's scalar, one per sample
        for j in count_ladder(node.Get_size()):
            active = me < j

            def body(reps: int, active=active) -> None:
                if active:
                    for _ in range(reps):
                        triad(a, b, c, scale[0])

            def prepare(sample: int) -> None:
                scale[0] = float(sample + 2)

            def check(sample: int, active=active) -> bool:
                if not active:
                    return True
                if tamper is not None and me == 0:
                    tamper(a)
                return bool(np.all(a == 2.0 + 0.5 * (sample + 2)))

            timing = timed(node, body, samples=sizes.samples,
                           sample_seconds=sizes.sample_seconds, prepare=prepare, check=check)
            moved = j * TRIAD_BYTES * n
            if me == 0:
                points.append({"ranks": j, **timing.to_dict(), "bandwidth": moved / timing.best,
                               "median_bandwidth": moved / timing.median})
        del a, b, c
    free(node)
    comm.Barrier()
    return points
