"""Write and read bandwidth to a file system against the number of concurrent writers.

For each writer count ``w`` (1, 2, 4, …, all ranks), ranks ``0 … w−1`` each write a file of
``io`` bytes into the scratch directory at the same moment (``os.write`` in chunks, ``fsync``,
close: the time until the data is on stable storage), then, after ``posix_fadvise(DONTNEED)``
asked the kernel to drop the file's now clean pages from its cache, read it back (``readinto``).
A repetition's time is the slowest writer's (MAX); the aggregate bandwidth is ``w × io`` bytes
over it (the fastest sample's). Each sample writes data of its own (rank, sample) and the
read-back is compared with what the last sample wrote. The files are removed at the end.

Where the file system ignores the advice (some network file systems) the read figure can be the
page cache's; the record keeps whether the advice was accepted (``cache_dropped``).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from harness.probe.measure import timed
from harness.probe.sizes import ProbeSizes, count_ladder

#: bytes per ``os.write`` call
CHUNK = 8 * 2**20


def content(rank: int, sample: int, nbytes: int) -> np.ndarray:
    """The bytes (uint8, shape (nbytes,)) ``rank`` writes in ``sample``: a counter offset by a
    value of (rank, sample)."""
    words = -(-nbytes // 8)
    offset = np.uint64(((rank * 1_000_003 + (sample + 2) * 7919) % 2**30) << 34)
    return (np.arange(words, dtype=np.uint64) + offset).view(np.uint8)[:nbytes]


def _write(path: Path, data: np.ndarray) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        done = 0
        while done < len(view):
            done += os.write(fd, view[done:done + CHUNK])
        os.fsync(fd)
    finally:
        os.close(fd)


def _drop_cache(path: Path) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return True
    except (OSError, AttributeError):
        return False
    finally:
        os.close(fd)


def _read(path: Path, into: np.ndarray) -> None:
    with open(path, "rb", buffering=0) as fh:
        view = memoryview(into)
        done = 0
        while done < len(view):
            got = fh.readinto(view[done:done + CHUNK])
            if not got:
                break
            done += got


class _Files:
    """One rank's file, its data and read-back buffer, and the untimed steps around them."""

    def __init__(self, path: Path, rank: int, nbytes: int, tamper: Any):
        self.path, self.rank, self.nbytes, self.tamper = path, rank, nbytes, tamper
        self.active = False
        self.data = content(rank, -1, nbytes)
        self.written = -1  # the sample whose data the file holds
        self.back = np.empty(nbytes, dtype=np.uint8)
        self.dropped = True

    def prepare_write(self, sample: int) -> None:
        if self.active:
            self.data = content(self.rank, sample, self.nbytes)
            self.written = sample

    def write(self, reps: int) -> None:
        for _ in range(reps if self.active else 0):
            _write(self.path, self.data)

    def prepare_read(self, sample: int) -> None:
        if self.active:
            self.back.fill(0)
            self.dropped = _drop_cache(self.path) and self.dropped

    def read(self, reps: int) -> None:
        for _ in range(reps if self.active else 0):
            _read(self.path, self.back)

    def check(self, sample: int) -> bool:
        if not self.active:
            return True
        if self.tamper is not None and self.rank == 0:
            self.tamper(self.back)
        return bool(np.array_equal(self.back, content(self.rank, self.written, self.nbytes)))


def io_curve(comm: Any, directory: Path, sizes: ProbeSizes,
             tamper: Any = None) -> dict[str, Any]:
    """Aggregate write and read bandwidth of 1, 2, 4, …, all ranks of ``comm`` writing one file
    of ``sizes.io`` bytes each into ``directory`` (created if missing). Collective.

    ``tamper`` alters rank 0's read-back buffer before it is checked.

    Returns
    -------
    dict
        On every rank: ``{file_bytes, cache_dropped, points}``, per writer count ``{writers,
        write: {batch, seconds, …, time, verified}, read: {…}, write_bandwidth,
        read_bandwidth}`` (bytes/s, all writers together, at the fastest sample).
    """
    from mpi4py import MPI

    rank, nbytes = comm.Get_rank(), sizes.io
    directory.mkdir(parents=True, exist_ok=True)
    files = _Files(directory / f"probe-io-{rank}.bin", rank, nbytes, tamper)
    samples = max(1, min(sizes.samples, 3))  # a file system is slow: fewer samples
    points: list[dict[str, Any]] = []
    try:
        for writers in count_ladder(comm.Get_size()):
            files.active = rank < writers
            wrote = timed(comm, files.write, samples=samples, sample_seconds=0.0, batch=1,
                          prepare=files.prepare_write)
            got = timed(comm, files.read, samples=samples, sample_seconds=0.0, batch=1,
                        prepare=files.prepare_read, check=files.check)
            moved = writers * nbytes
            points.append({"writers": writers, "write": wrote.to_dict(), "read": got.to_dict(),
                           "write_bandwidth": moved / wrote.best,
                           "read_bandwidth": moved / got.best})
    finally:
        with contextlib.suppress(OSError):
            files.path.unlink()
    dropped = bool(comm.allreduce(files.dropped, op=MPI.LAND))
    return {"file_bytes": nbytes, "cache_dropped": dropped, "points": points}
