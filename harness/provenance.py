"""Where and with what a run was made: host, code version, library versions, CPU, Slurm job.

Gathered once on rank 0 and stored in the record's ``provenance`` field, so a figure can always
be traced to the commit, the MPI library and the machine that produced it.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

# environment variables that change how a run behaves, kept in the record when set
SELECTED_ENV = (
    "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR", "NUMBA_BOUNDSCHECK",
    "NUMBA_OPT", "MPIR_CVAR_CH4_NETMOD", "FI_PROVIDER", "UCX_TLS", "SLURM_CPUS_PER_TASK",
    "SLURM_CPU_BIND", "I_MPI_PIN", "OMPI_MCA_btl",
)
_SOURCE = Path(__file__).resolve().parent.parent


def _version(dist: str, module: str | None = None) -> str | None:
    """The installed version of ``dist``; from ``module.__version__`` when that module is
    already imported (the runner has imported NumPy, Numba and mpi4py: reading their
    distribution metadata costs about a millisecond each, per run)."""
    loaded = sys.modules.get(module) if module else None
    version = getattr(loaded, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", "-C", str(_SOURCE), *args], capture_output=True,
                              text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def git_state() -> tuple[str | None, bool | None]:
    """``(sha, dirty)`` of the harness's own source tree, or ``(None, None)`` outside git."""
    sha = _git("rev-parse", "HEAD")
    if sha is None:
        return None, None
    status = _git("status", "--porcelain", "--untracked-files=no")
    return sha, bool(status) if status is not None else None


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo, else what ``platform`` says."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def slurm() -> dict[str, Any] | None:
    """The Slurm job this process runs in, or None outside Slurm."""
    if "SLURM_JOB_ID" not in os.environ:
        return None
    env = os.environ
    return {
        "job_id": env.get("SLURM_JOB_ID"),
        "array_task_id": env.get("SLURM_ARRAY_TASK_ID"),
        "nodelist": env.get("SLURM_JOB_NODELIST") or env.get("SLURM_NODELIST"),
        "partition": env.get("SLURM_JOB_PARTITION"),
    }


def collect(mpi_library: str, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record's ``provenance`` dict (docs/design.md, "Run record")."""
    sha, dirty = git_state()
    info: dict[str, Any] = {
        "host": socket.gethostname(),
        "git_sha": sha,
        "git_dirty": dirty,
        "python": platform.python_version(),
        "numba": _version("numba", "numba"),
        "numpy": _version("numpy", "numpy"),
        "mpi4py": _version("mpi4py", "mpi4py"),
        "mpi_library": mpi_library,
        "cpu_model": cpu_model(),
        "slurm": slurm(),
        "env": {k: os.environ[k] for k in SELECTED_ENV if k in os.environ},
        "harness": _version("parallel-efficiency-harness"),
    }
    info.update(extra or {})
    return info
