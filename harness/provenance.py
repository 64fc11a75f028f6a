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

from harness import gitfiles

# environment variables that change how a run behaves, kept in the record when set
SELECTED_ENV = (
    "OMP_NUM_THREADS", "NUMBA_NUM_THREADS", "NUMBA_CACHE_DIR", "NUMBA_BOUNDSCHECK",
    "NUMBA_OPT", "MPIR_CVAR_CH4_NETMOD", "FI_PROVIDER", "UCX_TLS", "SLURM_CPUS_PER_TASK",
    "SLURM_CPU_BIND", "I_MPI_PIN", "OMPI_MCA_btl",
)
_SOURCE = Path(__file__).resolve().parent.parent


def _version(dist: str, module: str | None = None) -> str | None:
    """The installed version of ``dist``; from ``module.__version__`` when that module is
    already imported (the runner has imported NumPy, Numba, mpi4py and the harness: reading their
    distribution metadata costs about a millisecond each, per run)."""
    loaded = sys.modules.get(module) if module else None
    version = getattr(loaded, "__version__", None)
    if isinstance(version, str):
        return version
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _git(source: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    """``git --no-optional-locks -C source ARGS``; None when git cannot be started."""
    try:
        return subprocess.run(["git", "--no-optional-locks", "-C", str(source), *args],
                              capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None


def git_state(source: Path = _SOURCE) -> tuple[str | None, bool | None]:
    """``(sha, dirty)`` of the git tree holding ``source`` (the harness's own source tree by
    default), or ``(None, None)`` outside git; ``dirty`` is None when git could not tell.

    The commit is read from the repository's files (:mod:`harness.gitfiles`), else from
    ``git rev-parse HEAD``. *Dirty* means a tracked file differs from HEAD, staged or not
    (untracked files do not count): ``git --no-optional-locks status --porcelain
    --untracked-files=no`` lists something. Of the commands that answer that, it is the one
    that leaves the repository alone: without the option ``status`` rewrites the index's cached
    file stats, ``git diff --quiet HEAD`` (same cost: one process start) rewrites them even with
    it (git 2.39), and ``git diff-index HEAD`` without a refresh counts a file whose time stamp
    alone changed.
    """
    sha = gitfiles.head_commit(source)
    if sha is None:
        done = _git(source, "rev-parse", "HEAD")
        if done is None or done.returncode != 0:
            return None, None
        sha = done.stdout.strip()
    done = _git(source, "status", "--porcelain", "--untracked-files=no")
    if done is None or done.returncode != 0:
        return sha, None
    return sha, bool(done.stdout.strip())


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
        "harness": _version("parallel-efficiency-harness", "harness"),
    }
    info.update(extra or {})
    return info
