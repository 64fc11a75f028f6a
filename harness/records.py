"""Run records (schema ``harness.run/1``): build, write atomically, load and validate.

One JSON file per run, named ``<out>/<sweep_id>/<workload>-<mode>-p<ranks>-<run_id>.json``,
written once (temp file + rename, never overwritten). The loader rejects a malformed record
with a message naming the file and the field, so nothing half-valid reaches the analyzer.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import uuid
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness import atomic, record_schema
from harness.errors import BadInputError, RecordError

SCHEMA = "harness.run/1"
STATUSES = ("ok", "verification_failed", "failed")
DEFAULT_SWEEP_ID = "adhoc"
#: per-repetition timing lists; :meth:`RunRecord.to_json_data` leaves them as measured
TIMINGS = ("seconds", "seconds_min", "seconds_mean")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


def finite(data: Any) -> Any:
    """``data`` with every float that is NaN or infinite replaced by None, recursively, so
    that ``json.dumps(..., allow_nan=False)`` holds (a verification error can be NaN)."""
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    if isinstance(data, dict):
        return {k: finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite(v) for v in data]
    return data


def new_run_id() -> str:
    """A unique, sortable run id: UTC timestamp plus 8 random hex digits."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{uuid.uuid4().hex[:8]}"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def check_id(kind: str, value: str) -> str:
    """Return ``value`` if it is safe as a file-name component, else raise ``RecordError``."""
    if not _ID.fullmatch(value):
        raise RecordError(
            f"{kind} {value!r} must be 1-128 characters of letters, digits, '.', '_' or '-'"
        )
    return value


@dataclass
class RunRecord:
    """One run, exactly the fields of ``harness.run/1`` (docs/design.md, "Run record"; the JSON
    Schema ``harness/schemas/run-1.json``), plus additive extras."""

    run_id: str
    sweep_id: str
    workload: str
    variant: str
    mode: str
    size: str
    params: dict[str, Any]
    ranks: int
    status: str
    nodes: int = 1
    ranks_per_node: int = 1
    threads_per_rank: int = 1
    oversubscribed: bool = False
    warmup: int = 0
    repetitions: int = 0
    iterations: int = 0
    seconds: list[float] = field(default_factory=list)
    phases: dict[str, dict[str, float]] = field(default_factory=dict)
    fom: dict[str, Any] | None = None
    verification: dict[str, Any] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    created_at: str = field(default_factory=now_iso)
    schema: str = SCHEMA
    # additive fields (docs/design.md allows more, never renamed)
    seconds_min: list[float] = field(default_factory=list)
    seconds_mean: list[float] = field(default_factory=list)
    extra_foms: list[dict[str, Any]] = field(default_factory=list)
    work: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    #: the parameters the user set (``--set``), parsed: with workload, mode, variant and size
    #: they name the *problem*, the same at every rank count of a scaling study (``params``
    #: differ between rank counts in weak mode)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: a Numba kernel was compiled during the timed repetitions (their times include the JIT)
    compiled_while_timed: bool = False
    #: the work every run of this problem at this rank count does identically (the workload's
    #: ``fixed_work`` entries of ``work``); runs whose fixed work differs are never pooled
    fixed_work: dict[str, Any] = field(default_factory=dict)
    #: seconds from process start to the first timed repetition, across ranks (min, mean,
    #: max): imports, MPI start, compilation or cache loading, setup and warm-up
    startup: dict[str, float] | None = None
    #: the cgroup CPU quota of the run's processes, in CPUs (None: unlimited)
    cpu_quota: float | None = None
    #: share of the CPU time the ranks needed that other work on their CPUs took during the
    #: timed repetitions (harness/cpus.py; None: not judged, window too short)
    contention: float | None = None
    #: contention above harness.cpus.CONTENDED_ABOVE: times not valid for scaling
    contended: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json_data(self) -> dict[str, Any]:
        """The record as strict JSON data: a NaN or infinite value (a verification error can
        be NaN) becomes null, except in the timing lists, which the analyzer screens itself."""
        data = self.to_dict()
        return {k: v if k in TIMINGS else finite(v) for k, v in data.items()}

    @property
    def filename(self) -> str:
        return f"{self.workload}-{self.mode}-p{self.ranks}-{self.run_id}.json"


