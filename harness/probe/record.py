"""The ``harness.probe/1`` record and the machine model built from it.

Rank 0 of a probe turns the measured points (``driver.measure``) into one JSON record: every
sample of every point, whether it verified, and the fits (``fit.py``) on the verified points;
then, when everything verified, into a :class:`harness.machine.MachineModel`. Files, under
``--out``: ``probe-<probe_id>.json`` (written once, never replaced), ``machine-<probe_id>.toml``
(the model of that probe, written once) and ``machine.toml`` (the latest model, replaced).
The record's JSON Schema ships as ``harness/schemas/probe-1.json``; :func:`validate` checks a
decoded record against it. Versioning follows the run record's: ``harness.probe/1`` and any
``harness.probe/1.x`` (additive fields) are read, another major is refused.
"""

from __future__ import annotations

import json
import re
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from harness import atomic, machine, machinefile, records
from harness.cpus import CONTENDED_ABOVE
from harness.documents import PROBE_FAMILY
from harness.errors import RecordError
from harness.probe import fit

SCHEMA = f"{PROBE_FAMILY}1"
MAJOR = 1
_VERSION = re.compile(r"harness\.probe/(0|[1-9][0-9]*)(?:\.(0|[1-9][0-9]*))?")
LATEST_MODEL = "machine.toml"


def record_name(probe_id: str) -> str:
    return f"probe-{probe_id}.json"


def model_name(probe_id: str) -> str:
    return f"machine-{probe_id}.toml"


@cache
def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of ``harness.probe/1`` records."""
    return json.loads(files("harness").joinpath(f"schemas/probe-{MAJOR}.json")
                      .read_text(encoding="utf-8"))


def validate(data: Any, source: str = "<probe record>") -> None:
    """Check a decoded probe record against ``harness/schemas/probe-1.json``.

    Raises
    ------
    RecordError
        Not a ``harness.probe/1[.x]`` record, or the first field that breaks the schema
        (one line naming ``source`` and the field).
    """
    tag = data.get("schema") if isinstance(data, dict) else None
    match = _VERSION.fullmatch(tag) if isinstance(tag, str) else None
    if match is None or int(match.group(1)) != MAJOR:
        raise RecordError(f"{source}: schema is {tag!r}; this harness reads {SCHEMA} and "
                          f"{SCHEMA}.x probe records")
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    error = best_match(Draft202012Validator(schema()).iter_errors(data))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "the record"
        raise RecordError(f"{source}: {where}: {error.message}")


def _verified(points: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [p for p in points or [] if p["verified"]]


def _hockney(level: dict[str, Any] | None) -> dict[str, Any] | None:
    if level is None:
        return None
    good = _verified(level["points"])
    try:
        found = fit.hockney([p["bytes"] for p in good], [p["time"] for p in good])
    except fit.FitError as exc:
        return {"error": str(exc)}
    return {"latency": found.latency, "bandwidth": found.bandwidth,
            "residual": found.residual, "points": found.points, "note": found.note}


def _allreduce_fit(level: dict[str, Any] | None, ranks: int,
                   link: dict[str, Any] | None) -> dict[str, Any] | None:
    if level is None:
        return None
    good = _verified(level["points"])
    try:
        found = fit.allreduce([p["ranks"] for p in good], [p["bytes"] for p in good],
                              [p["time"] for p in good])
    except fit.FitError as exc:
        if link is None or "latency" not in link:
            return {"error": str(exc)}
        # one rank: no round was measured; a round costs at least one message (Hockney)
        return {"alpha": link["latency"], "beta": 1.0 / link["bandwidth"], "residual": None,
                "points": 0, "ranks": [], "source": "pingpong",
                "note": "no allreduce at 2 or more ranks was measured (one rank): alpha and "
                        "beta are the ping-pong latency and inverse bandwidth, a lower bound"}
    top = max(found.ranks)
    return {"alpha": found.alpha, "beta": found.beta, "residual": found.residual,
            "points": found.points, "ranks": list(found.ranks), "source": "allreduce",
            "note": f"alpha and beta come from p <= {top} ranks (of {ranks}); beyond that "
                    "the log2 p rounds are an extrapolation"}


def _failures(measured: dict[str, Any]) -> list[str]:
    bad: list[str] = []
    for level, data in measured["pingpong"].items():
        bad += [f"ping-pong {level} {p['bytes']} B" for p in (data or {}).get("points") or []
                if not p["verified"]]
    for level, data in measured["allreduce"].items():
        bad += [f"allreduce {level} p={p['ranks']} {p['bytes']} B"
                for p in (data or {}).get("points") or [] if not p["verified"]]
    for dims, data in measured["halo"].items():
        bad += [f"halo {dims} {p['bytes']} B" for p in data["points"] if not p["verified"]]
    bad += [f"memory {p['ranks']} ranks" for p in measured["memory"]["points"]
            if not p["verified"]]
    bad += [f"io {p['writers']} writers" for p in measured["io"]["points"]
            if not (p["read"]["verified"] and p["write"]["verified"])]
    return bad


def build(measured: dict[str, Any], *, probe_id: str, machine_name: str, ranks: int,
          topo: Any, sizes: dict[str, Any], quick: bool, io_path: str, cache_bytes: int,
          provenance: dict[str, Any]) -> dict[str, Any]:
    """The ``harness.probe/1`` record of a probe's measurements (docs/design.md, "Probe
    record"): the points as measured, fits on the verified ones, status and notes."""
    pingpong = {level: None if data is None else
                {**data, "to_self": data["pair"][0] == data["pair"][1], "fit": _hockney(data)}
                for level, data in measured["pingpong"].items()}
    allreduce = {level: None if data is None else
                 {**data, "fit": _allreduce_fit(data, ranks, (pingpong[level] or {}).get("fit"))}
                 for level, data in measured["allreduce"].items()}
    mem = measured["memory"]
    notes: list[str] = []
    if topo.oversubscribed:
        notes.append(f"oversubscribed: {topo.ranks_per_node} ranks on a node with "
                     f"{topo.cpus_per_node:g} usable CPUs; these figures are not the machine's")
    if pingpong["intra"] is not None and pingpong["intra"]["to_self"]:
        notes.append("one rank (no two on a node): network.intra is a rank's messages to "
                     "itself, the MPI library's copy path, not a link between ranks; "
                     "allreduce.intra is taken from it, not measured")
    if 3 * mem["array_bytes"] < 4 * cache_bytes:
        notes.append(f"memory arrays ({mem['array_bytes']} B each) are smaller than STREAM's "
                     f"4x the last-level cache ({cache_bytes} B): [memory] is partly cache "
                     "bandwidth")
    if not measured["io"]["cache_dropped"]:
        notes.append("the file system did not accept dropping the written files from the "
                     "page cache: read bandwidth may be the cache's")
    contention = measured.get("contention")
    contended = contention is not None and contention > CONTENDED_ABOVE
    if contended:
        notes.append(f"contended: other work took {contention:.0%} of the CPU time the probe "
                     "needed; these figures are not the machine's alone")
    failures = _failures(measured)
    return {
        "schema": SCHEMA, "probe_id": probe_id, "created_at": records.now_iso(),
        "status": "verification_failed" if failures else "ok",
        "error": f"verification failed: {', '.join(failures)}" if failures else None,
        "machine_name": machine_name, "ranks": ranks, "nodes": topo.nodes,
        "ranks_per_node": topo.ranks_per_node, "cpus_per_node": topo.cpus_per_node,
        "oversubscribed": bool(topo.oversubscribed), "hosts": measured["hosts"],
        "contention": None if contention is None else round(contention, 4),
        "contended": contended,
        "quick": quick, "sizes": sizes, "pingpong": pingpong, "allreduce": allreduce,
        "halo": measured["halo"],
        "memory": {**mem, "last_level_cache_bytes": cache_bytes, "bytes_per_element": 24,
                   "exceeds_cache": 3 * mem["array_bytes"] >= 4 * cache_bytes},
        "io": {**measured["io"], "path": io_path},
        "notes": notes, "model": None, "provenance": provenance,
    }


