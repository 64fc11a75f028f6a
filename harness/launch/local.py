"""Running a child here and supervising it: its environment, its time limit, its process group.

Whatever the harness starts locally (``harness run`` under ``mpiexec``, a sweep's runs) goes
through :func:`run_supervised` or :func:`die_with_parent`: the child dies with its parent, and on
a time limit, Ctrl-C or SIGTERM its whole process group is stopped. How the ranks are started
(the ``mpiexec`` command line) is :mod:`harness.launch.launchers`' job.
"""

from __future__ import annotations

import collections
import ctypes
import os
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass

from harness.errors import LaunchError

#: prefixes of the variables that set the options (``HARNESS_<COMMAND>_<OPTION>``) of the
#: commands a sweep, ``harness smoke`` or a job script starts (run; analyze, report and kpi in
#: the analysis job): those get exactly the options on their command lines
OPTION_PREFIXES = ("HARNESS_RUN_", "HARNESS_ANALYZE_", "HARNESS_REPORT_", "HARNESS_KPI_")


def child_env(**extra: str) -> dict[str, str]:
    """This process's environment for a ``harness run`` it starts: without the submitting
    shell's option variables (:data:`OPTION_PREFIXES`), so ``HARNESS_RUN_REPS=1`` in the shell
    cannot change a sweep's runs; ``HARNESS_MPIEXEC*`` and the like (how to launch, not what to
    run) are kept. ``extra`` is added on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(OPTION_PREFIXES)}
    env.update(extra)
    return env


#: exit status of a command stopped by a signal: 128 + the signal number, as a shell reports a
#: process killed by it (SIGINT 130, SIGTERM 143); ``harness run`` and ``harness sweep`` alike
EXIT_SIGINT = 128 + signal.SIGINT
EXIT_SIGTERM = 128 + signal.SIGTERM
_PR_SET_PDEATHSIG = 1


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so it unwinds exactly like Ctrl-C (children stopped,
    records and bookkeeping written); the command then exits :data:`EXIT_SIGTERM`."""


#: the signal :func:`raise_terminated` handled, once it has: code that catches exceptions can
#: tell that an error it sees came from that unwinding (a library may turn the interrupt raised
#: inside it, e.g. Numba mid-compile, into an error of its own)
terminated_by: int | None = None


def raise_terminated(signum: int, frame: object) -> None:
    """SIGTERM handler: ignore repeats (one unwinding) and raise :class:`Terminated`."""
    global terminated_by
    terminated_by = signum
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated


def _load_prctl():  # a ctypes function, or None
    """``prctl`` from the C library already in this process (no library search), or None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None


#: resolved in the parent, so the child between fork and exec only makes the call
_PRCTL = _load_prctl()
#: the process that starts children (the one that imported this module)
_PARENT_PID = os.getpid()


def die_with_parent() -> None:
    """``preexec_fn`` for every child the harness starts: it gets SIGTERM when its parent dies
    (Linux ``PR_SET_PDEATHSIG``; even a ``kill -9`` of the parent), and SIGINT and SIGTERM
    back at their defaults (a non-interactive shell starts us with SIGINT ignored, which a
    child would inherit and so ignore a stop). Elsewhere than Linux it only resets signals."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if _PRCTL is None:
        return
    _PRCTL(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != _PARENT_PID:  # the parent died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


@dataclass
class Completed:
    """How a supervised command ended."""

    returncode: int
    timed_out: bool
    interrupted: bool
    stderr_tail: str
    #: the signal (SIGINT or SIGTERM) that stopped the supervisor, when ``interrupted``
    stopped_by: int | None = None


def run_supervised(argv: list[str], time_limit: float | None = None,
                   tail_lines: int = 30) -> Completed:
    """Run ``argv`` in its own process group; its output is echoed to stderr and its tail kept.

    The supervised command reports through files (the run record), so everything it prints —
    including the launcher's own banners — is diagnostics and goes to stderr, leaving this
    process's stdout clean for ``--json``.

    On ``time_limit`` (seconds), Ctrl-C or a SIGTERM to this process the whole group gets
    SIGTERM, then SIGKILL after 5 s, so no rank outlives its supervisor; if the supervisor is
    killed outright, the command gets SIGTERM from the kernel (:func:`die_with_parent`).

    Raises
    ------
    LaunchError
        When the command cannot be started.
    """
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, errors="replace", start_new_session=True,
                                env=child_env(), preexec_fn=die_with_parent)
    except OSError as e:
        raise LaunchError(f"cannot start {argv[0]}: {e.strerror}") from e
    tail: collections.deque[str] = collections.deque(maxlen=tail_lines)

    def pump() -> None:
        for line in proc.stdout:  # type: ignore[union-attr]
            sys.stderr.write(line)
            sys.stderr.flush()
            tail.append(line)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    timed_out = False
    stopped_by: int | None = None
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        proc.wait(timeout=time_limit)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop_group(proc)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM through raise_terminated
        stopped_by = signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT
        stop_group(proc)
    finally:
        signal.signal(signal.SIGTERM, previous)
    reader.join(timeout=5)
    return Completed(proc.returncode if proc.returncode is not None else -9,
                     timed_out, stopped_by is not None, "".join(tail), stopped_by)


def stop_group(proc: subprocess.Popen, first: int = signal.SIGTERM, grace: float = 5) -> None:
    """Send ``first`` to the process group of ``proc`` (started with ``start_new_session``),
    then SIGKILL if it has not ended after ``grace`` seconds."""
    for sig in (first, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue
