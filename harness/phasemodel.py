"""The mechanistic per-phase model: a workload's stated costs and a machine model, calibrated.

For one phase of one scaling study, the time of a repetition at ``p`` ranks is the sum of the
terms its cost (:class:`~harness.workloads.base.PhaseCost`, the busiest rank's work at ``p``)
makes non-zero, with the machine's figures (:class:`~harness.machine.MachineModel`):

- ``compute``: ``items / rate``, the rate per item (items/s per rank) measured from the phase's
  own times at the measured points (the median of ``items / (t - communication)``);
- ``bandwidth``: where the items move memory (``bytes > 0``), the rate is capped at
  ``memory_bandwidth_per_rank(ranks_on_node) / (bytes / items)`` — the node's triad bandwidth
  shared by the ranks on it (the roofline's memory bound: Williams, Waterman & Patterson,
  "Roofline", CACM 52(4), 2009); the term is named when the cap is the lower of the two;
- ``halo``: ``messages·α + message_bytes / B`` (Hockney's α–β model) on the intra-node link, or
  the inter-node one when the run spans nodes;
- ``reduce``: ``reductions·α·⌈log₂ p⌉ + β·reduction_bytes`` (the shape of the reduce-scatter +
  allgather allreduce's cost, Thakur, Rabenseifner & Gropp 2005; ``reduction_bytes`` counts
  all the reductions' bytes together, as ``message_bytes`` counts all the messages'), zero at
  one rank;
- ``io``: ``io_bytes / (io_bandwidth(writers) / writers)``, every rank a writer unless the cost
  says the phase's work is not divided (``serial``: one writer);
- ``serial``: named when the cost says the work is not divided among the ranks: the items stay
  the same at every ``p``, so the phase is a constant there.

A phase whose messages and items both count (``distribute``: the manager's messages and the
cases a worker runs, imbalance included, since the costs are the busiest rank's) takes both.

**Placement.** Ranks fill whole nodes of ``ranks_per_node`` in order (block placement, as
``srun --cpu-bind=cores`` on exclusive nodes does): ``min(p, ranks_per_node)`` ranks share the
busiest node's memory, and once ``p > ranks_per_node`` every message and reduction is taken to
cross the network (the inter-node figures) — pessimistic for a halo partner that happens to
share the node.

**Calibration.** The model is then scaled by one factor per phase, the median over the measured
core counts of measured / model, so that it passes through the data; the factor is reported: far
from 1 it says the model misses something (caches, contention, a protocol switch). The spread of
the log ratios gives the prediction interval; the hold-out error (calibrated without the largest
measured core count, predicting it) widens the interval beyond the data as
:func:`harness.modelpredict.extrapolation_variance` does for the whole-curve models.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from harness.machine import MachineModel
from harness.modelfit import MIN_NOISE
from harness.workloads.base import PhaseCost

#: the terms a phase's model may use, in the order they are named
TERMS = ("compute", "bandwidth", "halo", "reduce", "io", "serial")
#: with one calibration point no spread is measured: the interval then assumes this factor
#: either way, and says so (``MechanisticPhase.spread_assumed``)
ASSUMED_SPREAD_FACTOR = 2.0

PLACEMENT = ("ranks fill whole nodes in order (block placement); min(p, ranks per node) ranks "
             "share a node's memory bandwidth; beyond one node every message and reduction "
             "crosses the network")


@dataclass(frozen=True)
class Terms:
    """The raw (uncalibrated) model of one phase at one rank count, seconds per repetition."""

    communication: float
    compute: float
    used: tuple[str, ...]

    @property
    def seconds(self) -> float:
        return self.communication + self.compute


def communication(cost: PhaseCost, ranks: int, machine: MachineModel, ranks_per_node: int
                  ) -> tuple[float, list[str]]:
    """Seconds of the halo, reduce and io terms of ``cost`` at ``ranks`` (module docstring),
    and the names of the terms used."""
    off_node = ranks > ranks_per_node
    seconds, used = 0.0, []
    if cost.messages > 0 or cost.message_bytes > 0:
        seconds += machine.link(off_node).time(cost.message_bytes, cost.messages)
        used.append("halo")
    if cost.reductions > 0:
        allreduce = machine.allreduce(off_node)
        # reduction_bytes counts the bytes of all the reductions together
        seconds += cost.reductions * allreduce.time(ranks, 0.0)
        seconds += allreduce.beta * cost.reduction_bytes if ranks > 1 else 0.0
        used.append("reduce")
    if cost.io_bytes > 0:
        writers = 1 if cost.serial else ranks
        seconds += cost.io_bytes / (machine.io_bandwidth(writers) / writers)
        used.append("io")
    return seconds, used


def bandwidth_rate(cost: PhaseCost, ranks: int, machine: MachineModel, ranks_per_node: int
                   ) -> float:
    """Items/s per rank the node's memory bandwidth allows (inf when the items move no bytes)."""
    if cost.items <= 0 or cost.bytes <= 0:
        return math.inf
    per_rank = machine.memory_bandwidth_per_rank(min(ranks, ranks_per_node))
    return per_rank / (cost.bytes / cost.items)