def _link(level: dict[str, Any] | None) -> machine.Link | None:
    if level is None:
        return None
    return machine.Link(level["fit"]["latency"], level["fit"]["bandwidth"])


def _reduce(level: dict[str, Any] | None) -> machine.Allreduce | None:
    if level is None:
        return None
    return machine.Allreduce(level["fit"]["alpha"], level["fit"]["beta"])


def model_of(record: dict[str, Any]) -> machine.MachineModel:
    """The machine model a verified record describes (module docstring of
    :mod:`harness.machine`); ``source`` names the record, and says when the figures are not
    the machine's (oversubscribed) or partly something else (its ``notes``).

    Raises
    ------
    machine.MachineModelError
        The record did not verify, or a fit is missing (the message says which).
    """
    if record["status"] != "ok":
        raise machine.MachineModelError(f"probe {record['probe_id']}: {record['error']}")
    for kind, levels in (("ping-pong", record["pingpong"]), ("allreduce", record["allreduce"])):
        for level, data in levels.items():
            if data is not None and "error" in (data["fit"] or {}):
                raise machine.MachineModelError(f"{kind} {level}: {data['fit']['error']}")
    mem = record["memory"]["points"]
    io = record["io"]["points"]
    source: dict[str, Any] = {"probe": record_name(record["probe_id"]),
                              "created_at": record["created_at"], "ranks": record["ranks"],
                              "oversubscribed": record["oversubscribed"],
                              "contended": record["contended"]}
    if record["notes"]:
        source["notes"] = list(record["notes"])
    return machine.MachineModel(
        name=record["machine_name"],
        cores_per_node=max(1, int(record["cpus_per_node"])),
        nodes=record["nodes"],
        intra=_link(record["pingpong"]["intra"]),
        inter=_link(record["pingpong"]["inter"]),
        allreduce_intra=_reduce(record["allreduce"]["intra"]),
        allreduce_inter=_reduce(record["allreduce"]["inter"]),
        memory=machine.Curve(tuple(p["ranks"] for p in mem),
                             tuple(p["bandwidth"] for p in mem)),
        io_write=machine.Curve(tuple(p["writers"] for p in io),
                               tuple(p["write_bandwidth"] for p in io)),
        io_read=machine.Curve(tuple(p["writers"] for p in io),
                              tuple(p["read_bandwidth"] for p in io)),
        io_path=record["io"]["path"],
        source=source,
    )


def write(out: Path, record: dict[str, Any]) -> tuple[Path, Path | None]:
    """Write the record (and, when it verified, its model and ``machine.toml``) under ``out``.

    Returns ``(record path, model path or None)``.

    Raises
    ------
    RecordError
        The record breaks its schema, or a record of this probe id exists already.
    """
    model = model_of(record) if record["status"] == "ok" else None
    model_path = out / model_name(record["probe_id"]) if model is not None else None
    record = {**record, "model": model_path.name if model_path else None}
    data = records.finite(record)
    target = out / record_name(record["probe_id"])
    validate(json.loads(json.dumps(data)), str(target))
    try:  # the record and its model are written once; the record last, naming the model
        if target.exists():
            raise FileExistsError(target)
        if model is not None:
            machinefile.save(model, model_path, replace=False)
        atomic.write_json(target, data, replace=False)
    except FileExistsError:
        raise RecordError(f"{target}: a probe record with this id already exists") from None
    if model is not None:
        machinefile.save(model, out / LATEST_MODEL, replace=True)
    return target, model_path
