"""The machine model: what ``harness probe`` measured, in a TOML file a user can read and edit.

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

The file (``schema = "harness.machine/1"``)::

    schema = "harness.machine/1"
    [machine]
    name = "node01"            # free text: host or cluster partition
    cores_per_node = 16
    nodes = 1                  # nodes the probe spanned
    [network.intra]
    latency = 4.1e-07          # seconds
    bandwidth = 9.8e+09        # bytes/s
    [network.inter]            # absent when the probe ran on one node
    latency = 1.8e-06
    bandwidth = 1.2e+10
    [allreduce.intra]
    alpha = 6.0e-07            # seconds per round
    beta = 2.1e-10             # seconds per byte
    [memory]
    ranks = [1, 2, 4, 8, 16]
    bandwidth = [1.4e10, 2.7e10, 4.9e10, 7.0e10, 7.4e10]   # bytes/s, all ranks together
    [io]
    path = "/scratch/probe"
    writers = [1, 2, 4]
    write_bandwidth = [1.1e9, 1.9e9, 2.0e9]                # bytes/s, all writers together
    read_bandwidth = [3.0e9, 5.2e9, 5.9e9]
    [source]                   # where the figures came from
    probe = "probe-20261130T0600-ab12cd34.json"

``network.inter`` and ``allreduce.inter`` are optional; without them a prediction beyond one
node uses the intra-node figures and says so (:attr:`MachineModel.inter_measured`).

:func:`dumps` and :func:`save` write the file (TOML through ``tomli-w``, atomically), :func:`load`
reads it back: ``from_dict(tomllib.loads(dumps(model))) == model``.
"""

from __future__ import annotations

import itertools
import math
import re
import sys
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from harness import atomic
from harness.errors import BadInputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SCHEMA = "harness.machine/1"


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


# -- TOML ------------------------------------------------------------------------------------------

def _number(table: Mapping[str, Any], key: str, where: str, minimum: float = 0.0) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not value > minimum:
        raise MachineModelError(f"{where}: {key} must be a number > {minimum:g}, found {value!r}")
    return float(value)


def _curve(table: Mapping[str, Any], count_key: str, value_key: str, where: str) -> Curve:
    counts, values = table.get(count_key), table.get(value_key)
    if not isinstance(counts, list) or not isinstance(values, list) or not counts \
            or len(counts) != len(values):
        raise MachineModelError(f"{where}: {count_key} and {value_key} must be lists of one "
                                "length >= 1")
    if any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in counts) \
            or any(b <= a for a, b in itertools.pairwise(counts)):
        raise MachineModelError(f"{where}: {count_key} must be increasing whole numbers >= 1")
    if any(isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0
           or not math.isfinite(v) for v in values):
        raise MachineModelError(f"{where}: {value_key} must be numbers > 0 (bytes/s)")
    return Curve(tuple(counts), tuple(float(v) for v in values))


def _table(doc: Mapping[str, Any], dotted: str, where: str, required: bool = True
           ) -> Mapping[str, Any] | None:
    node: Any = doc
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if node is None and not required:
        return None
    if not isinstance(node, Mapping):
        raise MachineModelError(f"{where}: missing table [{dotted}]")
    return node


