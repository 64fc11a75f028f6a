"""A communicator that counts what a workload sends, per phase, for comparing with ``costs()``.

:func:`counting` wraps an mpi4py intracommunicator in a subclass of ``MPI.Intracomm`` that
shares its handle (so it works wherever a real communicator does: ``MPI.File.Open``,
``Create_cart``), forwards every call and counts, on this rank:

- point-to-point: messages sent and their bytes (the send buffer's ``nbytes``; 8 for a Python
  number, the pickle's length for another object), messages received (a blocking receive's
  size from its status; a non-blocking one's from its buffer) and the distinct other ranks
  talked to;
- collectives: calls (a barrier, a broadcast, a gather, an allgather, a reduction: one each)
  and their bytes, the larger of the send and receive buffers (what the call assembles).

``Dup`` and ``Create_cart`` return counting communicators that add to the same
:class:`Counter`. A count goes to the phase of the innermost ``with timer(name)`` of a
:class:`CountingTimer`, else to the phase its call site is mapped to (``sites``: qualified
function names, e.g. ``"HaloExchange.start"``, matched on the call stack — for workloads that
time by hand with ``timer.add``), else to ``"untimed"``.

Import as ``from commcount import counting`` (``tests/`` is on pytest's pythonpath).
"""

from __future__ import annotations

import pickle
import sys
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from mpi4py import MPI

from harness.timing import PhaseTimer

UNTIMED = "untimed"


@dataclass
class PhaseCount:
    """What one rank did in one phase."""

    sent: int = 0
    sent_bytes: int = 0
    received: int = 0
    received_bytes: int = 0
    peers: set[int] = field(default_factory=set)
    collectives: int = 0
    collective_bytes: int = 0


class Counter:
    """Counts per phase for every communicator derived from one :func:`counting` call."""

    def __init__(self, sites: dict[str, str] | None = None):
        self.sites = dict(sites or {})
        self.active: str | None = None
        self.counts: dict[str, PhaseCount] = defaultdict(PhaseCount)

    def reset(self) -> None:
        self.counts = defaultdict(PhaseCount)

    def phase(self) -> str:
        if self.active is not None:
            return self.active
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_code.co_qualname
            if name in self.sites:
                return self.sites[name]
            frame = frame.f_back
        return UNTIMED

    def here(self) -> PhaseCount:
        return self.counts[self.phase()]


def payload(obj: Any) -> int:
    """Bytes of a message or collective buffer (see the module docstring)."""
    if obj is None or obj is MPI.IN_PLACE:
        return 0
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, (list, tuple)) and obj and isinstance(obj[0], np.ndarray):
        return obj[0].nbytes  # [buffer, datatype] or [buffer, counts, displacements, datatype]
    if isinstance(obj, (bool, int, float)):
        return 8
    return len(pickle.dumps(obj, pickle.HIGHEST_PROTOCOL))


class _Counting:
    """The counting methods; mixed into subclasses of ``MPI.Intracomm`` and ``MPI.Cartcomm``."""

    counter: Counter

    # -- point to point -------------------------------------------------------------------------

    def _sent(self, buf: Any, dest: int) -> None:
        c = self.counter.here()
        c.sent += 1
        c.sent_bytes += payload(buf)
        if dest != self.Get_rank():
            c.peers.add(dest)

    def _received(self, nbytes: int, source: int) -> None:
        c = self.counter.here()
        c.received += 1
        c.received_bytes += nbytes
        if source != self.Get_rank():
            c.peers.add(source)

    def Send(self, buf, dest, tag=0):
        self._sent(buf, dest)
        return super().Send(buf, dest, tag)

    def Isend(self, buf, dest, tag=0):
        self._sent(buf, dest)
        return super().Isend(buf, dest, tag)

    def send(self, obj, dest, tag=0):
        self._sent(obj, dest)
        return super().send(obj, dest, tag)

    def Recv(self, buf, source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=None):
        status = MPI.Status() if status is None else status
        out = super().Recv(buf, source, tag, status)
        self._received(status.Get_count(MPI.BYTE), status.Get_source())
        return out

    def Irecv(self, buf, source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG):
        self._received(payload(buf), source)
        return super().Irecv(buf, source, tag)

    def Sendrecv(self, sendbuf, dest, sendtag=0, recvbuf=None, source=MPI.ANY_SOURCE,
                 recvtag=MPI.ANY_TAG, status=None):
        self._sent(sendbuf, dest)
        self._received(payload(recvbuf), source)
        return super().Sendrecv(sendbuf, dest, sendtag, recvbuf, source, recvtag, status)

    # -- collectives ----------------------------------------------------------------------------

    def _collective(self, *buffers: Any) -> None:
        c = self.counter.here()
        c.collectives += 1
        c.collective_bytes += max([payload(b) for b in buffers] or [0])

    def Barrier(self):
        self._collective()
        return super().Barrier()

    def Bcast(self, buf, root=0):
        self._collective(buf)
        return super().Bcast(buf, root)

    def bcast(self, obj, root=0):
        self._collective(obj)
        return super().bcast(obj, root)

    def Allreduce(self, sendbuf, recvbuf, op=MPI.SUM):
        self._collective(sendbuf, recvbuf)
        return super().Allreduce(sendbuf, recvbuf, op)

    def allreduce(self, sendobj, op=MPI.SUM):
        self._collective(sendobj)
        return super().allreduce(sendobj, op)

    def Reduce(self, sendbuf, recvbuf, op=MPI.SUM, root=0):
        self._collective(sendbuf, recvbuf)
        return super().Reduce(sendbuf, recvbuf, op, root)

    def Gatherv(self, sendbuf, recvbuf, root=0):
        self._collective(sendbuf, recvbuf)
        return super().Gatherv(sendbuf, recvbuf, root)

    def gather(self, sendobj, root=0):
        self._collective(sendobj)
        return super().gather(sendobj, root)

    def Allgatherv(self, sendbuf, recvbuf):
        self._collective(sendbuf, recvbuf)
        return super().Allgatherv(sendbuf, recvbuf)

    def allgather(self, sendobj):
        self._collective(sendobj)
        return super().allgather(sendobj)

    def Iallgather(self, sendbuf, recvbuf):
        self._collective(sendbuf, recvbuf)
        return super().Iallgather(sendbuf, recvbuf)

    # -- derived communicators ------------------------------------------------------------------

    def Dup(self, info=None):
        return _wrap(super().Dup() if info is None else super().Dup(info), self.counter)

    def Create_cart(self, dims, periods=None, reorder=False):
        return _wrap(super().Create_cart(dims, periods, reorder), self.counter)


class CountingIntracomm(_Counting, MPI.Intracomm):
    pass


class CountingCartcomm(_Counting, MPI.Cartcomm):
    pass


def _wrap(comm: Any, counter: Counter) -> Any:
    cls = CountingCartcomm if isinstance(comm, MPI.Cartcomm) else CountingIntracomm
    out = cls(comm)
    out.counter = counter
    return out


def counting(comm: Any, sites: dict[str, str] | None = None) -> tuple[Any, Counter]:
    """A counting communicator sharing ``comm``'s handle (never free it: it is ``comm``),
    and its :class:`Counter`."""
    counter = Counter(sites)
    return _wrap(comm, counter), counter


class CountingTimer(PhaseTimer):
    """A :class:`PhaseTimer` whose ``with timer(name)`` blocks tell ``counter`` the phase."""

    def __init__(self, phases, counter: Counter):
        super().__init__(phases)
        self.counter = counter

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        outer = self.counter.active
        self.counter.active = name
        try:
            with super().__call__(name):
                yield
        finally:
            self.counter.active = outer