def raw_terms(cost: PhaseCost, ranks: int, rate: float, machine: MachineModel,
              ranks_per_node: int) -> Terms:
    """The uncalibrated model of ``cost`` at ``ranks`` with compute ``rate`` items/s per rank."""
    comm, used = communication(cost, ranks, machine, ranks_per_node)
    compute = 0.0
    if cost.items > 0 and math.isfinite(rate) and rate > 0:
        cap = bandwidth_rate(cost, ranks, machine, ranks_per_node)
        compute = cost.items / min(rate, cap)
        used.insert(0, "bandwidth" if cap < rate else "compute")
    if cost.serial and cost.items > 0:
        used.append("serial")
    return Terms(comm, compute, tuple(used))


@dataclass(frozen=True)
class Calibration:
    """What the measured points fixed: compute rate, factor, spread of log ratios."""

    rate: float                 # items/s per rank (nan when the phase has no items)
    factor: float               # median over core counts of measured / model
    spread: float               # SD of log(measured / model) over runs (nan below 2)
    runs: int                   # runs with a model > 0 (the calibration points)


def _rate(costs: list[PhaseCost], cores: np.ndarray, seconds: np.ndarray,
          machine: MachineModel, ranks_per_node: int) -> float:
    """Items/s per rank: median of items / (t − communication) where that is positive."""
    rates, fallback = [], []
    for cost, p, t in zip(costs, cores, seconds, strict=True):
        if cost.items <= 0:
            continue
        comm, _ = communication(cost, int(p), machine, ranks_per_node)
        fallback.append(cost.items / t if t > 0 else math.inf)
        if t > comm:
            rates.append(cost.items / (t - comm))
    chosen = rates or [r for r in fallback if math.isfinite(r)]
    return float(np.median(chosen)) if chosen else math.nan


def calibrate(cost_at: Callable[[int], PhaseCost], cores: np.ndarray, seconds: np.ndarray,
              machine: MachineModel, ranks_per_node: int) -> Calibration:
    """Fit the compute rate and the calibration factor to runs (one entry per run).

    When the model is zero at every run (an allreduce at one rank) nothing can be calibrated:
    the factor is 1, ``runs`` 0 (:attr:`MechanisticPhase.calibrated` is False).
    """
    costs = [cost_at(int(p)) for p in cores]
    rate = _rate(costs, cores, seconds, machine, ranks_per_node)
    raw = np.array([raw_terms(c, int(p), rate, machine, ranks_per_node).seconds
                    for c, p in zip(costs, cores, strict=True)])
    usable = (raw > 0) & (seconds > 0)
    if not usable.any():
        return Calibration(rate, 1.0, math.nan, 0)
    ratio = seconds[usable] / raw[usable]
    per_count = [float(np.median(ratio[cores[usable] == p])) for p in np.unique(cores[usable])]
    logs = np.log(ratio)
    spread = float(np.std(logs, ddof=1)) if len(logs) >= 2 else math.nan
    return Calibration(rate, float(np.median(per_count)), spread, int(usable.sum()))


