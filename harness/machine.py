"""The machine model: what ``harness probe`` measured, as rates that turn work into seconds.

``harness predict`` turns a workload's work and communication per phase (``Workload.costs``)
into seconds with it. The model holds, per level (``intra``: two ranks on one node; ``inter``:
ranks on different nodes):

- point-to-point messages as Hockney's α–β model, ``t(m) = α + m/B`` (R. W. Hockney, "The
  communication challenge for MPP: Intel Paragon and Meiko CS-2", Parallel Computing 20(3),
  1994), ``latency`` α in seconds and ``bandwidth`` B in bytes/s;
- allreduce as ``t(p, m) = α·⌈log₂ p⌉ + β·m``, ``alpha`` in seconds per round and ``beta`` in
  seconds per byte: the shape of Rabenseifner's reduce-scatter + allgather allreduce, whose cost
  ``2⌈log₂ p⌉·α₀ + 2((p − 1)/p)·m·β₀`` (Thakur, Rabenseifner & Gropp, "Optimization of collective
  communication operations in MPICH", IJHPCA 19(1), 2005) has a latency term growing with
  ``log₂ p`` and a bandwidth term nearly independent of ``p``; α and β are fitted, not derived;

and, measured on one node, curves of aggregate bandwidth against a count: ``memory`` (STREAM
triad bytes/s as 1…k ranks of one node run it at once: the node's saturation curve) and
``io.write`` / ``io.read`` (bytes/s to the probed file system against the number of writers).
Between measured counts a curve interpolates linearly; beyond the last it stays flat (saturated).

The inter-node level (``inter``, ``allreduce_inter``) may be absent; without it a prediction
beyond one node uses the intra-node figures and says so (:attr:`MachineModel.inter_measured`).
:func:`with_overrides` applies ``--set key=value`` changes (:data:`OVERRIDES`, values with units
through :func:`parse_quantity`). The TOML file that holds a model, its layout, reading and
writing are :mod:`harness.machinefile`.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from harness.errors import BadInputError


class MachineModelError(BadInputError):
    """A machine model file or an override that cannot be used (the message says which)."""


@dataclass(frozen=True)
class Link:
    """Hockney α–β point-to-point model: ``latency`` seconds, ``bandwidth`` bytes/s (both > 0)."""

    latency: float
    bandwidth: float

    def time(self, nbytes: float, messages: float = 1.0) -> float:
        """Seconds for ``messages`` messages carrying ``nbytes`` bytes in all, one after another."""
        return messages * self.latency + nbytes / self.bandwidth


@dataclass(frozen=True)
class Allreduce:
    """``t(p, m) = alpha·⌈log₂ p⌉ + beta·m``: ``alpha`` s per round, ``beta`` s per byte (≥ 0)."""

    alpha: float
    beta: float

    def time(self, ranks: int, nbytes: float) -> float:
        """Seconds for one allreduce of ``nbytes`` bytes over ``ranks`` ranks (0 for one rank)."""
        if ranks <= 1:
            return 0.0
        return self.alpha * math.ceil(math.log2(ranks)) + self.beta * nbytes


@dataclass(frozen=True)
class Curve:
    """Aggregate bandwidth (bytes/s) against a count (ranks or writers), measured points.

    ``counts`` strictly increasing positive integers, ``values`` positive, same length ≥ 1.
    """

    counts: tuple[int, ...]
    values: tuple[float, ...]

    def at(self, count: float) -> float:
        """Aggregate bytes/s at ``count``: linear between points, flat outside them."""
        if count <= self.counts[0]:
            return self.values[0]
        if count >= self.counts[-1]:
            return self.values[-1]
        i = bisect_left(self.counts, count)
        c0, c1 = self.counts[i - 1], self.counts[i]
        v0, v1 = self.values[i - 1], self.values[i]
        return v0 + (v1 - v0) * (count - c0) / (c1 - c0)

    def per_unit(self, count: float) -> float:
        """Bytes/s each of ``count`` concurrent users gets."""
        return self.at(count) / max(count, 1.0)

    @staticmethod
    def flat(value: float) -> Curve:
        """A curve that is ``value`` at any count (an assumed, not a measured, ceiling)."""
        return Curve((1,), (float(value),))


@dataclass(frozen=True)
class MachineModel:
    """A machine's measured communication, memory and I/O rates (module docstring)."""

    name: str
    cores_per_node: int
    intra: Link
    allreduce_intra: Allreduce
    memory: Curve
    io_write: Curve
    io_read: Curve
    nodes: int = 1
    inter: Link | None = None
    allreduce_inter: Allreduce | None = None
    io_path: str = ""
    source: dict[str, Any] = field(default_factory=dict)

    @property
    def inter_measured(self) -> bool:
        """True when the inter-node level was probed (or set by hand)."""
        return self.inter is not None

    def link(self, off_node: bool) -> Link:
        """The point-to-point level for messages that leave the node (``off_node``) or not."""
        return self.inter if off_node and self.inter is not None else self.intra

    def allreduce(self, off_node: bool) -> Allreduce:
        """The allreduce model for a communicator spanning several nodes or one."""
        if off_node and self.allreduce_inter is not None:
            return self.allreduce_inter
        return self.allreduce_intra

    def memory_bandwidth_per_rank(self, ranks_on_node: int) -> float:
        """Bytes/s of triad bandwidth each rank gets when ``ranks_on_node`` share a node."""
        return self.memory.per_unit(max(1, min(ranks_on_node, self.cores_per_node)))

    def io_bandwidth(self, writers: int, kind: str = "write") -> float:
        """Aggregate bytes/s ``writers`` concurrent writers (or readers) get."""
        return (self.io_write if kind == "write" else self.io_read).at(max(1, writers))


