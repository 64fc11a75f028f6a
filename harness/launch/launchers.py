"""The launchers: how N MPI ranks are started, and how a process tells which one started it.

A launcher (``mpiexec``, ``srun``) is a separate axis from the scheduler (local, Slurm): a Slurm
job may start its ranks with either, and ``harness run`` relaunches itself under ``mpiexec``. Each
launcher is one class in :data:`REGISTRY`, which knows

- its command line: :meth:`Launcher.command` gives the launcher's part (executable, ranks,
  binding, extra options), :meth:`Launcher.wrap` puts a program behind it;
- the environment variables it gives the processes it starts (:attr:`Launcher.environment`),
  so that :func:`detect` can say which launcher started this process (the record's
  ``provenance.launcher``) and ``harness run`` runs in place instead of relaunching;
- how a Slurm job script builds it from the profile (:meth:`Launcher.for_job`);
- what makes a start under it unusable (:meth:`Launcher.misuse`).

Adding a launcher is one class here and one entry in :data:`REGISTRY`; the profile's
``launcher`` key accepts every registered name.
"""

from __future__ import annotations

import abc
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import ClassVar

from harness.errors import LaunchError

#: variables a process manager sets in every MPI process it wires up through PMI-1/PMI-2 or
#: PMIx (MPICH's Hydra, Slurm's ``--mpi=pmi2``/``pmix`` plugins, Open MPI's PRRTE)
PMI_ENVIRONMENT = ("PMI_RANK", "PMI_SIZE", "PMI_FD", "PMIX_RANK")


class Launcher(abc.ABC):
    """One way to start ``ranks`` MPI processes of a program.

    Subclasses set :attr:`name` and :attr:`environment` and implement :meth:`command` and
    :meth:`for_job`; ``options`` are extra arguments placed after the rank count.
    """

    #: the name a profile's ``launcher`` key and the record's ``provenance.launcher`` use
    name: ClassVar[str]
    #: variables this launcher sets in each process it starts
    environment: ClassVar[tuple[str, ...]]

    def __init__(self, options: Sequence[str] = ()) -> None:
        self.options = list(options)

    @abc.abstractmethod
    def command(self, ranks: int) -> list[str]:
        """The launcher's part of the command line for ``ranks`` processes (argv, no program)."""

    def wrap(self, ranks: int, argv: Sequence[str]) -> list[str]:
        """``argv`` started as ``ranks`` processes: :meth:`command` followed by ``argv``."""
        return [*self.command(ranks), *argv]

    @classmethod
    @abc.abstractmethod
    def for_job(cls, python: str, mpi: str) -> Launcher:
        """The launcher as a Slurm job script runs it, for the job's interpreter ``python``
        (an absolute path) and the profile's ``mpi`` plugin name."""

    @classmethod
    def started(cls, env: Mapping[str, str]) -> bool:
        """Whether ``env`` (a process's environment) is that of an MPI process this launcher
        started."""
        return any(k in env for k in cls.environment)

    @classmethod
    def misuse(cls, env: Mapping[str, str]) -> str | None:
        """Why a ``harness run`` started by this launcher with ``env`` cannot work (one line
        saying what to do instead), or None."""
        return None


class Srun(Launcher):
    """``srun --mpi=PLUGIN --cpu-bind=cores [options] -n RANKS``: a job step inside a Slurm
    allocation; one rank per core, pinned (a rank that migrates between cores measures the
    scheduler). Its tasks carry ``SLURM_STEP_ID`` and ``SLURM_PROCID``; they are MPI processes
    only when the plugin wired them up (:data:`PMI_ENVIRONMENT`)."""

    name = "srun"
    environment = ("SLURM_STEP_ID", "SLURM_PROCID")

    def __init__(self, mpi: str = "pmi2", options: Sequence[str] = ()) -> None:
        super().__init__(options)
        self.mpi = mpi

    def command(self, ranks: int) -> list[str]:
        return ["srun", f"--mpi={self.mpi}", "--cpu-bind=cores", *self.options, "-n", str(ranks)]

    @classmethod
    def for_job(cls, python: str, mpi: str) -> Srun:
        return cls(mpi)

    @classmethod
    def started(cls, env: Mapping[str, str]) -> bool:
        return all(k in env for k in cls.environment) and any(k in env for k in PMI_ENVIRONMENT)

    @classmethod
    def tasks_without_mpi(cls, env: Mapping[str, str]) -> int | None:
        """The task count when ``srun`` started this process as one of several tasks without an
        MPI plugin (``--mpi=none``, or a site default the MPI library does not speak): every
        task would be an MPI world of 1. None otherwise."""
        try:
            tasks = int(env.get("SLURM_STEP_NUM_TASKS") or env.get("SLURM_NTASKS") or 0)
        except ValueError:
            return None
        if (all(k in env for k in cls.environment) and tasks > 1
                and not any(launcher.started(env) for launcher in REGISTRY.values())):
            return tasks
        return None

    @classmethod
    def misuse(cls, env: Mapping[str, str]) -> str | None:
        tasks = cls.tasks_without_mpi(env)
        if tasks is None:
            return None
        return (f"started by srun as one of {tasks} tasks without an MPI plugin (PMI): each task "
                "would be an MPI world of its own; use srun --mpi=pmi2 (or the plugin the site's "
                "MPI speaks: srun --mpi=list), or the profile's mpi = \"pmi2\"")


