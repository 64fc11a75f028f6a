"""The machine model file: TOML a user can read and edit, written by ``harness probe``.

What the figures mean (Hockney links, allreduce rounds, memory and I/O curves) is
:mod:`harness.machine`; this module reads and writes them.

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

``network.inter`` and ``allreduce.inter`` are optional (absent when the probe ran on one node).

:func:`dumps` and :func:`save` write the file (TOML through ``tomli-w``, atomically), :func:`load`
reads it back: ``from_dict(tomllib.loads(dumps(model))) == model``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from harness import atomic
from harness.machine import Allreduce, Curve, Link, MachineModel, MachineModelError
from harness.tomlfile import tomllib

SCHEMA = "harness.machine/1"


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
    "# Machine model written by `harness probe` (layout: harness/machinefile.py).\n"
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
