"""Small collectives shared by workloads that need no domain decomposition."""

from __future__ import annotations

from typing import Any


def broadcast(comm: Any, value: Any, root: int = 0) -> Any:
    """``value`` from ``root`` on every rank (a pickled object broadcast)."""
    return comm.bcast(value, root=root)


def allreduce_sum(comm: Any, value: float | int) -> float | int:
    """Sum of ``value`` over all ranks, on every rank."""
    return comm.allreduce(value)


def allreduce_max(comm: Any, value: float) -> float:
    """Maximum of ``value`` over all ranks, on every rank."""
    from mpi4py import MPI

    return comm.allreduce(value, op=MPI.MAX)