class Mpiexec(Launcher):
    """``mpiexec -n RANKS [options]``: MPICH's Hydra or Open MPI's ``mpiexec``, here or inside an
    allocation. No binding unless the options ask for it (``HARNESS_MPIEXEC_ARGS="--bind-to
    core"``). Its processes carry PMI or Open MPI variables."""

    name = "mpiexec"
    environment = (*PMI_ENVIRONMENT, "OMPI_COMM_WORLD_SIZE", "MPI_LOCALNRANKS", "HYDI_CONTROL_FD")

    def __init__(self, executable: str = "mpiexec", options: Sequence[str] = ()) -> None:
        super().__init__(options)
        self.executable = executable

    def command(self, ranks: int) -> list[str]:
        return [self.executable, "-n", str(ranks), *self.options]

    @classmethod
    def for_job(cls, python: str, mpi: str) -> Mpiexec:
        # the one installed beside the job's interpreter (the mpich wheel's, in the virtualenv)
        return cls(str(Path(python).parent / "mpiexec"))

    @classmethod
    def here(cls) -> Mpiexec:
        """The ``mpiexec`` of this machine (:func:`find_mpiexec`) with ``HARNESS_MPIEXEC_ARGS``,
        and for Open MPI ``--oversubscribe`` (and ``--allow-run-as-root`` as root), which it
        refuses to do without.

        Raises
        ------
        LaunchError
            When no ``mpiexec`` is found.
        """
        executable = find_mpiexec()
        options = shlex.split(os.environ.get("HARNESS_MPIEXEC_ARGS", ""))
        if _is_open_mpi(executable):
            options.append("--oversubscribe")
            if os.geteuid() == 0:
                options.append("--allow-run-as-root")
        return cls(executable, options)


#: every launcher by name. :func:`detect` asks them in this order: the more specific first, since
#: ``srun``'s MPI tasks carry the same PMI variables as ``mpiexec``'s
REGISTRY: dict[str, type[Launcher]] = {cls.name: cls for cls in (Srun, Mpiexec)}
#: what the record says of a process no launcher started
SINGLETON = "singleton"


def get(name: str) -> type[Launcher]:
    """The launcher class registered as ``name``.

    Raises
    ------
    LaunchError
        For an unknown name; the message lists the registered ones.
    """
    try:
        return REGISTRY[name]
    except KeyError:
        raise LaunchError(f"unknown launcher {name!r}; use one of: "
                          + ", ".join(REGISTRY)) from None


def detect(env: Mapping[str, str] | None = None) -> type[Launcher] | None:
    """The launcher that started the process whose environment is ``env`` (default: this
    process's), or None when none did (a singleton MPI process)."""
    env = os.environ if env is None else env
    return next((cls for cls in REGISTRY.values() if cls.started(env)), None)


def launcher_name(env: Mapping[str, str] | None = None) -> str:
    """How this process was started: a registered launcher's name, or ``singleton``."""
    found = detect(env)
    return SINGLETON if found is None else found.name


def under_launcher(env: Mapping[str, str] | None = None) -> bool:
    """True when an MPI launcher started this process (``harness run`` then runs in place)."""
    return detect(env) is not None


def misuse(env: Mapping[str, str] | None = None) -> str | None:
    """Why this process, as some launcher started it, cannot run ``harness run`` (the first
    launcher's :meth:`Launcher.misuse` that objects), or None."""
    env = os.environ if env is None else env
    return next((why for cls in REGISTRY.values() if (why := cls.misuse(env))), None)


def find_mpiexec() -> str:
    """Path of the ``mpiexec`` to use: ``HARNESS_MPIEXEC``, else the one next to the running
    Python (the ``mpich`` wheel installs it in the virtualenv's ``bin``), else ``PATH``'s.

    Raises
    ------
    LaunchError
        When none is found; the message says how to provide one.
    """
    explicit = os.environ.get("HARNESS_MPIEXEC")
    if explicit:
        return explicit
    beside = Path(sys.executable).parent / "mpiexec"
    if beside.exists():
        return str(beside)
    found = shutil.which("mpiexec")
    if found:
        return found
    raise LaunchError(
        "mpiexec not found: install the 'mpich' wheel into this environment, load the site's "
        "MPI module, or set HARNESS_MPIEXEC"
    )


def _is_open_mpi(mpiexec: str) -> bool:
    try:
        out = subprocess.run([mpiexec, "--version"], capture_output=True, text=True,
                             timeout=20, check=False)
    except (OSError, subprocess.SubprocessError):
        return False
    return "open mpi" in (out.stdout + out.stderr).lower()


def mpiexec_command(ranks: int, command: Sequence[str]) -> list[str]:
    """``mpiexec -n ranks [flags] command...`` for this machine (:meth:`Mpiexec.here`)."""
    return Mpiexec.here().wrap(ranks, command)
