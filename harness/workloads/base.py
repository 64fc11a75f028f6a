"""The workload interface every kernel family implements.

A *workload* knows its parameters, named sizes, variants and phases, and builds a per-rank
*instance* from validated parameters: that rank's share of one problem (its arrays, its
communicator, its files). The runner (``harness/runner.py``) drives an instance: untimed
warm-up, timed repetitions, verification, figure of merit. Workloads never call MPI themselves;
they pass the communicator to ``harness/decomposition`` helpers and time phases with the
``PhaseTimer`` the runner hands them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from harness.errors import ParameterError
from harness.limits import MAX_INT_PARAM

if TYPE_CHECKING:
    from harness.timing import PhaseTimer

SIZES = ("tiny", "small", "medium", "large")
MODES = ("strong", "weak")


@dataclass(frozen=True)
class Param:
    """One workload parameter, settable with ``--set name=value``.

    ``minimum`` is an inclusive lower bound for numbers (``positive=True`` makes it exclusive of
    zero); ``choices`` restricts strings.
    """

    name: str
    kind: type
    help: str
    minimum: float | None = None
    positive: bool = False
    choices: tuple[str, ...] = ()

    def parse(self, raw: Any) -> Any:
        """Convert ``raw`` (a string from the command line, or a value from a spec) and check it.

        Raises
        ------
        ParameterError
            When the value does not convert, is out of range, is not finite (floats) or is beyond
            :data:`~harness.limits.MAX_INT_PARAM` (integers); the message names both.
        """
        try:
            if self.kind is int:
                if isinstance(raw, float) and not raw.is_integer():
                    raise ValueError
                if isinstance(raw, bool):
                    raise ValueError
                value = int(raw) if not isinstance(raw, str) else int(raw.strip(), 10)
            elif self.kind is float:
                if isinstance(raw, bool):
                    raise ValueError
                value = float(raw)
                if value != value or value in (float("inf"), float("-inf")):
                    raise ValueError
            else:
                value = str(raw)
        except (TypeError, ValueError):
            raise ParameterError(
                f"{self.name}={raw!r} is not a valid {self.kind.__name__} ({self.help})"
            ) from None
        if self.choices and value not in self.choices:
            raise ParameterError(
                f"{self.name}={value!r} is not allowed; choose one of {', '.join(self.choices)}"
            )
        if self.positive and value <= 0:
            raise ParameterError(f"{self.name}={value!r} must be > 0 ({self.help})")
        if self.minimum is not None and value < self.minimum:
            raise ParameterError(f"{self.name}={value!r} must be >= {self.minimum} ({self.help})")
        if self.kind is int and abs(value) > MAX_INT_PARAM:
            raise ParameterError(f"{self.name}={value!r} is beyond the limit of "
                                 f"{MAX_INT_PARAM} for a whole-number parameter ({self.help})")
        return value


@dataclass(frozen=True)
class FOM:
    """A figure of merit: what was achieved per second, in the field's own unit."""

    name: str
    unit: str
    value: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Verification:
    """Outcome of a workload's check against a closed form or oracle.

    ``checksum`` is a small dict of named floats that must not depend on the rank count (for the
    deterministic variants); ``error`` is the measured deviation compared against ``tolerance``.
    """

    passed: bool
    method: str
    checksum: dict[str, float]
    error: float
    tolerance: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PhaseCost:
    """What the busiest rank does in one phase of one repetition, from the parameters alone.

    Each workload states these beside its kernel (:meth:`Workload.costs`); ``harness predict``
    turns them into seconds with a machine model (``harness/machine.py``), and the tests compare
    them with counts measured in a run. Every field is a count per repetition (float, ≥ 0);
    those a phase does not use stay 0.

    ``items``: units of the workload's own work (cell updates, matrix rows × CG iterations,
    objective evaluations, RK4 steps) — the compute rate is measured per item. ``flops`` and
    ``bytes``: floating-point operations and bytes moved to and from memory (STREAM counting)
    for those items. ``messages`` / ``message_bytes``: point-to-point messages the rank sends and
    the bytes they carry in all (a manager that every message passes through counts those it
    receives too); ``neighbours``: distinct other ranks it exchanges with.
    ``reductions`` / ``reduction_bytes``: collective reductions (allreduce, or gather/broadcast
    counted as one each) and bytes each contributes (for a gather or allgather, the bytes it
    assembles; a barrier counts with 0 bytes). ``io_bytes``: bytes written to and read back
    from the work directory. ``serial``: True when the phase's work is not divided among the
    ranks (each rank, or one, does all of it at any rank count).
    """

    items: float = 0.0
    flops: float = 0.0
    bytes: float = 0.0
    messages: float = 0.0
    message_bytes: float = 0.0
    neighbours: int = 0
    reductions: float = 0.0
    reduction_bytes: float = 0.0
    io_bytes: float = 0.0
    serial: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Instance(ABC):
    """A workload instance: one rank's state for one run. Built (collectively) by
    :meth:`Workload.setup`."""

    #: work items per repetition (time steps, CG iterations, generations, parameter-study cases)
    iterations: int = 1

    @abstractmethod
    def reset(self) -> None:
        """Restore the initial state before a repetition. Untimed; may be collective."""

    @abstractmethod
    def run(self, timer: PhaseTimer) -> None:
        """Execute one repetition: the timed region. Collective.

        Time every part with ``timer`` under one of the workload's phase names.
        """

    @abstractmethod
    def verify(self) -> Verification:
        """Check the state left by the last repetition. Collective; same result on every rank."""

    @abstractmethod
    def foms(self, seconds: float, phases: dict[str, dict[str, float]] | None = None
             ) -> list[FOM]:
        """Figures of merit for one repetition of ``seconds``; the first is the headline one.

        ``phases`` are the run's phase times (``{name: {min, mean, max}}`` seconds per
        repetition across ranks), for a rate that belongs to part of the repetition only.
        """

    def work(self) -> dict[str, Any]:
        """The work per repetition behind the FOM (flops, bytes, updates), for the record."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release files or communicators. Collective."""


class Workload(ABC):
    """A workload family: parameters, sizes, variants, phases, and how to build an instance."""

    name: ClassVar[str]
    description: ClassVar[str]
    #: the first is the default
    variants: ClassVar[tuple[str, ...]]
    #: variants whose checksum is identical at any rank count
    deterministic_variants: ClassVar[tuple[str, ...]]
    #: the entries of :meth:`Instance.work` that every run of one problem at one rank count does
    #: identically (iteration, update and case counts); recorded as ``fixed_work``, and the
    #: analyzer never pools runs whose fixed work differs
    fixed_work: ClassVar[tuple[str, ...]] = ()
    phases: ClassVar[tuple[str, ...]]
    params: ClassVar[tuple[Param, ...]]
    #: named sizes: tiny (CI, < 1 s), small, medium, large (out of cache)
    sizes: ClassVar[dict[str, dict[str, Any]]]
    #: relative tolerance within which the deterministic variants' checksums agree across rank
    #: counts (0 where they are bitwise identical)
    checksum_rtol: ClassVar[float] = 0.0
    #: the workload writes files into the run's scratch directory (``workdir`` of
    #: :meth:`setup`); the runner creates and removes that directory only for those
    writes_files: ClassVar[bool] = False

    # -- parameters ---------------------------------------------------------------------------

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        allowed = ", ".join(p.name for p in self.params)
        raise ParameterError(f"unknown parameter {name!r} for {self.name}; allowed: {allowed}")

    def resolve(
        self,
        size: str = "tiny",
        overrides: dict[str, Any] | None = None,
        mode: str = "strong",
        ranks: int = 1,
        variant: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """Return the validated parameters and variant for a run.

        Starts from the named size, applies ``overrides`` (parsed by each :class:`Param`), scales
        for weak mode, then checks the combination against ``ranks``.

        Raises
        ------
        ParameterError
            Unknown size, mode, variant or parameter, or a value out of range.
        """
        if size not in self.sizes:
            raise ParameterError(
                f"unknown size {size!r} for {self.name}; choose one of {', '.join(self.sizes)}"
            )
        if mode not in MODES:
            raise ParameterError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        variant = self.variants[0] if variant is None else variant
        if variant not in self.variants:
            raise ParameterError(
                f"unknown variant {variant!r} for {self.name}; "
                f"choose one of {', '.join(self.variants)}"
            )
        params = {p.name: p.parse(self.sizes[size][p.name]) for p in self.params}
        for key, raw in (overrides or {}).items():
            params[key] = self.param(key).parse(raw)
        if mode == "weak":
            params = self.weak_scale(params, ranks)
        self.validate(params, variant, ranks)
        return params, variant

    def weak_scale(self, params: dict[str, Any], ranks: int) -> dict[str, Any]:
        """Parameters of the weak-mode problem at ``ranks``: the per-rank share stays fixed.

        ``params`` describe the problem of *one* rank.
        """
        raise ParameterError(f"{self.name} has no weak mode")

    def validate(self, params: dict[str, Any], variant: str, ranks: int) -> None:  # noqa: B027
        """Check a combination of values against the rank count; raise ``ParameterError``."""

    def memory_per_rank(self, params: dict[str, Any], variant: str, ranks: int,
                        rank: int = 0) -> int:
        """Bytes of the arrays rank ``rank`` of ``ranks`` allocates for a run of ``params``
        (resolved), from the parameters alone, without MPI — what a scheduler must give it
        beyond the interpreter and the compiled kernels. Each workload counts its own arrays;
        the tests compare the count with a real instance's arrays.
        """
        raise NotImplementedError(f"{self.name} does not estimate its memory")

    def costs(self, params: dict[str, Any], variant: str, ranks: int) -> dict[str, PhaseCost]:
        """Work and communication of the busiest rank per phase per repetition at ``ranks``.

        ``params`` resolved for that rank count (:meth:`resolve`); one entry per name in
        :attr:`phases`. From the parameters alone, without MPI.

        Raises
        ------
        NotImplementedError
            The workload does not state its costs (``harness predict`` then fits phases only).
        """
        raise NotImplementedError(f"{self.name} does not state its costs")

    # -- execution ----------------------------------------------------------------------------

    @abstractmethod
    def precompile(self) -> None:
        """Trigger the Numba compilation of every kernel on tiny inputs. No MPI.

        The runner calls this on rank 0 first (filling the on-disk cache), then on the others,
        before the warm-up, so no timed region pays for compilation and ranks do not race on
        the cache files.
        """

    @abstractmethod
    def setup(self, comm: Any, params: dict[str, Any], variant: str, workdir: Path) -> Instance:
        """Build this rank's instance. Collective; untimed.

        The instance communicates on a duplicate of ``comm`` (``comm.Dup()``, freed by
        :meth:`Instance.close`), so its fixed message tags never meet another library's messages
        on ``comm``.

        ``workdir`` is a per-run scratch directory, the same path on every rank and on a file
        system all ranks share; files a workload writes go there. The runner creates it before
        and removes it after the run (unless asked to keep it) for a workload that declares
        :attr:`writes_files`; for the others the path does not exist.
        """
