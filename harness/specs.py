"""Sweep specs and cluster profiles: load a TOML file from ``jobs/``, validate it, expand it.

A spec names the workloads to run (variants, modes, size, parameter overrides), the core counts
(``baseline_cores`` times ``scales``, or explicit ``cores``), the repetitions per point, a time
limit per run and a cluster profile. The format is documented at the top of
``jobs/platform.toml``. Everything that can reach a batch script is checked here against a strict
pattern, and every workload point is resolved by the workload itself, so a spec that loads can
be run or submitted without surprises. Errors are one-line :class:`~harness.errors.SpecError`
messages that name the file and the key.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import workloads
from harness.errors import BadInputError, SpecError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

LAUNCHERS = ("srun", "mpiexec")
SPEC_KEYS = {
    "name", "description", "baseline_cores", "scales", "cores", "repetitions", "reps", "warmup",
    "time_limit", "job_time_limit", "profile", "workload", "analysis",
}
PROFILE_KEYS = {
    "name", "partition", "account", "qos", "constraint", "cores_per_node", "full_nodes",
    "exclusive", "launcher", "mpi", "preamble", "python", "sbatch_options", "array_throttle",
    "numba_cache_dir",
}
WORKLOAD_KEYS = {"name", "variant", "variants", "mode", "modes", "size", "params", "scales",
                 "cores"}
ANALYSIS_KEYS = {"time_limit", "report", "kpi_push", "store"}

# Identifiers that end up in #SBATCH lines or on command lines: no spaces, quotes or shell syntax.
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
SLURM_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
PARTITION_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(,[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})*$")
CONSTRAINT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*([&|,][A-Za-z0-9_][A-Za-z0-9_.-]*)*$")
SBATCH_OPTION_RE = re.compile(r"^--[a-z][a-z-]*(=[A-Za-z0-9_.:,=/+-]+)?$")
PATH_RE = re.compile(r"^/[A-Za-z0-9_./+-]*$")
STORE_RE = re.compile(r"^[a-z][a-z0-9+]*://[A-Za-z0-9_.:/@+-]*$")
PARAM_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# sbatch --time forms: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
_TIME_FORMS = (
    (re.compile(r"^(\d+)$"), ("m",)),
    (re.compile(r"^(\d+):(\d{1,2})$"), ("m", "s")),
    (re.compile(r"^(\d+):(\d{1,2}):(\d{1,2})$"), ("h", "m", "s")),
    (re.compile(r"^(\d+)-(\d{1,2})$"), ("d", "h")),
    (re.compile(r"^(\d+)-(\d{1,2}):(\d{1,2})$"), ("d", "h", "m")),
    (re.compile(r"^(\d+)-(\d{1,2}):(\d{1,2}):(\d{1,2})$"), ("d", "h", "m", "s")),
)
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_time_limit(text: Any, where: str = "time limit") -> int:
    """Seconds in a Slurm time limit: ``MM``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``,
    ``D-HH:MM:SS``.

    Fields after the first are bounded as on a clock (seconds and minutes < 60, hours < 24 after
    a day count); the total must be positive.

    Raises
    ------
    SpecError
        When ``text`` is not a string in one of those forms, or is zero.
    """
    allowed = "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"
    if not isinstance(text, str):
        raise SpecError(f"{where} must be a string ({allowed}), not {text!r}")
    for pattern, units in _TIME_FORMS:
        m = pattern.match(text.strip())
        if not m:
            continue
        values = [int(g) for g in m.groups()]
        for unit, value in list(zip(units, values, strict=True))[1:]:
            if (unit in "ms" and value >= 60) or (unit == "h" and "d" in units and value >= 24):
                raise SpecError(f"{where} {text!r}: {unit}-field {value} is out of range")
        seconds = sum(_UNIT_SECONDS[u] * v for u, v in zip(units, values, strict=True))
        if seconds <= 0:
            raise SpecError(f"{where} {text!r} must be longer than zero")
        return seconds
    raise SpecError(f"{where} {text!r} is malformed; use {allowed}")


def format_time_limit(seconds: int) -> str:
    """``seconds`` as an sbatch time limit, ``HH:MM:SS`` or ``D-HH:MM:SS`` past a day."""
    if seconds <= 0:
        raise ValueError("time limit must be positive")
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


@dataclass(frozen=True)
class Profile:
    """Where and how Slurm jobs run: partition, account, node shape, launcher, site preamble.

    ``preamble`` lines are the site's own shell (``module load ...``) and go into job scripts
    verbatim; every other value has passed a strict pattern.
    """

    name: str = "default"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    cores_per_node: int | None = None
    full_nodes: bool = False
    exclusive: bool = False
    launcher: str = "srun"
    mpi: str = "pmi2"
    preamble: tuple[str, ...] = ()
    python: str | None = None
    sbatch_options: tuple[str, ...] = ()
    array_throttle: int | None = None
    numba_cache_dir: str | None = None
    source: str = ""

    def nodes_for(self, cores: int) -> int:
        """Nodes needed for ``cores`` tasks at one task per core."""
        return math.ceil(cores / self.cores_per_node) if self.cores_per_node else 1


@dataclass(frozen=True)
class Analysis:
    """The job that runs after the scale jobs: analyze always; report and KPI push when asked."""

    time_limit: int = 600
    report: bool = False
    kpi_push: bool = False
    store: str | None = None


@dataclass(frozen=True)
class Point:
    """One measurement point: a workload case at one core count, run ``repetitions`` times."""

    workload: str
    variant: str
    mode: str
    size: str
    params: dict[str, Any]
    resolved: dict[str, Any]
    ranks: int
    repetitions: int
    time_limit: int
    reps: int | None = None
    warmup: int | None = None

    @property
    def key(self) -> str:
        """A stable, file-name-safe identity: the same case gives the same key in every run."""
        ident = json.dumps([self.workload, self.variant, self.mode, self.size, self.params],
                           sort_keys=True)
        digest = hashlib.sha256(ident.encode()).hexdigest()[:8]
        parts = (self.workload, self.variant, self.mode, self.size)
        safe = "-".join(re.sub(r"[^A-Za-z0-9_.]+", "_", x)[:24] for x in parts)
        return f"{safe}-p{self.ranks}-{digest}"

    @property
    def label(self) -> str:
        extra = "".join(f" {k}={v}" for k, v in sorted(self.params.items()))
        return f"{self.workload}/{self.variant} {self.mode} {self.size}{extra} p={self.ranks}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key, "workload": self.workload, "variant": self.variant,
            "mode": self.mode, "size": self.size, "params": self.params,
            "resolved": self.resolved, "ranks": self.ranks, "repetitions": self.repetitions,
            "time_limit_s": self.time_limit, "reps": self.reps, "warmup": self.warmup,
        }


@dataclass(frozen=True)
class Spec:
    """A validated sweep spec; :attr:`points` lists every (case, core count) it asks for."""

    name: str
    path: str
    cores: tuple[int, ...]
    baseline_cores: int
    repetitions: int
    time_limit: int
    points: tuple[Point, ...]
    profile: Profile
    analysis: Analysis
    description: str = ""
    reps: int | None = None
    warmup: int | None = None
    job_time_limit: int | None = None

    def points_at(self, cores: int) -> list[Point]:
        """The points that run at ``cores`` cores, in spec order."""
        return [p for p in self.points if p.ranks == cores]


# -- helpers -----------------------------------------------------------------------------------


def _check_keys(table: dict[str, Any], allowed: set[str], where: str, path: str) -> None:
    for key in table:
        if key not in allowed:
            raise SpecError(
                f"{path}: unknown key {key!r} in {where}; allowed: {', '.join(sorted(allowed))}"
            )


def _positive_int(value: Any, what: str, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{path}: {what} must be a positive integer, not {value!r}")
    return value


def _opt_int(table: dict[str, Any], key: str, what: str, path: str, minimum: int = 1) -> int | None:
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"{path}: {what} must be an integer >= {minimum}, not {value!r}")
    return value


def _bool(table: dict[str, Any], key: str, where: str, path: str, default: bool = False) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise SpecError(f"{path}: {where}{key} must be true or false, not {value!r}")
    return value


def _ident(value: Any, what: str, pattern: re.Pattern[str], path: str, rule: str) -> str:
    if not isinstance(value, str) or not pattern.match(value):
        raise SpecError(f"{path}: {what} {value!r} is not allowed; {rule}")
    return value


def _str_list(value: Any, what: str, path: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{path}: {what} must be a string or a non-empty list of strings")
    return value


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise SpecError(f"{path}: no such spec file") from None
    except OSError as e:
        raise SpecError(f"{path}: cannot read ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise SpecError(f"{path}: not valid TOML ({e})") from None


# -- profile -----------------------------------------------------------------------------------


def load_profile(table: dict[str, Any] | str | Path, source: str = "<profile>") -> Profile:
    """Validate a cluster profile, given as a table or as the path of a TOML file.

    Raises
    ------
    SpecError
        Unknown keys, a value that fails its pattern, a non-positive count, a launcher other
        than ``srun`` or ``mpiexec``.
    """
    if not isinstance(table, dict):
        source = str(table)
        table = _read_toml(Path(table))
    path = source
    _check_keys(table, PROFILE_KEYS, "[profile]", path)
    word = "letters, digits, '_', '.' or '-' (up to 64)"
    out: dict[str, Any] = {"source": source}
    out["name"] = _ident(table.get("name", "default"), "profile name", NAME_RE, path, word)
    if "partition" in table:
        out["partition"] = _ident(table["partition"], "partition", PARTITION_RE, path,
                                  f"use {word}, several joined by ','")
    for key in ("account", "qos"):
        if key in table:
            out[key] = _ident(table[key], key, SLURM_NAME_RE, path, f"use {word}")
    if "constraint" in table:
        out["constraint"] = _ident(table["constraint"], "constraint", CONSTRAINT_RE, path,
                                   "use feature names joined by '&', '|' or ','")
    if "cores_per_node" in table:
        out["cores_per_node"] = _positive_int(table["cores_per_node"], "cores_per_node", path)
    out["full_nodes"] = _bool(table, "full_nodes", "profile ", path)
    out["exclusive"] = _bool(table, "exclusive", "profile ", path)
    if out["full_nodes"] and "cores_per_node" not in out:
        raise SpecError(f"{path}: full_nodes = true needs cores_per_node in the profile")
    launcher = table.get("launcher", "srun")
    if launcher not in LAUNCHERS:
        raise SpecError(f"{path}: launcher {launcher!r} is not allowed; use srun or mpiexec")
    out["launcher"] = launcher
    out["mpi"] = _ident(table.get("mpi", "pmi2"), "mpi", SLURM_NAME_RE, path,
                        "name an srun --mpi plugin such as pmi2")
    if "preamble" in table:
        lines = table["preamble"]
        if isinstance(lines, str):
            lines = lines.splitlines()
        if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
            raise SpecError(f"{path}: preamble must be a list of shell lines")
        for line in lines:
            if any(c in line for c in "\n\r\0"):
                raise SpecError(f"{path}: preamble entry {line!r} must be one line")
        out["preamble"] = tuple(lines)
    for key in ("python", "numba_cache_dir"):
        if key in table:
            out[key] = _ident(table[key], key, PATH_RE, path,
                              "use an absolute path of letters, digits and '_./+-'")
    if "sbatch_options" in table:
        opts = table["sbatch_options"]
        if not isinstance(opts, list):
            raise SpecError(f"{path}: sbatch_options must be a list like ['--mem=0']")
        for opt in opts:
            _ident(opt, "sbatch option", SBATCH_OPTION_RE, path,
                   "write one --long-option[=value] without spaces or quotes per entry")
        out["sbatch_options"] = tuple(opts)
    out["array_throttle"] = _opt_int(table, "array_throttle", "array_throttle", path)
    return Profile(**out)


# -- spec --------------------------------------------------------------------------------------


def _counts(table: dict[str, Any], base: int | None, where: str, path: str) -> tuple[int, ...]:
    """Core counts from ``cores`` or from ``scales`` times ``base``."""
    if "cores" in table and "scales" in table:
        raise SpecError(f"{path}: {where} gives both scales and cores; use one")
    if "cores" in table:
        raw = table["cores"]
        if not isinstance(raw, list) or not raw:
            raise SpecError(f"{path}: {where} cores must be a non-empty list of positive integers")
        counts = [_positive_int(c, f"{where} cores entry", path) for c in raw]
    else:
        raw = table["scales"]
        if base is None:
            raise SpecError(f"{path}: scales need baseline_cores")
        if not isinstance(raw, list) or not raw:
            raise SpecError(f"{path}: {where} scales must be a non-empty list of positive numbers")
        counts = []
        for scale in raw:
            if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not scale > 0:
                raise SpecError(f"{path}: {where} scale {scale!r} must be a positive number")
            product = base * scale
            if abs(product - round(product)) > 1e-9 or round(product) < 1:
                raise SpecError(f"{path}: {where} scale {scale!r} times baseline_cores {base} "
                                "is not a whole number of cores")
            counts.append(round(product))
    if len(set(counts)) != len(counts):
        raise SpecError(f"{path}: {where} core counts {counts} repeat a value")
    return tuple(sorted(counts))


def _workload_cases(entry: Any, where: str, path: str) -> tuple[Any, list[str], list[str], str,
                                                                dict[str, Any]]:
    if not isinstance(entry, dict):
        raise SpecError(f"{path}: {where} must be a table")
    _check_keys(entry, WORKLOAD_KEYS, where, path)
    name = entry.get("name")
    if name not in workloads.names():
        raise SpecError(f"{path}: {where} name {name!r} is not a workload; choose one of "
                        f"{', '.join(workloads.names())}")
    try:
        wl = workloads.get(name)
    except ImportError as e:
        raise SpecError(f"{path}: workload {name!r} is not available here ({e})") from None
    for one, many in (("variant", "variants"), ("mode", "modes")):
        if one in entry and many in entry:
            raise SpecError(f"{path}: {where} gives both {one} and {many}; use one")
    variants = _str_list(entry.get("variants", entry.get("variant", wl.variants[0])),
                         f"{where} variants", path)
    modes = _str_list(entry.get("modes", entry.get("mode", "strong")), f"{where} modes", path)
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise SpecError(f"{path}: {where} params must be a table of name = value")
    for key, value in params.items():
        if not PARAM_KEY_RE.match(key):
            raise SpecError(f"{path}: {where} parameter name {key!r} is not allowed")
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise SpecError(f"{path}: {where} parameter {key} = {value!r} must be a number "
                            "or a string")
    return wl, variants, modes, entry.get("size", "tiny"), params


def _analysis(doc: dict[str, Any], p: str) -> Analysis:
    table = doc.get("analysis", {})
    if not isinstance(table, dict):
        raise SpecError(f"{p}: [analysis] must be a table")
    _check_keys(table, ANALYSIS_KEYS, "[analysis]", p)
    store = table.get("store")
    if store is not None:
        _ident(store, "analysis store", STORE_RE, p, "use a URL like sqlite:///results/kpi.sqlite")
    return Analysis(
        time_limit=parse_time_limit(table.get("time_limit", "10"), f"{p}: [analysis] time_limit"),
        report=_bool(table, "report", "[analysis] ", p),
        kpi_push=_bool(table, "kpi_push", "[analysis] ", p),
        store=store,
    )


def _profile(doc: dict[str, Any], path: Path) -> Profile:
    raw = doc.get("profile", {})
    if isinstance(raw, str):
        file = Path(raw)
        return load_profile(file if file.is_absolute() else path.parent / file)
    if isinstance(raw, dict):
        return load_profile(raw, str(path))
    raise SpecError(f"{path}: profile must be a table or the path of a profile file")


def load_spec(path: str | Path) -> Spec:
    """Load, validate and expand a sweep spec.

    Every point is resolved by its workload (size, parameters, mode, variant at that core
    count), so an invalid combination is reported here rather than in the middle of a sweep.

    Raises
    ------
    SpecError
        One line naming the file and what is wrong: unknown keys, non-positive scales or counts,
        core counts that do not fill whole nodes when the profile asks for that, a malformed
        time limit, a bad identifier, a workload case its workload refuses.
    """
    path = Path(path)
    p = str(path)
    doc = _read_toml(path)
    _check_keys(doc, SPEC_KEYS, "the spec", p)
    word = "use letters, digits, '_', '.' or '-' (up to 64), starting with a letter or digit"
    name = _ident(doc.get("name", path.stem), "spec name", NAME_RE, p, word)
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise SpecError(f"{p}: description must be a string")
    if "scales" not in doc and "cores" not in doc:
        raise SpecError(f"{p}: give scales (with baseline_cores) or cores")
    base = (_positive_int(doc["baseline_cores"], "baseline_cores", p)
            if "baseline_cores" in doc else None)
    spec_cores = _counts(doc, base, "the spec", p)
    base = base if base is not None else spec_cores[0]
    repetitions = _positive_int(doc.get("repetitions", 1), "repetitions", p)
    reps = _opt_int(doc, "reps", "reps", p)
    warmup = _opt_int(doc, "warmup", "warmup", p, minimum=0)
    time_limit = parse_time_limit(doc.get("time_limit", "10"), f"{p}: time_limit")
    job_time_limit = (parse_time_limit(doc["job_time_limit"], f"{p}: job_time_limit")
                      if "job_time_limit" in doc else None)
    profile = _profile(doc, path)

    entries = doc.get("workload")
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{p}: a spec needs at least one [[workload]] table")
    points: list[Point] = []
    for index, entry in enumerate(entries):
        where = f"[[workload]] #{index + 1}"
        wl, variants, modes, size, params = _workload_cases(entry, where, p)
        cores = (_counts(entry, base, where, p) if "cores" in entry or "scales" in entry
                 else spec_cores)
        for ranks, variant, mode in itertools.product(cores, variants, modes):
            try:
                resolved, variant = wl.resolve(size, dict(params), mode, ranks, variant)
            except BadInputError as e:
                raise SpecError(f"{p}: {wl.name} {variant} {mode} at {ranks} cores: {e}") from None
            points.append(Point(
                workload=wl.name, variant=variant, mode=mode, size=size, params=dict(params),
                resolved=resolved, ranks=ranks, repetitions=repetitions, time_limit=time_limit,
                reps=reps, warmup=warmup))
    keys = [pt.key for pt in points]
    if len(set(keys)) != len(keys):
        raise SpecError(f"{p}: two [[workload]] tables ask for the same case")
    all_cores = tuple(sorted({pt.ranks for pt in points}))
    if profile.full_nodes:
        cpn = profile.cores_per_node
        for c in all_cores:
            if c > cpn and c % cpn:
                raise SpecError(f"{p}: {c} cores do not fill whole nodes of {cpn} cores "
                                f"(profile {profile.name} has full_nodes = true)")
    points.sort(key=lambda pt: pt.ranks)  # stable: spec order within a core count
    return Spec(
        name=name, path=p, cores=all_cores, baseline_cores=base, repetitions=repetitions,
        time_limit=time_limit, points=tuple(points), profile=profile,
        analysis=_analysis(doc, p), description=description, reps=reps, warmup=warmup,
        job_time_limit=job_time_limit,
    )


def check_slurm(spec: Spec) -> None:
    """Check what Slurm mode needs beyond a valid spec: a partition and cores_per_node.

    Raises
    ------
    SpecError
        Naming the missing profile key and the spec file.
    """
    for key in ("partition", "cores_per_node"):
        if getattr(spec.profile, key) is None:
            raise SpecError(f"{spec.path}: Slurm mode needs {key} in the profile "
                            f"({spec.profile.source or spec.path})")
