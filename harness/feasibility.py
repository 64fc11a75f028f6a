"""Feasibility of a sweep before anything is written or submitted: pure arithmetic, no MPI.

For every point of a spec: the decomposition exists for that problem and rank count (the
workload resolves it, as :func:`harness.specs.load_spec` already did); the ranks fit the nodes
(``cores_per_node``, and ``max_nodes`` when the profile gives it); the memory of the fullest node
fits ``memory_per_node``. That node is the first one: it holds rank 0, which in every workload
holds the most (the largest block, and the gathered results). Its memory is the sum of the
workload's own :meth:`~harness.workloads.base.Workload.memory_per_rank` over the node's ranks,
plus ``RANK_OVERHEAD`` per rank for the interpreter, NumPy, Numba, mpi4py and the compiled
kernels.

On the local backend the node is this machine: its physical memory stands in when the profile
gives no ``memory_per_node``, and the rank count is not limited (oversubscribed local runs are
allowed; they check correctness and the analyzer leaves them out).

:func:`plan` gives the numbers ``harness plan`` prints: points, ranks, nodes, memory per rank,
time limit and the most core-hours the sweep may use.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from harness import workloads
from harness.errors import BadInputError
from harness.specs import Point, Spec

#: resident memory of one rank before its arrays: Python 3.11, NumPy, Numba and mpi4py (MPICH)
#: with a workload's kernels loaded from the cache — 199 to 220 MiB VmRSS measured on the
#: development machine for the five workloads (``/proc/self/status`` after ``precompile``),
#: rounded up
RANK_OVERHEAD = 256 * 2 ** 20


class InfeasibleError(BadInputError):
    """A point of a sweep cannot run on the profile's nodes (exit 2, nothing written)."""


@dataclass(frozen=True)
class PlannedPoint:
    """What one point asks of the cluster: ranks, nodes, bytes and seconds."""

    point: Point
    nodes: int
    ranks_per_node: int
    memory_per_rank: int  # the largest rank's arrays plus RANK_OVERHEAD, bytes
    memory_per_node: int  # the fullest (first) node, bytes
    core_hours: float  # at most: every repetition runs to its time limit
    refused: str | None = None  # the limit it breaks, one line

    @property
    def name(self) -> str:
        """Workload, variant, mode, size and parameter overrides: who the point is."""
        p = self.point
        extra = "".join(f" {k}={v}" for k, v in sorted(p.params.items()))
        return f"{p.workload}/{p.variant} {p.mode} {p.size}{extra}"


def local_memory() -> int | None:
    """Physical memory of this machine in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not on Linux
        return None


def _gib(n: int) -> str:
    return f"{n / 2 ** 30:.1f} GiB"


def plan_point(spec: Spec, point: Point, backend: str = "slurm") -> PlannedPoint:
    """The resources of ``point`` under ``spec``'s profile on ``backend`` (``local``/``slurm``)."""
    profile = spec.profile
    wl = workloads.get(point.workload)
    ranks = point.ranks
    local = backend == "local"
    cpn = None if local else profile.cores_per_node
    nodes = 1 if cpn is None else math.ceil(ranks / cpn)
    refused = None
    if not local and profile.max_nodes is not None and nodes > profile.max_nodes:
        refused = (f"needs {nodes} nodes of cores_per_node {cpn}, more than max_nodes "
                   f"{profile.max_nodes} ({math.ceil(ranks / profile.max_nodes)} ranks per node "
                   f"would exceed the {cpn} cores)")
        nodes = profile.max_nodes
    per_node = math.ceil(ranks / nodes)
    sizes = [wl.memory_per_rank(point.resolved, point.variant, ranks, r) + RANK_OVERHEAD
             for r in range(per_node)]
    node_bytes = sum(sizes)
    limit = profile.memory_per_node if profile.memory_per_node is not None else (
        local_memory() if local else None)
    if refused is None and limit is not None and node_bytes > limit:
        what = "memory_per_node" if profile.memory_per_node is not None else "this machine's"
        refused = (f"needs {_gib(node_bytes)} on its first node ({per_node} ranks, rank 0 "
                   f"{_gib(sizes[0])}), more than {what} {_gib(limit)}")
    billed = nodes * cpn if (profile.exclusive and cpn) else ranks
    core_hours = billed * point.time_limit * point.runs / 3600.0
    return PlannedPoint(point, nodes, per_node, max(sizes), node_bytes, core_hours, refused)


def plan(spec: Spec, backend: str = "slurm") -> list[PlannedPoint]:
    """:func:`plan_point` of every point of ``spec``, in the spec's order."""
    return [plan_point(spec, p, backend) for p in spec.points]


def check_spec(spec: Spec, backend: str = "slurm") -> list[PlannedPoint]:
    """Refuse a spec with a point that cannot run; return the plan otherwise.

    Raises
    ------
    InfeasibleError
        One line naming the first infeasible point — workload, size, cores — and the limit it
        breaks.
    """
    planned = plan(spec, backend)
    for pp in planned:
        if pp.refused:
            raise InfeasibleError(f"{spec.path}: {pp.name} at {pp.point.ranks} cores: "
                                  f"{pp.refused}")
    return planned
