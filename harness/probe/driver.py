"""Rank side of ``harness probe``: run every micro-benchmark in order on ``COMM_WORLD``.

Order: ping-pong (intra-node pair, then inter-node pair when the ranks span nodes), allreduce
(intra-node ranks, then ranks across nodes), halo exchange (2D, 3D), memory bandwidth (the
node of rank 0), file I/O (all ranks). Every benchmark is collective, verifies its data before
its times count (``harness/probe/measure.py``), and returns its points on rank 0, which prints
one progress line per benchmark on stderr and assembles the record (``record.py``).
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mpi4py import MPI

from harness.probe import collective, fileio, memory, pointtopoint
from harness.probe.sizes import ProbeSizes, count_ladder, message_ladder, triad_array_bytes


@dataclass
class Layout:
    """Where the ranks are: each world rank's host name (``MPI.Get_processor_name``)."""

    hosts: list[str]

    @property
    def nodes(self) -> int:
        return len(set(self.hosts))

    def on_host_of(self, rank: int) -> list[int]:
        """World ranks on the host of ``rank``, in rank order."""
        return [r for r, h in enumerate(self.hosts) if h == self.hosts[rank]]

    def round_robin(self) -> list[int]:
        """World ranks taken from each host in turn (rank 0's host first), so that any first
        two or more of them span two hosts or more."""
        groups = [self.on_host_of(r) for r in dict.fromkeys(
            self.hosts.index(h) for h in self.hosts)]
        order: list[int] = []
        for i in range(max(len(g) for g in groups)):
            order += [g[i] for g in groups if i < len(g)]
        return order


def say(comm: Any, text: str) -> None:
    """One progress line on stderr, from rank 0 only."""
    if comm.Get_rank() == 0:
        sys.stderr.write(f"probe: {text}\n")
        sys.stderr.flush()


def _span(ladder: list[int]) -> str:
    return f"{len(ladder)} sizes {_bytes(ladder[0])}-{_bytes(ladder[-1])}"


def _bytes(n: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n:g} B"


def measure(comm: Any, sizes: ProbeSizes, scratch: Path,
            hosts: list[str] | None = None) -> dict[str, Any]:
    """Run the micro-benchmarks on ``comm``; collective.

    ``scratch`` is the directory the I/O benchmark writes its files in (removed after it).
    ``hosts`` (one name per rank, the same on every rank) replaces the ranks' processor names,
    e.g. to run the inter-node benchmarks between ranks of one machine in a test.

    Returns
    -------
    dict
        On rank 0: ``hosts``, ``pingpong`` ({intra, inter}: {pair, hosts, points} or None),
        ``allreduce`` ({intra, inter}: {order, points} or None), ``halo`` ({2d, 3d}),
        ``memory`` ({array_bytes, points}) and ``io`` ({file_bytes, cache_dropped, points}).
        Elsewhere the same keys with what the rank saw (not used).
    """
    layout = Layout(list(hosts) if hosts is not None
                    else comm.allgather(MPI.Get_processor_name()))
    result: dict[str, Any] = {"hosts": sorted(set(layout.hosts))}
    result["pingpong"] = _pingpong(comm, layout, sizes)
    result["allreduce"] = _allreduce(comm, layout, sizes)
    ladder = message_ladder(sizes.halo_max)
    result["halo"] = {}
    for dims in (2, 3):
        say(comm, f"halo exchange {dims}D, {comm.Get_size()} ranks, {_span(ladder)} "
            "per neighbour")
        result["halo"][f"{dims}d"] = collective.halo(comm, dims, ladder, sizes)
    node = layout.on_host_of(0)
    array_bytes = comm.bcast(triad_array_bytes(sizes, len(node)) if comm.Get_rank() == 0
                             else None, root=0)
    say(comm, f"memory: STREAM triad, 1-{len(node)} ranks of one node, "
        f"3 arrays of {_bytes(array_bytes)} each per rank")
    memory.precompile(comm)
    result["memory"] = {"array_bytes": array_bytes,
                        "points": memory.triad_curve(comm, node, array_bytes, sizes)}
    say(comm, f"file I/O: 1-{comm.Get_size()} writers, {_bytes(sizes.io)} each, in {scratch}")
    try:
        result["io"] = fileio.io_curve(comm, scratch, sizes)
    finally:
        comm.Barrier()
        if comm.Get_rank() == 0:
            shutil.rmtree(scratch, ignore_errors=True)
    return result


def _pingpong(comm: Any, layout: Layout, sizes: ProbeSizes) -> dict[str, Any]:
    ladder = message_ladder(sizes.pingpong_max)
    pairs = pointtopoint.choose_pairs(layout.hosts)
    out: dict[str, Any] = {}
    for level in ("intra", "inter"):
        pair = pairs[level]
        if pair is None:
            out[level] = None
            continue
        what = "to itself (one rank)" if pair[0] == pair[1] else f"ranks {pair[0]}-{pair[1]}"
        say(comm, f"ping-pong {level}-node, {what}, {_span(ladder)}")
        points = pointtopoint.pingpong(comm, pair, ladder, sizes)
        points = comm.bcast(points if comm.Get_rank() == pair[0] else None, root=pair[0])
        out[level] = {"pair": list(pair), "hosts": [layout.hosts[r] for r in pair],
                      "points": points}
    return out


def _allreduce(comm: Any, layout: Layout, sizes: ProbeSizes) -> dict[str, Any]:
    ladder = message_ladder(sizes.allreduce_max)
    intra = layout.on_host_of(0)
    out: dict[str, Any] = {}
    counts = count_ladder(len(intra))
    say(comm, f"allreduce intra-node, ranks {counts}, {_span(ladder)}")
    out["intra"] = {"order": intra,
                    "points": collective.allreduce(comm, intra, counts, ladder, sizes)}
    out["inter"] = None
    if layout.nodes > 1:
        order = layout.round_robin()
        counts = [p for p in count_ladder(len(order)) if p >= 2]
        say(comm, f"allreduce across nodes, ranks {counts}, {_span(ladder)}")
        out["inter"] = {"order": order,
                        "points": collective.allreduce(comm, order, counts, ladder, sizes)}
    return out
