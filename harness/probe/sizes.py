"""What ``harness probe`` measures and how much: message sizes, counts, array and file sizes.

Every size is an option (``harness probe --set KEY=VALUE``, keys of :class:`ProbeSizes`); the
defaults keep a whole probe under about a minute on a small node, ``--quick`` scales them down
for tests (then the memory figure is a cache bandwidth, and the record says so).

Byte sizes accept a binary suffix: ``64K``/``64KiB`` (×2¹⁰), ``16M``/``16MiB`` (×2²⁰),
``1G``/``1GiB`` (×2³⁰); a bare number is bytes (``memory``, ``io``: see their keys).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields, replace
from pathlib import Path

from harness.errors import UsageError

_SIZE = re.compile(r"^\s*([0-9]+)\s*(|B|K|KiB|M|MiB|G|GiB)\s*$")
_SCALE = {"": 1, "B": 1, "K": 2**10, "KiB": 2**10, "M": 2**20, "MiB": 2**20,
          "G": 2**30, "GiB": 2**30}
#: smallest message of every ladder (one float64)
MIN_MESSAGE = 8


@dataclass(frozen=True)
class ProbeSizes:
    """The sizes of one probe (bytes unless said otherwise).

    ``pingpong_max``: largest ping-pong message (ladder from 8 B); ``allreduce_max``: largest
    allreduce vector; ``halo_max``: largest message to each neighbour of the halo exchange;
    ``memory``: bytes of each of the three STREAM triad arrays per rank (0: four times the
    last-level cache, STREAM's rule, capped by the node's free memory); ``io``: bytes each
    writer writes and reads back; ``samples``: timed samples per point (after one untimed
    warm-up; at most 3 for file I/O); ``sample_seconds``: the time one sample aims at (batches
    of repetitions). Many short samples rather than a few long ones: the point's figure is the
    fastest sample, and on a busy node more samples give more chances of a quiet one.
    """

    pingpong_max: int = 16 * 2**20
    allreduce_max: int = 2**20
    halo_max: int = 2**20
    memory: int = 0
    io: int = 64 * 2**20
    samples: int = 10
    sample_seconds: float = 0.002

    def validate(self) -> ProbeSizes:
        """``self`` when every size is in range.

        Raises
        ------
        UsageError
            A size out of range; the message names the key and the range.
        """
        for key in ("pingpong_max", "allreduce_max", "halo_max"):
            value = getattr(self, key)
            if not MIN_MESSAGE <= value <= 2**30:
                raise UsageError(f"--set {key}={value}: must be 8 B to 1 GiB")
        if self.memory != 0 and not 2**10 <= self.memory <= 2**36:
            raise UsageError(f"--set memory={self.memory}: must be 0 (automatic) or 1 KiB "
                             "to 64 GiB per array")
        if not 2**10 <= self.io <= 2**36:
            raise UsageError(f"--set io={self.io}: must be 1 KiB to 64 GiB per writer")
        if not 1 <= self.samples <= 1000:
            raise UsageError(f"--set samples={self.samples}: must be 1 to 1000")
        if not 1e-6 <= self.sample_seconds <= 10:
            raise UsageError(f"--set sample_seconds={self.sample_seconds}: must be 1e-6 to 10")
        return self


#: ``--quick``: small enough for a test at 1–4 ranks on a laptop
QUICK = ProbeSizes(pingpong_max=64 * 2**10, allreduce_max=4 * 2**10, halo_max=4 * 2**10,
                   memory=2**20, io=2**20, samples=3, sample_seconds=0.001)


def parse_size(key: str, text: str) -> int:
    """``"16M"`` → 16777216: bytes with an optional binary suffix (module docstring).

    Raises
    ------
    UsageError
        Not a whole number with one of the suffixes.
    """
    match = _SIZE.match(text)
    if not match:
        raise UsageError(f"--set {key}={text!r}: write a whole number of bytes, optionally with "
                         "K, M or G (binary: 16M = 16 MiB)")
    return int(match.group(1)) * _SCALE[match.group(2)]


def sizes_from(settings: dict[str, str], quick: bool) -> ProbeSizes:
    """The defaults (or :data:`QUICK`) with ``settings`` (``--set`` key → text) applied.

    Raises
    ------
    UsageError
        An unknown key (the message lists the keys) or a value out of range.
    """
    base = QUICK if quick else ProbeSizes()
    known = {f.name: f for f in fields(ProbeSizes)}
    changes: dict[str, int | float] = {}
    for key, text in settings.items():
        if key not in known:
            raise UsageError(f"--set {key!r}: unknown probe size; choose one of "
                             f"{', '.join(known)}")
        if key == "sample_seconds":
            try:
                changes[key] = float(text)
            except ValueError:
                raise UsageError(f"--set {key}={text!r}: must be a number of seconds") from None
        elif key == "samples":
            if not text.strip().isdigit():
                raise UsageError(f"--set {key}={text!r}: must be a whole number")
            changes[key] = int(text)
        else:
            changes[key] = parse_size(key, text)
    return replace(base, **changes).validate()


def message_ladder(largest: int, smallest: int = MIN_MESSAGE) -> list[int]:
    """Message sizes ``smallest·4^k`` up to ``largest``, and ``largest`` itself (bytes).

    >>> message_ladder(1024)
    [8, 32, 128, 512, 1024]
    """
    sizes = []
    size = smallest
    while size < largest:
        sizes.append(size)
        size *= 4
    sizes.append(largest)
    return sizes


def count_ladder(largest: int) -> list[int]:
    """1, 2, 4, … (powers of two below ``largest``) and ``largest``.

    >>> count_ladder(6)
    [1, 2, 4, 6]
    """
    counts = []
    count = 1
    while count < largest:
        counts.append(count)
        count *= 2
    counts.append(largest)
    return counts


def last_level_cache_bytes(cpu: str = "/sys/devices/system/cpu/cpu0/cache") -> int:
    """Size in bytes of the largest cache sysfs lists for CPU 0 (0 when sysfs says nothing)."""
    best = 0
    for entry in Path(cpu).glob("index*/size"):
        try:
            text = entry.read_text().strip()
        except OSError:
            continue
        scale = {"K": 2**10, "M": 2**20, "G": 2**30}.get(text[-1:], 1)
        digits = text.rstrip("KMG")
        if digits.isdigit():
            best = max(best, int(digits) * scale)
    return best


def available_memory_bytes(meminfo: str = "/proc/meminfo") -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes, or None when unreadable."""
    try:
        for line in Path(meminfo).read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def triad_array_bytes(sizes: ProbeSizes, ranks_on_node: int) -> int:
    """Bytes of each triad array per rank: ``sizes.memory`` when set, else four times the
    last-level cache (STREAM's rule; at least 32 MiB), capped so that the node's ranks' three
    arrays take at most half of ``MemAvailable``; a multiple of 8, at least 1 KiB."""
    if sizes.memory:
        return sizes.memory // 8 * 8
    wanted = max(4 * last_level_cache_bytes(), 32 * 2**20)
    free = available_memory_bytes()
    if free is not None:
        wanted = min(wanted, free // (2 * 3 * max(1, ranks_on_node)))
    return max(2**10, wanted // 8 * 8)


def check_room(sizes: ProbeSizes, writers: int, ranks_on_node: int, out: Path) -> None:
    """Refuse sizes the machine cannot hold before anything runs: ``writers`` files of
    ``sizes.io`` bytes at once in ``out`` (its file system's free space), and an explicit
    ``sizes.memory`` × 3 arrays × ``ranks_on_node`` (the node's ``MemAvailable``).

    Raises
    ------
    UsageError
        The files or the arrays would not fit; the message says how much is free.
    """
    import shutil

    try:
        free = shutil.disk_usage(out).free
    except OSError:
        free = None
    if free is not None and writers * sizes.io > free:
        raise UsageError(f"--set io={sizes.io}: {writers} writers need {writers * sizes.io} "
                         f"bytes in {out}, which has {free} free; choose a smaller io")
    available = available_memory_bytes()
    need = 3 * sizes.memory * ranks_on_node
    if sizes.memory and available is not None and need > available:
        raise UsageError(f"--set memory={sizes.memory}: {ranks_on_node} ranks need {need} "
                         f"bytes of triad arrays, the node has {available} available; choose "
                         "a smaller memory (or 0: automatic)")
