"""The CFD stencil's bound from a measured memory hierarchy (``stream.measure_hierarchy``).

One cell update of ``kernels/cfd.update`` makes five 8-byte loads (centre, north, south, east,
west) and one 8-byte store. Where each is served from, for a grid of n² cells swept row by row:

* the south row is new: it streams from the level that holds the grid, paired with the store of
  ``out`` — one *copy* (8 B read + 8 B written) at that level's measured copy rate, the
  16 B/update the harness counts;
* east and west lie on the centre's cache lines, just loaded: two loads at the L1 read rate;
* north and centre were loaded one and two rows ago: two loads at the read rate of the smallest
  level that holds the four rows in flight (north, centre, south, out), the *layer condition* of
  stencil codes (Stengel et al., "Quantifying performance bottlenecks of stencil computations
  using the Execution-Cache-Memory model", ICS 2015).

A level "holds" data up to half its capacity: the layer condition's usual safety factor for
caches that are not ideal LRU, and the working set at which ``stream.measure_hierarchy``
measures each level.

Rates are the Numba loops' own (a load-only sum and a copy, STREAM's byte counting), measured
per level, so the bound is in the same units as the copy roof of the CFD benchmark. Two ways to
combine the times per update, and the bound each gives:

* *overlapped* (the roofline: Williams, Waterman, Patterson, CACM 2009): every level works at
  once, the slowest sets the pace — time = max(grid copy, all the cache work);
* *additive* (the ECM model's non-overlapping case, Stengel et al.): the four extra loads do not
  hide under the grid's transfers — time = grid copy + extra loads (the grid level's measured
  copy already holds the copy's own L1 work; the overlapped model prices it at the L1 copy rate).

The fraction of copy a model allows is (grid copy time) / (model's time per update).
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass

WORD = 8
ROWS_IN_FLIGHT = 4  # north, centre, south, out


@dataclass(frozen=True)
class Level:
    """Measured rates of one level: ``capacity`` bytes (None for DRAM), the working set used,
    the load-only sum's and the copy's bytes per second (STREAM's counting: 8 and 16 B per
    element)."""

    name: str
    capacity: int | None
    working_bytes: int
    read_bytes_per_s: float
    copy_bytes_per_s: float


@dataclass(frozen=True)
class StencilBound:
    """What :func:`stencil_bound` predicts for one grid: where the grid and its rows sit, the time
    per update of each part (seconds) and the updates/s and fraction of the grid level's copy
    that each model allows."""

    grid_level: str
    rows_level: str
    copy_seconds: float
    extra_load_seconds: float
    l1_copy_seconds: float
    overlapped_updates_per_s: float
    additive_updates_per_s: float

    @property
    def overlapped_fraction(self) -> float:
        return self.copy_seconds * self.overlapped_updates_per_s

    @property
    def additive_fraction(self) -> float:
        return self.copy_seconds * self.additive_updates_per_s


def holding_level(levels: list[Level], nbytes: int) -> Level:
    """The smallest level with ``nbytes`` <= half its capacity (the last level, DRAM, else).

    Raises
    ------
    ValueError
        When ``levels`` is empty.
    """
    if not levels:
        raise ValueError("no measured levels")
    for level in levels:
        if level.capacity is not None and 2 * nbytes <= level.capacity:
            return level
    return levels[-1]


def stencil_bound(levels: list[Level], n: int) -> StencilBound:
    """The bound of the 5-point update on an (n+2)² grid pair from the measured ``levels``
    (ordered L1 first, DRAM last), under the traffic of the module docstring.

    Raises
    ------
    ValueError
        When ``levels`` is empty or ``n`` < 1.
    """
    if n < 1:
        raise ValueError(f"n = {n}: must be >= 1")
    grid = holding_level(levels, 2 * WORD * (n + 2) ** 2)
    rows = holding_level(levels, ROWS_IN_FLIGHT * WORD * (n + 2))
    l1 = levels[0]
    copy_s = 2 * WORD / grid.copy_bytes_per_s
    extra_s = 2 * WORD / l1.read_bytes_per_s + 2 * WORD / rows.read_bytes_per_s
    l1_copy_s = 2 * WORD / l1.copy_bytes_per_s
    return StencilBound(grid.name, rows.name, copy_s, extra_s, l1_copy_s,
                        1.0 / max(copy_s, l1_copy_s + extra_s), 1.0 / (copy_s + extra_s))


def describe(levels: list[Level], bound: StencilBound) -> str:
    """One line: the measured rates per level and the bounds, for a check's detail."""
    rates = ", ".join(f"{lv.name} {lv.read_bytes_per_s / 1e9:.0f}/{lv.copy_bytes_per_s / 1e9:.0f}"
                      for lv in levels)
    return (f"limit: measured read/copy GB/s {rates}; grid in {bound.grid_level}, rows in "
            f"{bound.rows_level}: stencil bound {bound.overlapped_fraction:.2f}x copy if cache "
            f"work overlaps memory transfers, {bound.additive_fraction:.2f}x if it adds")


def perf_counters(timeout: float = 10.0) -> str:
    """Whether ``perf stat`` can count hardware events here: ``"available"``, else why not.

    Runs ``perf stat -x, -e cycles true``; in a guest without a virtual PMU the counter is
    reported ``<not supported>``, and bytes moved per update cannot be measured with it.
    """
    perf = shutil.which("perf")
    if perf is None:
        return "perf not found on PATH"
    try:
        done = subprocess.run([perf, "stat", "-x,", "-e", "cycles", "true"], capture_output=True,
                              text=True, timeout=timeout, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return f"perf stat failed to run ({e})"
    text = done.stderr.strip()
    if done.returncode != 0:
        return f"perf stat exited {done.returncode}: {text.splitlines()[-1] if text else ''}"
    if "<not supported>" in text or "<not counted>" in text:
        return "perf stat: hardware counters not supported here (cycles <not supported>)"
    return "available"
