"""Hand-made timing data with known answers, for the report tests.

Import as ``from reportcases import write_cases`` (``tests/`` is on pytest's pythonpath).

- ``slow/strong``: Amdahl with f = (1/0.78 - 1)/99, measured at 5, 50, 250 and 500 cores, so
  the efficiency at 100x (500 cores) is 0.78: serial fraction 0.285 %, ceiling 351x; misses
  the 100x target (0.85). Phases: compute and halo, halo growing: bottleneck Network I/O.
- ``fast/strong``: f = 0.0001, measured at 5, 10, 25 and 50 cores: passes 10x measured, and
  the model predicts 50x, 100x, 500x. Its halo share shrinks: no bottleneck.
"""

import numpy as np
import pandas as pd

SLOW_F = (1 / 0.78 - 1) / 99
FAST_F = 0.0001
#: relative deviations of the repetitions around the model time (deterministic)
JITTER = (0.99, 1.0, 1.01)


def _rows(workload, f, cores, t0, halo_share_growth):
    rows = []
    for p in cores:
        r = p / cores[0]
        t = t0 * (f + (1 - f) / r)
        halo = t * (0.02 + halo_share_growth * (r - 1) / 100)
        for j in JITTER:
            rows.append({"workload": workload, "mode": "strong", "variant": "", "size": "case",
                         "cores": p, "seconds": t * j, "phase_compute": (t - halo) * j,
                         "phase_halo": halo * j})
    return rows


def frame():
    """The repetitions of both cases as one frame (CSV columns)."""
    return pd.DataFrame(_rows("slow", SLOW_F, [5, 50, 250, 500], 10.0, 0.2)
                        + _rows("fast", FAST_F, [5, 10, 25, 50], 4.0, -0.1))


def write_cases(directory):
    """Write the cases as ``cases.csv`` in ``directory``; return its path."""
    path = directory / "cases.csv"
    frame().to_csv(path, index=False)
    return path


def expected_efficiency(f, r):
    return 1 / (r * (f + (1 - f) / r))


assert np.isclose(expected_efficiency(SLOW_F, 100), 0.78)
