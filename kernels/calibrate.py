"""Calibration kernel: a dependent chain of floating-point work of a known length.

Each iteration depends on the previous one (``x ← √(a·x + 1)``), so the loop can be neither
vectorized nor removed, and its time is proportional to the iteration count. The chain
converges to the fixed point of ``x = √(a·x + 1)``, which gives the verification.
"""

from __future__ import annotations

import math

from numba import njit

A = 1.0000001


@njit(cache=True)
def spin(iterations, x0):  # pragma: no cover - compiled
    """Run ``iterations`` steps of the chain from ``x0`` and return the last value.

    ``iterations``: int ≥ 0; ``x0``: float ≥ 0; returns a float.
    """
    x = x0
    for _ in range(iterations):
        x = math.sqrt(A * x + 1.0)
    return x


def spin_reference(iterations: int, x0: float) -> float:
    """The same chain in plain Python: the oracle the kernel must match bit for bit."""
    x = x0
    for _ in range(iterations):
        x = math.sqrt(A * x + 1.0)
    return x


def fixed_point() -> float:
    """The limit of the chain: the positive root of x² − a·x − 1 = 0."""
    return (A + math.sqrt(A * A + 4.0)) / 2.0


def precompile() -> None:
    spin(10, 1.0)
