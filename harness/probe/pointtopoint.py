"""Ping-pong between two ranks: one-way message time against size, per level.

The pair's first rank sends ``m`` bytes, the second receives them into its buffer and sends
that same buffer back (blocking ``Send``/``Recv`` on ``uint8`` buffers); one repetition is one
round trip and the one-way time is half of it (the convention of the OSU and Intel MPI
Benchmarks' PingPong). Before each sample the sender's data is refilled with a pattern that
depends on the size and the sample and both receive buffers are zeroed; after it the second
rank checks what it received against the pattern and the first that what came back is what it
sent. A probe of one rank has no pair: it times messages from the rank to itself
(``Sendrecv``), the MPI library's copy path, and says so.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from harness.probe.measure import free, member, split, timed
from harness.probe.sizes import ProbeSizes

Tamper = Callable[[np.ndarray], None] | None


def pattern(nbytes: int, seed: int) -> np.ndarray:
    """``nbytes`` bytes (uint8, shape (nbytes,)) that differ with ``seed`` and position."""
    return ((np.arange(nbytes, dtype=np.int64) * 7 + 13 * seed + 1) % 251).astype(np.uint8)


def choose_pairs(hosts: list[str]) -> dict[str, tuple[int, int] | None]:
    """The two pairs a probe times, from each world rank's host name (index = rank).

    ``intra``: rank 0 and the lowest other rank on its host; failing that, the two lowest
    ranks of the first host with two; failing that (one rank per host, or one rank) rank 0
    with itself. ``inter``: rank 0 and the lowest rank on another host, None on one host.
    """
    same = [r for r in range(1, len(hosts)) if hosts[r] == hosts[0]]
    intra: tuple[int, int] | None = (0, same[0]) if same else None
    if intra is None:
        for host in dict.fromkeys(hosts):
            ranks = [r for r, h in enumerate(hosts) if h == host]
            if len(ranks) >= 2:
                intra = (ranks[0], ranks[1])
                break
    other = [r for r in range(len(hosts)) if hosts[r] != hosts[0]]
    return {"intra": intra or (0, 0), "inter": (0, other[0]) if other else None}


def pingpong(comm: Any, pair: tuple[int, int], ladder: list[int], sizes: ProbeSizes,
             tamper: Tamper = None) -> list[dict[str, Any]] | None:
    """Time one-way messages between the world ranks ``pair`` for each size of ``ladder``.

    Collective over ``comm`` (ranks outside the pair wait). ``tamper``, when given, alters
    the data the pair's first rank got back before it is checked (tests of the check).

    Returns
    -------
    list of dict or None
        On the pair's first rank: per size ``{bytes, batch, seconds, seconds_min,
        seconds_mean, time, verified}``, times one way in seconds. None elsewhere.
    """
    if pair[0] == pair[1]:
        return _to_self(comm, pair[0], ladder, sizes, tamper)
    sub = split(comm, list(pair))
    points = None
    if member(sub):
        points = [_pair_point(sub, m, sizes, tamper) for m in ladder]
        if sub.Get_rank() != 0:
            points = None
    free(sub)
    comm.Barrier()
    return points


def _pair_point(sub: Any, nbytes: int, sizes: ProbeSizes, tamper: Tamper) -> dict[str, Any]:
    first = sub.Get_rank() == 0
    buf = np.zeros(nbytes, dtype=np.uint8)
    sent = np.zeros(nbytes, dtype=np.uint8)

    def prepare(sample: int) -> None:
        buf.fill(0)
        if first:
            sent[:] = pattern(nbytes, sample + 1)

    def body(n: int) -> None:
        if first:
            for _ in range(n):
                sub.Send(sent, dest=1, tag=7)
                sub.Recv(buf, source=1, tag=7)
        else:
            for _ in range(n):
                sub.Recv(buf, source=0, tag=7)
                sub.Send(buf, dest=0, tag=7)

    def check(sample: int) -> bool:
        if first:
            if tamper is not None:
                tamper(buf)
            return bool(np.array_equal(buf, sent))
        return bool(np.array_equal(buf, pattern(nbytes, sample + 1)))

    timing = timed(sub, body, samples=sizes.samples, sample_seconds=sizes.sample_seconds,
                   prepare=prepare, check=check)
    return {"bytes": nbytes, **timing.to_dict(scale=0.5)}


def _to_self(comm: Any, rank: int, ladder: list[int], sizes: ProbeSizes,
             tamper: Tamper) -> list[dict[str, Any]] | None:
    sub = split(comm, [rank])
    points = None
    if member(sub):
        points = []
        for nbytes in ladder:
            buf = np.zeros(nbytes, dtype=np.uint8)
            sent = np.zeros(nbytes, dtype=np.uint8)

            def prepare(sample: int, buf=buf, sent=sent, nbytes=nbytes) -> None:
                buf.fill(0)
                sent[:] = pattern(nbytes, sample + 1)

            def body(n: int, buf=buf, sent=sent) -> None:
                for _ in range(n):
                    sub.Sendrecv(sent, dest=0, sendtag=7, recvbuf=buf, source=0, recvtag=7)

            def check(sample: int, buf=buf, sent=sent) -> bool:
                if tamper is not None:
                    tamper(buf)
                return bool(np.array_equal(buf, sent))

            timing = timed(sub, body, samples=sizes.samples,
                           sample_seconds=sizes.sample_seconds, prepare=prepare, check=check)
            points.append({"bytes": nbytes, **timing.to_dict()})
    free(sub)
    comm.Barrier()
    return points