def failed(*, run_id: str, sweep_id: str, workload: str, variant: str, mode: str, size: str,
           params: dict[str, Any], ranks: int, error: str, provenance: dict[str, Any]
           ) -> RunRecord:
    """A record with status ``failed`` and the error text, for a run that could not finish.

    Whoever notices the failure writes it — the failing rank, the supervising ``harness run``,
    a local sweep or a Slurm job script — so a run never disappears without a trace.
    """
    return RunRecord(run_id=run_id, sweep_id=sweep_id, workload=workload, variant=variant,
                     mode=mode, size=size, params=dict(params), ranks=ranks, status="failed",
                     error=error, provenance=provenance)


# field name -> (accepted types, required)
_NUM = (int, float)
_FIELDS: dict[str, tuple[tuple[type, ...], bool]] = {
    "schema": ((str,), True),
    "run_id": ((str,), True),
    "sweep_id": ((str,), True),
    "created_at": ((str,), True),
    "workload": ((str,), True),
    "variant": ((str,), True),
    "mode": ((str,), True),
    "size": ((str,), True),
    "params": ((dict,), True),
    "ranks": ((int,), True),
    "nodes": ((int,), True),
    "ranks_per_node": ((int,), True),
    "threads_per_rank": ((int,), True),
    "oversubscribed": ((bool,), True),
    "warmup": ((int,), True),
    "repetitions": ((int,), True),
    "iterations": ((int,), True),
    "seconds": ((list,), True),
    "phases": ((dict,), True),
    "fom": ((dict, type(None)), True),
    "verification": ((dict, type(None)), True),
    "status": ((str,), True),
    "provenance": ((dict,), True),
    "fixed_work": ((dict,), False),
}


def validate(data: Any, source: str = "<record>") -> RunRecord:
    """Check a decoded record and return it as a :class:`RunRecord`.

    Raises
    ------
    RecordError
        Naming ``source`` and the first field that is missing or of the wrong kind.
    """

    def bad(name: str, why: str) -> RecordError:
        return RecordError(f"{source}: field {name!r} {why}")

    if not isinstance(data, dict):
        raise RecordError(f"{source}: a run record must be a JSON object")
    for name, (types, required) in _FIELDS.items():
        if name not in data:
            if required:
                raise bad(name, "is missing")
            continue
        value = data[name]
        # bool is a subclass of int: refuse true/false where a count is expected
        ok = isinstance(value, types) and (bool in types or not isinstance(value, bool))
        if not ok:
            wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
            raise bad(name, f"must be {wanted}, not {type(value).__name__}")
    if record_schema.version(data, source)[0] != record_schema.MAJOR:
        raise bad("schema", f"is {data['schema']!r}: a major version this harness cannot read; "
                            f"it reads {SCHEMA!r} and any {SCHEMA}.x (additive fields)")
    for name in ("run_id", "sweep_id"):  # file-name components (a newline passes the schema's
        if not _ID.fullmatch(data[name]):  # pattern in the jsonschema package)
            raise bad(name, f"is {data[name]!r}; must be 1-128 characters of letters, digits, "
                            "'.', '_' or '-'")
    if data["status"] not in STATUSES:
        raise bad("status", f"is {data['status']!r}; expected one of {', '.join(STATUSES)}")
    if data["mode"] not in ("strong", "weak"):
        raise bad("mode", f"is {data['mode']!r}; expected strong or weak")
    for name in ("ranks", "nodes", "ranks_per_node", "threads_per_rank"):
        if data[name] < 1:
            raise bad(name, f"is {data[name]}; must be >= 1")
    for name in ("warmup", "repetitions", "iterations"):
        if data[name] < 0:
            raise bad(name, f"is {data[name]}; must be >= 0")
    for k, s in enumerate(data["seconds"]):
        if isinstance(s, bool) or not isinstance(s, _NUM) or s < 0:
            raise bad("seconds", f"entry {k} is {s!r}; must be a number >= 0")
    if data["status"] == "ok":
        if not data["seconds"]:
            raise bad("seconds", "is empty in a record with status 'ok'")
        if data["verification"] is None or data["verification"].get("passed") is not True:
            raise bad("verification", "must record a passed verification when status is 'ok'")
    for name, stats in data["phases"].items():
        if not (isinstance(stats, dict) and isinstance(stats.get("min"), _NUM)
                and isinstance(stats.get("mean"), _NUM) and isinstance(stats.get("max"), _NUM)):
            raise bad("phases", f"entry {name!r} must have numeric min, mean and max")
    if data["fom"] is not None and not {"name", "unit", "value"} <= set(data["fom"]):
        raise bad("fom", "must have name, unit and value")
    if data["verification"] is not None:
        missing = {"passed", "method", "checksum", "error", "tolerance"} - set(data["verification"])
        if missing:
            raise bad("verification", f"lacks {', '.join(sorted(missing))}")
    return RunRecord(**{k: v for k, v in data.items() if k in _KNOWN})


