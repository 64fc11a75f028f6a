"""The ``harness run`` command line, built in one place.

Three places start ``harness run``: the local sweep (one run per repetition of a point),
``harness run --ranks N`` relaunching itself under ``mpiexec``, and the Slurm job script (one run
per point and array task). All three take their argument list from :func:`run_command`, so the
same point is run with the same options, values and order wherever it runs. The job script gets
it already quoted from :func:`shell_command`, with the run id left to the script.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

#: stands for the run id in an argument list the job script completes: the script computes it
#: from the job, array task and attempt and passes ``"$run_id"``. A real argument can never
#: contain a NUL byte (``execve`` takes C strings), so the marker cannot clash with one.
RUN_ID_IN_SCRIPT = "\0run_id"


class RunPoint(Protocol):
    """What ``harness run`` is asked to measure: a :class:`harness.specs.Point` or a
    :class:`RunRequest`."""

    workload: str
    variant: str
    mode: str
    size: str
    ranks: int
    reps: int | None
    warmup: int | None

    @property
    def params(self) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class RunRequest:
    """A ``harness run`` point outside a spec (``harness run --ranks N`` relaunching itself):
    the same fields as a spec's point, ``params`` being the ``--set`` overrides."""

    workload: str
    variant: str
    mode: str
    size: str
    ranks: int
    params: Mapping[str, Any] = field(default_factory=dict)
    reps: int | None = None
    warmup: int | None = None


def run_command(point: RunPoint, out: str | Path, sweep_id: str, run_id: str, *,
                time_limit: float | None = None, python: str | None = None,
                flags: Sequence[str] = ()) -> list[str]:
    """The argument list of one ``harness run`` of ``point``.

    ``PYTHON -m harness run WORKLOAD --ranks N --mode M --size S --variant V [--set K=V]...
    [--reps R] [--warmup W] --out OUT --sweep-id ID --run-id RUN [--time-limit T] [FLAGS...]``:
    the overrides sorted by key, ``--reps``/``--warmup`` only when the point sets them (else
    ``harness run``'s defaults), the time limit in seconds as given (an int stays an int).
    ``python`` defaults to the running interpreter; ``flags`` are options without a value
    (``--supervised``, ``--keep-files``). Pass :data:`RUN_ID_IN_SCRIPT` as ``run_id`` for a
    job script (:func:`shell_command`).
    """
    cmd = [python or sys.executable, "-m", "harness", "run", point.workload,
           "--ranks", str(point.ranks), "--mode", point.mode, "--size", point.size,
           "--variant", point.variant]
    for key, value in sorted(point.params.items()):
        cmd += ["--set", f"{key}={value}"]
    if point.reps is not None:
        cmd += ["--reps", str(point.reps)]
    if point.warmup is not None:
        cmd += ["--warmup", str(point.warmup)]
    cmd += ["--out", str(out), "--sweep-id", sweep_id, "--run-id", run_id]
    if time_limit is not None:
        cmd += ["--time-limit", str(time_limit)]
    return [*cmd, *flags]


def shell_command(argv: Sequence[str]) -> str:
    """``argv`` as one line of shell (:func:`shlex.join`), except that
    :data:`RUN_ID_IN_SCRIPT` becomes ``"$run_id"``, the job script's variable."""
    return " ".join('"$run_id"' if arg == RUN_ID_IN_SCRIPT else shlex.quote(arg)
                    for arg in argv)