# -- quantities with units -----------------------------------------------------------------------

_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ/]*)\s*$")
_TIME = {"": 1.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
_BANDWIDTH = {"": 1.0, "B/s": 1.0, "kB/s": 1e3, "KB/s": 1e3, "MB/s": 1e6, "GB/s": 1e9,
              "TB/s": 1e12, "KiB/s": 2**10, "MiB/s": 2**20, "GiB/s": 2**30,
              "Gb/s": 1e9 / 8, "Gbit/s": 1e9 / 8, "Mb/s": 1e6 / 8}
_PER_BYTE = {"": 1.0, "s/B": 1.0, "ns/B": 1e-9, "ps/B": 1e-12}


def parse_quantity(text: str, kind: str) -> float:
    """Parse ``"1us"``, ``"12.5GB/s"``, ``"0.3ns/B"`` or a bare number (SI units) into SI.

    ``kind`` is ``"time"`` (seconds), ``"bandwidth"`` (bytes/s) or ``"per_byte"`` (s/byte).

    Raises
    ------
    MachineModelError
        The text is not a positive number with a unit of that kind; the message lists the units.
    """
    units = {"time": _TIME, "bandwidth": _BANDWIDTH, "per_byte": _PER_BYTE}[kind]
    match = _QUANTITY.match(str(text))
    if not match or match.group(2) not in units:
        allowed = ", ".join(u for u in units if u)
        raise MachineModelError(f"{text!r} is not a {kind.replace('_', ' ')}; write a number "
                                f"with one of: {allowed}")
    value = float(match.group(1)) * units[match.group(2)]
    if not value > 0 or not math.isfinite(value):
        raise MachineModelError(f"{text!r} must be a number > 0")
    return value


#: what ``--set`` may change: key → (kind, how to apply it)
OVERRIDES: dict[str, str] = {
    "network.latency": "time",              # inter-node α (the interconnect)
    "network.bandwidth": "bandwidth",       # inter-node B
    "network.intra.latency": "time",
    "network.intra.bandwidth": "bandwidth",
    "allreduce.alpha": "time",              # inter-node allreduce, per round
    "allreduce.beta": "per_byte",
    "io.bandwidth": "bandwidth",            # aggregate ceiling, read and write, any writer count
    "memory.bandwidth": "bandwidth",        # a node's aggregate triad bandwidth, saturated
}


def with_overrides(model: MachineModel, assignments: Iterable[str]) -> MachineModel:
    """A copy of ``model`` with ``key=value`` assignments (keys of :data:`OVERRIDES`) applied.

    ``network.*`` creates the inter-node level from the intra-node one when it was not probed.
    ``io.bandwidth`` and ``memory.bandwidth`` replace the curve by a flat (assumed) ceiling.
    The model's ``source`` records every override as ``overrides``.

    Raises
    ------
    MachineModelError
        An assignment without ``=``, an unknown key (the message lists the keys), a bad value.
    """
    applied = list(model.source.get("overrides", []))
    for text in assignments:
        key, sep, raw = text.partition("=")
        key = key.strip()
        if not sep:
            raise MachineModelError(f"--set {text!r}: write key=value, e.g. network.latency=1us")
        if key not in OVERRIDES:
            raise MachineModelError(f"--set {key!r}: unknown key; choose one of "
                                    f"{', '.join(OVERRIDES)}")
        try:
            value = parse_quantity(raw, OVERRIDES[key])
        except MachineModelError as e:
            raise MachineModelError(f"--set {key}: {e}") from None
        model = _apply(model, key, value)
        applied.append(f"{key}={raw.strip()}")
    return replace(model, source={**model.source, "overrides": applied})


def _apply(model: MachineModel, key: str, value: float) -> MachineModel:
    inter = model.inter or model.intra
    ar_inter = model.allreduce_inter or model.allreduce_intra
    if key == "network.latency":
        return replace(model, inter=replace(inter, latency=value))
    if key == "network.bandwidth":
        return replace(model, inter=replace(inter, bandwidth=value))
    if key == "network.intra.latency":
        return replace(model, intra=replace(model.intra, latency=value))
    if key == "network.intra.bandwidth":
        return replace(model, intra=replace(model.intra, bandwidth=value))
    if key == "allreduce.alpha":
        return replace(model, allreduce_inter=replace(ar_inter, alpha=value))
    if key == "allreduce.beta":
        return replace(model, allreduce_inter=replace(ar_inter, beta=value))
    if key == "io.bandwidth":
        return replace(model, io_write=Curve.flat(value), io_read=Curve.flat(value))
    if key == "memory.bandwidth":
        return replace(model, memory=Curve.flat(value))
    raise AssertionError(key)