#: the fields validate() wants as integers (not bool, not 2.0)
_INTEGERS = tuple(name for name, (types, _) in _FIELDS.items() if types == (int,))
#: a run of 19 digits not after a decimal point, once digits are 0, the point stays and all
#: else is a space: maybe an integer orjson cannot hold (it holds -2**63 to 2**64 - 1 and reads
#: others as floats; -2**63 - 1 has 19 digits)
_DIGITS = bytes(48 if 48 <= c <= 57 else 46 if c == 46 else 32 for c in range(256))
_LONG_INTEGER = b" " + b"0" * 19
#: the fields of RunRecord (a record's other fields, from newer minor versions, are dropped)
_KNOWN = frozenset(f.name for f in fields(RunRecord))


def read_json(path: Path) -> Any:
    """The JSON document in the record file ``path``, not yet validated.

    Raises
    ------
    RecordError
        When the file cannot be read or is not JSON (one line naming the file).
    """
    return read_json_bytes(path)[0]


def read_json_bytes(path: Path) -> tuple[Any, bytes]:
    """The JSON document in the record file ``path``, not yet validated, and the file's bytes
    (for a digest of exactly what was read).

    Raises
    ------
    RecordError
        When the file cannot be read or is not UTF-8 JSON (one line naming the file).
    """
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise RecordError(f"{path}: cannot read run record ({e.strerror})") from e
    if _LONG_INTEGER not in (b" " + raw).translate(_DIGITS):  # orjson: a float past 64 bits
        import orjson  # here, not at the top: a rank writes records and never reads one

        try:
            return orjson.loads(raw), raw  # strict RFC 8259, four times the speed of json
        except orjson.JSONDecodeError:
            pass  # the standard library's verdict and message (it also reads NaN and Infinity)
    try:
        return json.loads(raw.decode("utf-8")), raw
    except UnicodeDecodeError as e:
        raise RecordError(f"{path}: not valid JSON ({e})") from e
    except json.JSONDecodeError as e:
        raise RecordError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from e


def from_json(data: Any, source: str) -> RunRecord:
    """A record from its JSON document, checked by :func:`validate` and against the shipped
    JSON Schema (:mod:`harness.record_schema`), as outside tools check it.

    The JSON Schema holds every check of :func:`validate` but one (JSON Schema's integer also
    takes 2.0, which :func:`validate` refuses), so a document the compiled schema accepts
    (:func:`harness.record_schema.accepts`) with exact integers is built at once; anything else
    goes through both checks, whose messages stand (tested: what the first way accepts, both
    checks accept).

    Raises
    ------
    RecordError
        When the document does not validate; the message names ``source``.
    """
    if record_schema.accepts(data) and all(type(data[k]) is int for k in _INTEGERS):
        return RunRecord(**{k: v for k, v in data.items() if k in _KNOWN})
    record = validate(data, source)
    record_schema.validate(data, source)
    return record