def from_dict(doc: Mapping[str, Any], where: str = "machine model") -> MachineModel:
    """Build a model from a parsed TOML document (module docstring for the layout).

    Raises
    ------
    MachineModelError
        Wrong ``schema``, a missing table or a value out of range; the message names it.
    """
    schema = doc.get("schema")
    if not isinstance(schema, str) or not (schema == SCHEMA or schema.startswith(SCHEMA + ".")):
        raise MachineModelError(f"{where}: schema is {schema!r}, expected {SCHEMA!r} (a file "
                                "written by `harness probe`)")
    machine = _table(doc, "machine", where)
    cores = machine.get("cores_per_node")
    nodes = machine.get("nodes", 1)
    if isinstance(cores, bool) or not isinstance(cores, int) or cores < 1:
        raise MachineModelError(f"{where}: machine.cores_per_node must be a whole number >= 1")
    if isinstance(nodes, bool) or not isinstance(nodes, int) or nodes < 1:
        raise MachineModelError(f"{where}: machine.nodes must be a whole number >= 1")

    def link(name: str, required: bool) -> Link | None:
        t = _table(doc, f"network.{name}", where, required)
        if t is None:
            return None
        return Link(_number(t, "latency", f"{where} [network.{name}]"),
                    _number(t, "bandwidth", f"{where} [network.{name}]"))

    def allreduce(name: str, required: bool) -> Allreduce | None:
        t = _table(doc, f"allreduce.{name}", where, required)
        if t is None:
            return None
        here = f"{where} [allreduce.{name}]"
        alpha, beta = t.get("alpha"), t.get("beta")
        for key, value in (("alpha", alpha), ("beta", beta)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                    or not math.isfinite(value):
                raise MachineModelError(f"{here}: {key} must be a number >= 0")
        return Allreduce(float(alpha), float(beta))

    io = _table(doc, "io", where)
    return MachineModel(
        name=str(machine.get("name", "")),
        cores_per_node=cores,
        nodes=nodes,
        intra=link("intra", True),
        inter=link("inter", False),
        allreduce_intra=allreduce("intra", True),
        allreduce_inter=allreduce("inter", False),
        memory=_curve(_table(doc, "memory", where), "ranks", "bandwidth", f"{where} [memory]"),
        io_write=_curve(io, "writers", "write_bandwidth", f"{where} [io]"),
        io_read=_curve(io, "writers", "read_bandwidth", f"{where} [io]")
        if "read_bandwidth" in io else _curve(io, "writers", "write_bandwidth", f"{where} [io]"),
        io_path=str(io.get("path", "")),
        source=dict(doc.get("source", {})) if isinstance(doc.get("source"), Mapping) else {},
    )


def load(path: str | Path) -> MachineModel:
    """Read a machine model file.

    Raises
    ------
    MachineModelError
        The file is missing, is not TOML, or does not hold a valid model (one line says why).
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MachineModelError(f"{path}: no such machine model; run `harness probe` "
                                "to write one") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MachineModelError(f"{path}: cannot read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise MachineModelError(f"{path}: not valid TOML ({exc})") from None
    return from_dict(doc, str(path))


def to_dict(model: MachineModel) -> dict[str, Any]:
    """The TOML document of ``model`` (inverse of :func:`from_dict`)."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "machine": {"name": model.name, "cores_per_node": model.cores_per_node,
                    "nodes": model.nodes},
        "network": {"intra": {"latency": model.intra.latency,
                              "bandwidth": model.intra.bandwidth}},
        "allreduce": {"intra": {"alpha": model.allreduce_intra.alpha,
                                "beta": model.allreduce_intra.beta}},
        "memory": {"ranks": list(model.memory.counts),
                   "bandwidth": list(model.memory.values)},
        "io": {"path": model.io_path, "writers": list(model.io_write.counts),
               "write_bandwidth": list(model.io_write.values)},
    }
    if model.io_read.counts == model.io_write.counts:
        doc["io"]["read_bandwidth"] = list(model.io_read.values)
    if model.inter is not None:
        doc["network"]["inter"] = {"latency": model.inter.latency,
                                   "bandwidth": model.inter.bandwidth}
    if model.allreduce_inter is not None:
        doc["allreduce"]["inter"] = {"alpha": model.allreduce_inter.alpha,
                                     "beta": model.allreduce_inter.beta}
    if model.source:
        doc["source"] = dict(model.source)
    return doc


#: the first lines of every file :func:`dumps` writes (TOML comments: ignored by readers)
HEADER = (
    "# Machine model written by `harness probe` (layout: harness/machine.py).\n"
    "# Units: latency and alpha in seconds, bandwidth in bytes/s, beta in seconds per byte;\n"
    "# memory and io bandwidths are aggregate bytes/s of all ranks (writers) at each count.\n"
)


def _toml_values(value: Any) -> Any:
    """``value`` without None entries (TOML has no null), tuples as lists, recursively."""
    if isinstance(value, Mapping):
        return {str(k): _toml_values(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple)):
        return [_toml_values(v) for v in value if v is not None]
    return value


def dumps(model: MachineModel) -> str:
    """The TOML text of ``model``: :data:`HEADER`, then :func:`to_dict` written by ``tomli-w``.

    Entries of ``model.source`` that are None are left out (TOML has no null). Floats are
    written in full (``repr``), so :func:`load` gives back the same numbers.

    Raises
    ------
    MachineModelError
        ``model.source`` holds a value TOML cannot represent (e.g. an object).
    """
    import tomli_w

    try:
        return HEADER + tomli_w.dumps(_toml_values(to_dict(model)))
    except TypeError as exc:
        raise MachineModelError(f"machine model {model.name!r}: cannot write as TOML "
                                f"({exc})") from None


def save(model: MachineModel, path: str | Path, *, replace: bool = True) -> Path:
    """Write ``model`` to ``path`` as TOML (:func:`dumps`), atomically (temporary file, fsync,
    rename: :func:`harness.atomic.write_text`); the directory is created.

    ``replace`` False refuses to overwrite an existing file (``FileExistsError``).

    Raises
    ------
    MachineModelError
        The directory cannot be created or written, or the model cannot be written as TOML.
    FileExistsError
        ``replace`` is False and ``path`` exists (it stays as it was).
    """
    text = dumps(model)
    try:
        return atomic.write_text(path, text, replace=replace, prefix=".machine-")
    except FileExistsError:
        if not replace and Path(path).is_file():
            raise  # written once: the existing model stays as it was
        raise MachineModelError(f"{path}: cannot write the machine model (a file is in the "
                                "way of its directory)") from None
    except OSError as exc:
        raise MachineModelError(f"{path}: cannot write the machine model "
                                f"({exc.strerror or exc})") from None