@dataclass(frozen=True)
class MechanisticPhase:
    """One phase's calibrated mechanistic model (module docstring).

    ``predict`` and ``interval`` take core counts (ranks, int ≥ 1) and return seconds per
    repetition (float64, shape of the input); a machine model passed to them replaces the one
    calibrated on (a what-if: the rate and the factor stay as measured).
    """

    phase: str
    cost_at: Callable[[int], PhaseCost] = field(repr=False, compare=False)
    machine: MachineModel = field(repr=False)
    ranks_per_node: int
    calibration: Calibration
    terms: tuple[str, ...]      # the terms used at the measured points and the largest target
    largest_cores: int          # largest measured core count
    holdout_error: float        # |predicted / measured − 1| at the largest count (nan: < 2)
    holdout_step: float         # log(largest / next largest) measured core count (0: none)
    points: int                 # distinct measured core counts

    @property
    def factor(self) -> float:
        return self.calibration.factor

    @property
    def calibrated(self) -> bool:
        """False when the model was zero at every measured run (factor 1 assumed)."""
        return self.calibration.runs > 0

    @property
    def spread_assumed(self) -> bool:
        """True when one calibration point gave no spread (the interval is an assumption)."""
        return not math.isfinite(self.calibration.spread)

    def raw(self, cores: int, machine: MachineModel | None = None) -> Terms:
        """The uncalibrated terms at ``cores`` ranks."""
        return raw_terms(self.cost_at(int(cores)), int(cores), self.calibration.rate,
                         machine or self.machine, self.ranks_per_node)

    def predict(self, cores: ArrayLike, machine: MachineModel | None = None) -> np.ndarray:
        """Seconds per repetition: factor × the raw model at each core count."""
        p = np.asarray(cores)
        flat = [self.factor * self.raw(int(c), machine).seconds for c in p.ravel()]
        return np.asarray(flat, dtype=np.float64).reshape(p.shape)

    def log_half_width(self, cores: ArrayLike, level: float = 0.95) -> np.ndarray:
        """Half-width of the prediction interval in log time (shape of ``cores``)."""
        p = np.asarray(cores, dtype=np.float64)
        n = self.calibration.runs
        if self.spread_assumed:
            base = math.log(ASSUMED_SPREAD_FACTOR)
        else:
            s = max(self.calibration.spread, MIN_NOISE)
            base = stats.t.ppf(0.5 + level / 2, n - 1) * s * math.sqrt(1 + 1 / n)
        widen = np.zeros_like(p)
        if math.isfinite(self.holdout_error) and self.holdout_step > 0:
            per_step = abs(math.log1p(self.holdout_error)) / self.holdout_step
            widen = per_step * np.maximum(np.log(p / self.largest_cores), 0.0)
        return np.sqrt(base ** 2 + widen ** 2)

    def interval(self, cores: ArrayLike, level: float = 0.95,
                 machine: MachineModel | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Low and high ends of the ``level`` prediction interval for one new run, seconds."""
        t = self.predict(cores, machine)
        half = self.log_half_width(cores, level)
        return t * np.exp(-half), t * np.exp(half)

    def describe(self) -> str:
        """``compute+halo x0.93 (rate 2.1e+08 items/s per rank)``."""
        text = f"{'+'.join(self.terms) or 'no work where measured'} x{self.factor:.3g}"
        if not self.calibrated:
            text += " (uncalibrated)"
        if math.isfinite(self.calibration.rate):
            text += f" (rate {self.calibration.rate:.3g} items/s per rank)"
        return text


def _holdout(cost_at: Callable[[int], PhaseCost], cores: np.ndarray, seconds: np.ndarray,
             machine: MachineModel, ranks_per_node: int) -> tuple[float, float]:
    """Relative error predicting the largest measured core count from the others, and the
    log step to it; (nan, 0) with fewer than two core counts or no calibration without it."""
    counts = np.unique(cores)
    if len(counts) < 2:
        return math.nan, 0.0
    largest, previous = counts[-1], counts[-2]
    keep = cores < largest
    cal = calibrate(cost_at, cores[keep], seconds[keep], machine, ranks_per_node)
    measured = float(np.median(seconds[cores == largest]))
    if cal.runs == 0 or measured <= 0:
        return math.nan, 0.0
    raw = raw_terms(cost_at(int(largest)), int(largest), cal.rate, machine, ranks_per_node)
    predicted = cal.factor * raw.seconds
    return abs(predicted / measured - 1.0), math.log(largest / previous)


def mechanistic(workload: object, variant: str, phase: str,
                cost_at: Callable[[int], PhaseCost], cores: ArrayLike, seconds: ArrayLike,
                machine: MachineModel, ranks_per_node: int) -> MechanisticPhase | None:
    """Calibrate the mechanistic model of one phase on its measured runs.

    Parameters
    ----------
    workload, variant
        The workload (its ``costs``) and variant; named in messages only, ``cost_at`` does the
        work.
    phase
        The phase's name.
    cost_at
        ``ranks -> PhaseCost`` of this phase (the busiest rank, per repetition) at that rank
        count, parameters resolved for it (weak mode scales them). May raise
        :class:`~harness.errors.ParameterError` where the problem cannot run at that count.
    cores, seconds
        One entry per measured run: ranks (int ≥ 1) and the phase's seconds per repetition
        (float ≥ 0); repeated core counts allowed.
    machine, ranks_per_node
        The machine model and how many ranks a node holds (placement: module docstring).

    Returns
    -------
    MechanisticPhase or None
        None when there are no runs. A model that is zero at every measured run (an allreduce
        at one rank, a manager that only exists from two ranks on) comes back uncalibrated
        (:attr:`MechanisticPhase.calibrated` False, factor 1, no terms at the measured
        counts): the machine figures alone predict the phase where the costs say it has work.
    """
    p = np.asarray(cores, dtype=np.int64)
    t = np.asarray(seconds, dtype=np.float64)
    if p.size == 0 or p.shape != t.shape:
        return None
    cal = calibrate(cost_at, p, t, machine, ranks_per_node)
    holdout, step = _holdout(cost_at, p, t, machine, ranks_per_node)
    largest = int(p.max())
    model = MechanisticPhase(phase, cost_at, machine, ranks_per_node, cal, (), largest,
                             holdout, step, len(np.unique(p)))
    used: list[str] = []
    for count in np.unique(p):
        used += [term for term in model.raw(int(count)).used if term not in used]
    return replace(model, terms=tuple(sorted(used, key=TERMS.index)))


def with_terms_at(model: MechanisticPhase, cores: ArrayLike,
                  machine: MachineModel | None = None) -> tuple[str, ...]:
    """The terms ``model`` uses at its measured counts and at ``cores`` (e.g. ``bandwidth``
    appears once the node saturates, or ``halo`` once it crosses nodes)."""
    used = list(model.terms)
    for count in np.asarray(cores).ravel():
        used += [term for term in model.raw(int(count), machine).used if term not in used]
    return tuple(sorted(used, key=TERMS.index))
