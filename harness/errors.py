"""One exception tree for everything a user can cause.

The CLI maps each class to an exit code (see docs/design.md, "Command line"): ``HarnessError``
subclasses carry the code, their message is printed as one line, and tracebacks appear only with
``-v``.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Base of every error the harness raises on purpose."""

    exit_code = 1


class BadInputError(HarnessError):
    """Input the user can fix: an option, a parameter, a spec, a data file (exit 2)."""

    exit_code = 2


class UsageError(BadInputError):
    """An unknown name or an option out of range on the command line."""


class ParameterError(BadInputError):
    """A workload parameter (``--set k=v``, size, mode, variant) that is not allowed."""


class SpecError(BadInputError):
    """A sweep spec, targets file or cluster profile that does not validate."""


class DataError(BadInputError):
    """A run record or CSV that cannot be analyzed as given."""


class RecordError(DataError):
    """A run record that is malformed; the message names the file and the field."""


class LaunchError(HarnessError):
    """``mpiexec``/``srun``/``sbatch`` could not be started or failed to launch."""


class SchedulerError(LaunchError):
    """The batch scheduler refused a submission or could not be queried."""


class RunFailedError(HarnessError):
    """A run started but failed or did not verify (exit 1)."""


class TargetMissedError(HarnessError):
    """``--check`` found a missed target or an alert (exit 3)."""

    exit_code = 3


class StoreError(BadInputError):
    """The KPI store cannot be reached or used as it is (exit 2); the URL is shown with any
    password masked, and records on disk are never touched."""


class RegressionError(HarnessError):
    """``harness compare`` found a significant slowdown beyond the threshold (exit 3)."""

    exit_code = 3
