"""Sweep specs: load a TOML file from ``jobs/``, validate it, expand it.

A spec names the workloads to run (variants, modes, size, parameter overrides), the core counts
(``baseline_cores`` times ``scales``, or explicit ``cores``), the runs per point (``runs``; each
run makes ``reps`` timed repetitions), a time limit per run and a cluster profile
(``harness/profiles.py``). The format is documented at the top of ``jobs/platform.toml``.
Everything that can reach a batch script is checked against a strict pattern, and every workload
point is resolved by the workload itself, so a spec that loads can be run or submitted without
surprises. Errors are one-line :class:`~harness.errors.SpecError` messages that name the file
and the key. The old name of ``runs``, ``repetitions``, still loads, with a one-line warning on
stderr.
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
from harness.limits import MAX_CORES, MAX_REPS, MAX_RUNS, MAX_WARMUP
from harness.profiles import (
    NAME_RE,
    Profile,
    boolean,
    check_keys,
    identifier,
    load_profile,
    optional_int,
    parse_time_limit,
    positive_int,
)
from harness.tomlfile import read_toml

SPEC_KEYS = {
    "name", "description", "baseline_cores", "scales", "cores", "runs", "reps", "warmup",
    "time_limit", "job_time_limit", "profile", "workload", "analysis",
    "repetitions",  # the old name of runs: still read, with a warning (DEPRECATED_KEYS)
}
#: old spec key -> the key that replaced it; a spec that uses the old one loads with a warning
DEPRECATED_KEYS = {"repetitions": "runs"}
WORKLOAD_KEYS = {"name", "variant", "variants", "mode", "modes", "size", "params", "scales",
                 "cores"}
ANALYSIS_KEYS = {"time_limit", "report", "kpi_push", "store"}

# Identifiers that end up on command lines or in URLs (applied with fullmatch, as in profiles)
STORE_RE = re.compile(r"\A[a-z][a-z0-9+]*://[A-Za-z0-9_.:/@+-]*\Z")
PARAM_KEY_RE = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
#: [analysis] switch -> (the harness command it needs, what the analysis job runs); the command
#: line registers these commands (tests/unit/test_specs.py checks that each one resolves)
ANALYSIS_COMMANDS = {"report": ("report", "harness report"),
                     "kpi_push": ("kpi", "harness kpi push")}


@dataclass(frozen=True)
class AnalysisSettings:
    """The spec's ``[analysis]`` table: the job that runs after the scale jobs (analyze always;
    report and KPI push when asked); not the analysis itself, :class:`harness.analysis.Analysis`.
    """

    time_limit: int = 600
    report: bool = False
    kpi_push: bool = False
    store: str | None = None


@dataclass(frozen=True)
class Point:
    """One measurement point: a workload configuration (workload, variant, mode, size,
    parameters) at one core count, run ``runs`` times (each run
    makes ``reps`` timed repetitions, the harness's default when None)."""

    workload: str
    variant: str
    mode: str
    size: str
    params: dict[str, Any]
    resolved: dict[str, Any]
    ranks: int
    runs: int
    time_limit: int
    reps: int | None = None
    warmup: int | None = None

    @property
    def key(self) -> str:
        """A stable, file-name-safe identity: the same configuration at the same core
        count gives the same key in every run."""
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
        """The point as ``sweep.json`` (``harness.sweep/1``) stores it."""
        return {
            "key": self.key, "workload": self.workload, "variant": self.variant,
            "mode": self.mode, "size": self.size, "params": self.params,
            "resolved": self.resolved, "ranks": self.ranks,
            "repetitions": self.runs,  # runs per point, under the name sweep.json has always used
            "time_limit_s": self.time_limit, "reps": self.reps, "warmup": self.warmup,
        }


@dataclass(frozen=True)
class Spec:
    """A validated sweep spec; :attr:`points` lists every (configuration, core count) it
    asks for."""

    name: str
    path: str
    cores: tuple[int, ...]
    baseline_cores: int
    runs: int
    time_limit: int
    points: tuple[Point, ...]
    profile: Profile
    analysis: AnalysisSettings
    description: str = ""
    reps: int | None = None
    warmup: int | None = None
    job_time_limit: int | None = None

    def points_at(self, cores: int) -> list[Point]:
        """The points that run at ``cores`` cores, in spec order."""
        return [p for p in self.points if p.ranks == cores]


# -- helpers -----------------------------------------------------------------------------------


def _str_list(value: Any, what: str, path: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise SpecError(f"{path}: {what} must be a string or a non-empty list of strings")
    return value


# -- spec --------------------------------------------------------------------------------------


def _counts(table: dict[str, Any], base: int | None, where: str, path: str) -> tuple[int, ...]:
    """Core counts from ``cores`` or from ``scales`` times ``base``."""
    if "cores" in table and "scales" in table:
        raise SpecError(f"{path}: {where} gives both scales and cores; use one")
    if "cores" in table:
        raw = table["cores"]
        if not isinstance(raw, list) or not raw:
            raise SpecError(f"{path}: {where} cores must be a non-empty list of positive integers")
        counts = [positive_int(c, f"{where} cores entry", path, MAX_CORES) for c in raw]
    else:
        raw = table["scales"]
        if base is None:
            raise SpecError(f"{path}: scales need baseline_cores")
        if not isinstance(raw, list) or not raw:
            raise SpecError(f"{path}: {where} scales must be a non-empty list of positive numbers")
        counts = []
        for scale in raw:
            if (isinstance(scale, bool) or not isinstance(scale, (int, float))
                    or not math.isfinite(scale) or not scale > 0):
                raise SpecError(f"{path}: {where} scale {scale!r} must be a positive number")
            product = base * scale
            if product > MAX_CORES:
                raise SpecError(f"{path}: {where} scale {scale!r} times baseline_cores {base} "
                                f"is above the limit of {MAX_CORES} cores")
            if abs(product - round(product)) > 1e-9 or round(product) < 1:
                raise SpecError(f"{path}: {where} scale {scale!r} times baseline_cores {base} "
                                "is not a whole number of cores")
            counts.append(round(product))
    if len(set(counts)) != len(counts):
        raise SpecError(f"{path}: {where} core counts {counts} repeat a value")
    return tuple(sorted(counts))


def _workload_entry(entry: Any, where: str, path: str) -> tuple[Any, list[str], list[str], str,
                                                                dict[str, Any]]:
    if not isinstance(entry, dict):
        raise SpecError(f"{path}: {where} must be a table")
    check_keys(entry, WORKLOAD_KEYS, where, path)
    name = entry.get("name")
    if not isinstance(name, str):
        raise SpecError(f"{path}: {where} name must be a workload name (a string), "
                        f"not {name!r}")
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
    if variants == ["all"]:  # every variant the workload has
        variants = list(wl.variants)
    modes = _str_list(entry.get("modes", entry.get("mode", "strong")), f"{where} modes", path)
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise SpecError(f"{path}: {where} params must be a table of name = value")
    for key, value in params.items():
        if not PARAM_KEY_RE.fullmatch(key):
            raise SpecError(f"{path}: {where} parameter name {key!r} is not allowed")
        if not isinstance(value, (int, float, str)) or isinstance(value, bool):
            raise SpecError(f"{path}: {where} parameter {key} = {value!r} must be a number "
                            "or a string")
    size = entry.get("size", "tiny")
    if not isinstance(size, str):
        raise SpecError(f"{path}: {where} size must be a string such as \"tiny\", not {size!r}")
    return wl, variants, modes, size, params


def _analysis(doc: dict[str, Any], p: str) -> AnalysisSettings:
    table = doc.get("analysis", {})
    if not isinstance(table, dict):
        raise SpecError(f"{p}: [analysis] must be a table")
    check_keys(table, ANALYSIS_KEYS, "[analysis]", p)
    store = table.get("store")
    if store is not None:
        identifier(store, "analysis store", STORE_RE, p, "use a URL like sqlite:///results/kpi.sqlite")
    switches = {key: boolean(table, key, "[analysis] ", p) for key in ANALYSIS_COMMANDS}
    return AnalysisSettings(
        time_limit=parse_time_limit(table.get("time_limit", "10"), f"{p}: [analysis] time_limit"),
        report=switches["report"], kpi_push=switches["kpi_push"], store=store,
    )


def _profile(doc: dict[str, Any], path: Path) -> Profile:
    raw = doc.get("profile", {})
    if isinstance(raw, str):
        file = Path(raw) if Path(raw).is_absolute() else path.parent / raw
        if not raw or not file.is_file():
            raise SpecError(f"{path}: profile {raw!r} names no file; give the path of a profile "
                            "TOML file (relative to the spec) or a [profile] table")
        return load_profile(file)
    if isinstance(raw, dict):
        return load_profile(raw, str(path))
    raise SpecError(f"{path}: profile must be a table or the path of a profile file")


def _runs_key(doc: dict[str, Any], p: str) -> str:
    """The key that gives the runs per point: ``runs``, or its old name ``repetitions``."""
    if "runs" in doc and "repetitions" in doc:
        raise SpecError(f"{p}: gives both runs and repetitions (the old name of runs); "
                        "keep runs")
    return "repetitions" if "repetitions" in doc else "runs"


def load_spec(path: str | Path) -> Spec:
    """Load, validate and expand a sweep spec.

    Every point is resolved by its workload (size, parameters, mode, variant at that core
    count), so an invalid combination is reported here rather than in the middle of a sweep.

    Raises
    ------
    SpecError
        One line naming the file and what is wrong: unknown keys, non-positive scales or counts,
        core counts that do not fill whole nodes when the profile asks for that, a malformed
        time limit, a bad identifier, a configuration its workload refuses.
    """
    path = Path(path)
    p = str(path)
    doc = read_toml(path)
    check_keys(doc, SPEC_KEYS, "the spec", p)
    word = "use letters, digits, '_', '.' or '-' (up to 64), starting with a letter or digit"
    name = identifier(doc.get("name", path.stem), "spec name", NAME_RE, p, word)
    description = doc.get("description", "")
    if not isinstance(description, str):
        raise SpecError(f"{p}: description must be a string")
    if "scales" not in doc and "cores" not in doc:
        raise SpecError(f"{p}: give scales (with baseline_cores) or cores")
    base = (positive_int(doc["baseline_cores"], "baseline_cores", p, MAX_CORES)
            if "baseline_cores" in doc else None)
    spec_cores = _counts(doc, base, "the spec", p)
    base = base if base is not None else spec_cores[0]
    per_point = _per_point(doc, p)
    job_time_limit = (parse_time_limit(doc["job_time_limit"], f"{p}: job_time_limit")
                      if "job_time_limit" in doc else None)
    profile = _profile(doc, path)
    points = _expand(doc, base, spec_cores, per_point, p)
    all_cores = _check_points(points, profile, p)
    spec = Spec(
        name=name, path=p, cores=all_cores, baseline_cores=base, points=tuple(points),
        profile=profile, analysis=_analysis(doc, p), description=description,
        job_time_limit=job_time_limit, **per_point,
    )
    for old, new in DEPRECATED_KEYS.items():  # after every check: bad input stays one line
        if old in doc:
            sys.stderr.write(f"harness: warning: {p}: {old} is deprecated, it is the {new} per "
                             f"point; write {new} = {doc[old]!r}\n")
    return spec


def _per_point(doc: dict[str, Any], p: str) -> dict[str, Any]:
    """What every point of the spec shares: ``runs``, ``reps``, ``warmup`` and ``time_limit``
    (seconds), checked against their limits."""
    runs_key = _runs_key(doc, p)
    return {
        "runs": positive_int(doc.get(runs_key, 1), runs_key, p, MAX_RUNS),
        "reps": optional_int(doc, "reps", "reps", p, MAX_REPS),
        "warmup": optional_int(doc, "warmup", "warmup", p, MAX_WARMUP, minimum=0),
        "time_limit": parse_time_limit(doc.get("time_limit", "10"), f"{p}: time_limit"),
    }


def _expand(doc: dict[str, Any], base: int, spec_cores: tuple[int, ...],
            per_point: dict[str, Any], p: str) -> list[Point]:
    """Every point of the ``[[workload]]`` tables, in spec order, each resolved by its
    workload at its core count."""
    entries = doc.get("workload")
    if not isinstance(entries, list) or not entries:
        raise SpecError(f"{p}: a spec needs at least one [[workload]] table")
    points: list[Point] = []
    for index, entry in enumerate(entries):
        where = f"[[workload]] #{index + 1}"
        wl, variants, modes, size, params = _workload_entry(entry, where, p)
        cores = (_counts(entry, base, where, p) if "cores" in entry or "scales" in entry
                 else spec_cores)
        for ranks, variant, mode in itertools.product(cores, variants, modes):
            try:
                resolved, variant = wl.resolve(size, dict(params), mode, ranks, variant)
            except BadInputError as e:
                raise SpecError(f"{p}: {wl.name}/{variant} {mode} {size} at {ranks} cores: "
                                f"{e}") from None
            points.append(Point(
                workload=wl.name, variant=variant, mode=mode, size=size, params=dict(params),
                resolved=resolved, ranks=ranks, **per_point))
    return points


def _check_points(points: list[Point], profile: Profile, p: str) -> tuple[int, ...]:
    """Refuse two tables that ask for one point, and core counts that leave a node part-used
    when the profile says ``full_nodes``; sort the points by core count (stable: spec order
    within a count) and return the core counts."""
    keys = [pt.key for pt in points]
    if len(set(keys)) != len(keys):
        raise SpecError(f"{p}: two [[workload]] tables ask for the same point")
    all_cores = tuple(sorted({pt.ranks for pt in points}))
    if profile.full_nodes:
        cpn = profile.cores_per_node
        for c in all_cores:
            if c > cpn and c % cpn:
                raise SpecError(f"{p}: {c} cores do not fill whole nodes of {cpn} cores "
                                f"(profile {profile.name} has full_nodes = true)")
    points.sort(key=lambda pt: pt.ranks)
    return all_cores


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
