"""Serial-fraction arithmetic for the report's "Amdahl analysis" paragraphs, and mitigations.

With ``r = p/p0`` the scale over the baseline and ``E`` the parallel efficiency there:

- strong scaling (Amdahl): ``E = 1/(1 + f(r - 1))``, so one measured point gives
  ``f = (1/E - 1)/(r - 1)`` — the Karp–Flatt metric (Karp & Flatt, CACM 33(5), 1990) — and the
  speedup can never exceed ``1/f``. Efficiency 0.78 at 100x is f = 0.285 %, a ceiling of 351x.
- weak scaling (Gustafson): scaled speedup ``r - f(r - 1)``, so ``E = 1 - f(1 - 1/r)`` and
  ``f = (1 - E) r/(r - 1)``; there is no ceiling.

Pure functions over floats; no I/O.
"""

from __future__ import annotations

import math

#: bottleneck name (as the analyzer gives it) -> what would move it
MITIGATIONS = {
    "Network I/O": "a faster interconnect, or overlapping the halo exchange with computation",
    "File I/O": "a parallel filesystem, or collective (MPI-IO) writes",
    "Synchronization": "an asynchronous algorithm: fewer global synchronizations per step",
    "Communication": "fewer, larger messages, or dynamic work distribution",
}
#: phase -> bottleneck name, for an analyzer that names only the phase
PHASE_NAMES = {"halo": "Network I/O", "io": "File I/O", "reduce": "Synchronization",
               "distribute": "Communication", "serial": "Serial work"}


def amdahl_fraction(efficiency: float, scale: float) -> float:
    """Amdahl serial fraction ``f = (1/E - 1)/(r - 1)`` from efficiency ``E`` at scale ``r``.

    Negative for a superlinear point (E > 1). Raises ``ValueError`` when ``r <= 1`` or
    ``E <= 0`` (the formula is undefined there).
    """
    if not scale > 1 or not efficiency > 0:
        raise ValueError(f"serial fraction needs scale > 1 and efficiency > 0, "
                         f"got r = {scale}, E = {efficiency}")
    return (1.0 / efficiency - 1.0) / (scale - 1.0)


def gustafson_fraction(efficiency: float, scale: float) -> float:
    """Gustafson serial fraction ``f = (1 - E) r/(r - 1)`` from weak-scaling efficiency ``E``.

    Raises ``ValueError`` when ``r <= 1``.
    """
    if not scale > 1:
        raise ValueError(f"serial fraction needs scale > 1, got r = {scale}")
    return (1.0 - efficiency) * scale / (scale - 1.0)


def ceiling(fraction: float) -> float:
    """Amdahl's speedup ceiling ``1/f``; ``inf`` for ``f <= 0`` (no ceiling) or NaN."""
    if not math.isfinite(fraction) or fraction <= 0:
        return math.inf
    return 1.0 / fraction


def amdahl_efficiency(fraction: float, scale: float) -> float:
    """Efficiency Amdahl's law gives at scale ``r``: ``1/(1 + f(r - 1))``."""
    return 1.0 / (1.0 + fraction * (scale - 1.0))


def percent(fraction: float) -> str:
    """A fraction as a percentage with three significant digits: ``0.00285`` -> ``0.285 %``."""
    return f"{100 * fraction:.3g} %"


def times(value: float) -> str:
    """A scale or speedup: ``351x``, ``4.5x``, ``no ceiling`` for infinity."""
    if not math.isfinite(value):
        return "no ceiling"
    return f"{value:.0f}×" if value >= 100 else f"{value:.3g}×"


def mitigation(name: str | None, phase: str | None = None,
               serial_fraction: float | None = None) -> str:
    """What would move a bottleneck, from the name the analyzer gave it (or its phase).

    ``Serial work`` names the serial fraction when one is known; an unknown name gets a generic
    advice naming the phase; no bottleneck gives ``"-"``.
    """
    if not name and phase:
        name = PHASE_NAMES.get(phase, phase)
    if not name:
        return "-"
    if name == "Serial work":
        if serial_fraction is not None and math.isfinite(serial_fraction) and serial_fraction > 0:
            return (f"shrink the serial part: f = {percent(serial_fraction)} caps the speedup at "
                    f"{times(ceiling(serial_fraction))}")
        return "shrink the serial part of the run"
    if name in MITIGATIONS:
        return MITIGATIONS[name]
    return f"reduce the time spent in {phase or name}"