def load(path: str | os.PathLike[str]) -> RunRecord:
    """Read and validate one record file.

    Raises
    ------
    RecordError
        When the file cannot be read, is not JSON, or does not validate.
    """
    path = Path(path)
    return from_json(read_json(path), str(path))


#: files in a sweep's directory that are never run records: its state and its prepared KPI
#: rows (:mod:`harness.sweepstate`, :mod:`harness.store.prepared`)
NOT_RECORDS = frozenset({"sweep.json", "kpi.json"})


def find(paths: list[str | os.PathLike[str]]) -> list[Path]:
    """Record files under ``paths`` (files as given, directories searched recursively, without
    :data:`NOT_RECORDS`)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(_json_files(p), key=lambda q: q.parts))
        else:
            found.append(p)
    return found


def _json_files(top: Path) -> list[Path]:
    """The ``*.json`` files under ``top`` (as ``top.rglob`` finds them: symbolic links to
    directories are not followed, unreadable directories are skipped), without hidden files
    and :data:`NOT_RECORDS`; one ``scandir`` per directory, no ``stat`` per regular file."""
    out: list[Path] = []
    stack = [str(top)]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except (PermissionError, FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            name = entry.name
            try:
                if entry.is_dir() and not entry.is_symlink():
                    stack.append(entry.path)
                elif (name.endswith(".json") and not name.startswith(".")
                      and name not in NOT_RECORDS and entry.is_file()):
                    out.append(Path(entry.path))
            except OSError:  # gone, or a link that cannot be followed
                continue
    return out


def record_path(out: str | os.PathLike[str], record: RunRecord) -> Path:
    """Where ``record`` belongs: ``<out>/<sweep_id>/<workload>-<mode>-p<ranks>-<run_id>.json``."""
    check_id("sweep id", record.sweep_id)
    check_id("run id", record.run_id)
    return Path(out) / record.sweep_id / record.filename


def write(out: str | os.PathLike[str], record: RunRecord) -> Path:
    """Write ``record`` under ``out`` atomically and return its path.

    The JSON goes to a temporary file in the target directory, is flushed to disk, then linked
    into place; an existing record with the same name is never replaced.

    Raises
    ------
    RecordError
        When a record with this run id already exists or the directory is not writable.
    """
    target = record_path(out, record)
    data = record.to_json_data()
    validate(json.loads(json.dumps(data)), str(target))
    try:  # written once: an existing record is never replaced
        return atomic.write_json(target, data, replace=False)
    except FileExistsError:
        raise RecordError(f"{target}: a record with this run id already exists") from None
    except OSError as e:
        raise RecordError(f"{target.parent}: cannot write run records ({e.strerror})") from e


def exists(out: str | os.PathLike[str], sweep_id: str, run_id: str) -> Path | None:
    """The record of ``run_id`` in ``<out>/<sweep_id>``, if one was written."""
    directory = Path(out) / sweep_id
    if not directory.is_dir():
        return None
    matches = sorted(directory.glob(f"*-{run_id}.json"))
    return matches[0] if matches else None


def check_writable(directory: str | os.PathLike[str], option: str = "--out") -> Path:
    """``directory`` resolved, once it is known to be a place where results can be written.

    The directory is created when missing (nothing else is) and a temporary file is made and
    removed in it, so ``/proc/x``, ``/sys/x`` or ``/dev/null/x`` are refused before anything runs.

    Raises
    ------
    BadInputError
        When ``directory`` cannot be created or written; one line naming it and why.
    """
    path = Path(directory).resolve()
    for system in ("/proc", "/sys"):  # kernel interfaces: a mkdir there can mean something else
        if path.is_relative_to(system):
            raise BadInputError(f"{option} {directory}: {system} is not a place for results; "
                                "choose a writable directory")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as e:
        raise BadInputError(f"{option} {directory}: cannot write run records there ({e.strerror}); "
                            "choose a writable directory") from None
    return path
