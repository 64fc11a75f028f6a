"""What a rank imports, and keeping it to what a run needs.

Thousands of ranks that start at once each import Python, NumPy, Numba, mpi4py and the harness
from wherever the virtualenv lives; on a shared file system every module is a metadata lookup and
a read, times the rank count. A rank needs the kernels, the runner and the record writer; it never
needs the analysis stack. Numba, though, imports SciPy whenever it is installed (to check its
version, and to find BLAS for ``np.dot``, which no kernel here calls), and SciPy is installed
because the analyzer fits models with it: about 130 modules and a third of a second per rank.

:func:`exclude_analysis_packages` makes the packages in ``RANK_EXCLUDED`` unimportable in the
current process, so Numba's optional import fails quietly and a rank loads none of them.
``harness run`` calls it before the workload (and with it Numba) is imported; the test
``tests/cli/test_rank_imports.py`` asserts the third-party packages a real rank loads.
:func:`process_age` gives the start-up time every record carries (process start to the first
timed repetition).
"""

from __future__ import annotations

import importlib.abc
import os
import sys
import time
from typing import Any

#: packages of the analysis side that a rank must never load
RANK_EXCLUDED = ("pandas", "scipy", "rich", "jinja2", "matplotlib", "sqlalchemy")


class _Excluded(importlib.abc.MetaPathFinder):
    """A finder that refuses the top-level packages in ``RANK_EXCLUDED`` (and their modules)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> None:
        top = fullname.partition(".")[0]
        if top in RANK_EXCLUDED:
            raise ModuleNotFoundError(
                f"{fullname} is not loaded on ranks (harness/rankside.py)", name=fullname)
        return None


def exclude_analysis_packages() -> None:
    """Refuse ``RANK_EXCLUDED`` packages in this process from now on (idempotent).

    Modules imported before the call stay; a rank calls it before anything imports Numba.
    """
    if not any(isinstance(f, _Excluded) for f in sys.meta_path):
        sys.meta_path.insert(0, _Excluded())


def process_age() -> float:
    """Seconds since this process started (Linux: resolution one clock tick, typically 10 ms);
    NaN where that is not available.

    The kernel's start time of the process is field 22 of ``/proc/self/stat``, in clock ticks
    after boot (proc(5)); ``CLOCK_BOOTTIME`` is the time since boot on the same clock.
    """
    try:
        with open("/proc/self/stat") as fh:
            stat = fh.read()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after "(comm)"
        now = time.clock_gettime(time.CLOCK_BOOTTIME)
        return now - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return float("nan")
