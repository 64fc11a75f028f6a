"""Block partitioning of ``n`` items over ``parts``: pure integers, no MPI.

The first ``n % parts`` blocks get one extra item, so sizes differ by at most one and every item
is owned exactly once.
"""

from __future__ import annotations


def check_ranks(ranks: int) -> int:
    """``ranks``, a process count; ``ValueError`` naming it when it is below 1."""
    if ranks < 1:
        raise ValueError(f"ranks must be >= 1, got {ranks}")
    return ranks


def block_range(n: int, parts: int, index: int) -> tuple[int, int]:
    """Half-open range ``[start, stop)`` of block ``index`` when ``n`` items go to ``parts`` blocks.

    Raises
    ------
    ValueError
        When ``parts < 1``, ``n < 0`` or ``index`` is outside ``[0, parts)``.
    """
    if parts < 1 or n < 0 or not 0 <= index < parts:
        raise ValueError(f"bad block request: n={n}, parts={parts}, index={index}")
    base, extra = divmod(n, parts)
    start = index * base + min(index, extra)
    return start, start + base + (1 if index < extra else 0)


def block_sizes(n: int, parts: int) -> list[int]:
    """Sizes of all ``parts`` blocks of ``n`` items (see :func:`block_range`)."""
    return [stop - start for start, stop in (block_range(n, parts, k) for k in range(parts))]


def block_offsets(n: int, parts: int) -> list[int]:
    """Start of each block, for ``Gatherv``/``Allgatherv`` displacements."""
    return [block_range(n, parts, k)[0] for k in range(parts)]


def block_owner(n: int, parts: int, item: int) -> int:
    """Index of the block that owns ``item``."""
    if not 0 <= item < n:
        raise ValueError(f"item {item} outside [0, {n})")
    base, extra = divmod(n, parts)
    cut = extra * (base + 1)
    if item < cut:
        return item // (base + 1)
    return extra + (item - cut) // base
