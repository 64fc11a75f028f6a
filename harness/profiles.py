"""Cluster profiles and the checks every value bound for a batch script goes through.

A profile says where and how a sweep's jobs run on a cluster: partition, account, qos,
constraint, cores per node, launcher (``srun`` or ``mpiexec``), the site's preamble. This module
also holds what specs and profiles share: Slurm time limits (all six ``sbatch --time`` forms),
the strict identifier patterns and the one-line :class:`~harness.errors.SpecError`
messages that name the file and the key.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import SpecError
from harness.launch.launchers import REGISTRY
from harness.limits import MAX_CORES, MAX_CORES_PER_NODE, MAX_RUNS, MAX_TIME_LIMIT
from harness.tomlfile import read_toml

#: the launcher names a profile may choose (:data:`harness.launch.launchers.REGISTRY`)
LAUNCHERS = tuple(REGISTRY)
PROFILE_KEYS = {
    "name", "partition", "account", "qos", "constraint", "cores_per_node", "full_nodes",
    "exclusive", "launcher", "mpi", "preamble", "python", "sbatch_options", "array_throttle",
    "numba_cache_dir", "memory_per_node", "max_nodes", "stage_env", "stage_dir",
}
# Identifiers that end up in #SBATCH lines or on command lines: no spaces, quotes or shell syntax.
# Anchored with \A...\Z and always applied with fullmatch: "$" would also match before a final
# newline, which would let "name\n" through.
NAME_RE = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
SLURM_NAME_RE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\Z")
PARTITION_RE = re.compile(
    r"\A[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}(,[A-Za-z0-9_][A-Za-z0-9_.-]{0,63})*\Z")
CONSTRAINT_RE = re.compile(r"\A[A-Za-z0-9_][A-Za-z0-9_.-]*([&|,][A-Za-z0-9_][A-Za-z0-9_.-]*)*\Z")
SBATCH_OPTION_RE = re.compile(r"\A--[a-z][a-z-]*(=[A-Za-z0-9_.:,=/+-]+)?\Z")
PATH_RE = re.compile(r"\A/[A-Za-z0-9_./+-]*\Z")

# sbatch --time forms: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM, D-HH:MM:SS
_TIME_FORMS = (
    (re.compile(r"(\d+)"), ("m",)),
    (re.compile(r"(\d+):(\d{1,2})"), ("m", "s")),
    (re.compile(r"(\d+):(\d{1,2}):(\d{1,2})"), ("h", "m", "s")),
    (re.compile(r"(\d+)-(\d{1,2})"), ("d", "h")),
    (re.compile(r"(\d+)-(\d{1,2}):(\d{1,2})"), ("d", "h", "m")),
    (re.compile(r"(\d+)-(\d{1,2}):(\d{1,2}):(\d{1,2})"), ("d", "h", "m", "s")),
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
        When ``text`` is not a string in one of those forms, is zero, or is longer than
        :data:`~harness.limits.MAX_TIME_LIMIT`.
    """
    allowed = "MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS"
    if not isinstance(text, str):
        raise SpecError(f"{where} must be a string ({allowed}), not {text!r}")
    for pattern, units in _TIME_FORMS:
        m = pattern.fullmatch(text.strip())
        if not m:
            continue
        values = [int(g) for g in m.groups()]
        for unit, value in list(zip(units, values, strict=True))[1:]:
            if (unit in "ms" and value >= 60) or (unit == "h" and "d" in units and value >= 24):
                raise SpecError(f"{where} {text!r}: {unit}-field {value} is out of range")
        seconds = sum(_UNIT_SECONDS[u] * v for u, v in zip(units, values, strict=True))
        if seconds <= 0:
            raise SpecError(f"{where} {text!r} must be longer than zero")
        if seconds > MAX_TIME_LIMIT:
            raise SpecError(f"{where} {text!r} is longer than a year ({MAX_TIME_LIMIT} s), "
                            "more than any cluster allows")
        return seconds
    raise SpecError(f"{where} {text!r} is malformed; use {allowed}")


_MEMORY_UNITS = {"K": 2 ** 10, "M": 2 ** 20, "G": 2 ** 30, "T": 2 ** 40}
_MEMORY_RE = re.compile(r"\A([1-9][0-9]*)([KMGT])\Z")


def parse_memory(text: Any, where: str = "memory") -> int:
    """Bytes in a Slurm-style size: a positive integer and a unit K, M, G or T (powers of 1024).

    Raises
    ------
    SpecError
        When ``text`` is not such a string.
    """
    m = _MEMORY_RE.fullmatch(text) if isinstance(text, str) else None
    if not m:
        raise SpecError(f"{where} {text!r} must be a size like \"256G\" or \"192000M\" "
                        "(K, M, G, T: powers of 1024)")
    return int(m.group(1)) * _MEMORY_UNITS[m.group(2)]


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
    memory_per_node: int | None = None  # bytes a job may use on one node
    max_nodes: int | None = None  # the partition's largest job, in nodes
    stage_env: str | None = None  # a tarball of the environment, unpacked on every node
    stage_dir: str = "/tmp"  # the node-local directory it is unpacked into
    source: str = ""

    def nodes_for(self, cores: int) -> int:
        """Nodes needed for ``cores`` tasks at one task per core."""
        return math.ceil(cores / self.cores_per_node) if self.cores_per_node else 1


# -- checks shared by specs and profiles ---------------------------------------------------------


def check_keys(table: dict[str, Any], allowed: set[str], where: str, path: str) -> None:
    for key in table:
        if key not in allowed:
            raise SpecError(
                f"{path}: unknown key {key!r} in {where}; allowed: {', '.join(sorted(allowed))}"
            )


def positive_int(value: Any, what: str, path: str, maximum: int) -> int:
    """``value`` if it is an integer in ``[1, maximum]``, else a one-line ``SpecError``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{path}: {what} must be a positive integer, not {value!r}")
    if value > maximum:
        raise SpecError(f"{path}: {what} {value} is above the limit of {maximum}")
    return value


def optional_int(table: dict[str, Any], key: str, what: str, path: str, maximum: int,
                 minimum: int = 1) -> int | None:
    """``table[key]`` if it is an integer in ``[minimum, maximum]``, None when absent."""
    if key not in table:
        return None
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SpecError(f"{path}: {what} must be an integer >= {minimum}, not {value!r}")
    if value > maximum:
        raise SpecError(f"{path}: {what} {value} is above the limit of {maximum}")
    return value


def boolean(table: dict[str, Any], key: str, where: str, path: str, default: bool = False) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise SpecError(f"{path}: {where}{key} must be true or false, not {value!r}")
    return value


def identifier(value: Any, what: str, pattern: re.Pattern[str], path: str, rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise SpecError(f"{path}: {what} {value!r} is not allowed; {rule}")
    return value


# -- profile -----------------------------------------------------------------------------------


def load_profile(table: dict[str, Any] | str | Path, source: str = "<profile>") -> Profile:
    """Validate a cluster profile, given as a table or as the path of a TOML file.

    Raises
    ------
    SpecError
        Unknown keys, a value that fails its pattern, a non-positive count, a launcher that
        is not registered (``srun``, ``mpiexec``).
    """
    if not isinstance(table, dict):
        source = str(table)
        table = read_toml(Path(table))
    path = source
    check_keys(table, PROFILE_KEYS, "[profile]", path)
    out: dict[str, Any] = {"source": source}
    _names(table, out, path)
    _nodes(table, out, path)
    _launch(table, out, path)
    _script_lines(table, out, path)
    _limits(table, out, path)
    _staging(table, out, path)
    return Profile(**out)


#: what a Slurm name may be made of, as the messages say it
_NAME_WORD = "letters, digits, '_', '.' or '-' (up to 64)"


def _names(table: dict[str, Any], out: dict[str, Any], path: str) -> None:
    """The profile's name and the Slurm names it passes on: partition, account, qos,
    constraint."""
    word = _NAME_WORD
    out["name"] = identifier(table.get("name", "default"), "profile name", NAME_RE, path, word)
    if "partition" in table:
        out["partition"] = identifier(table["partition"], "partition", PARTITION_RE, path,
                                      f"use {word}, several joined by ','")
    for key in ("account", "qos"):
        if key in table:
            out[key] = identifier(table[key], key, SLURM_NAME_RE, path, f"use {word}")
    if "constraint" in table:
        out["constraint"] = identifier(table["constraint"], "constraint", CONSTRAINT_RE, path,
                                       "use feature names joined by '&', '|' or ','")


def _nodes(table: dict[str, Any], out: dict[str, Any], path: str) -> None:
    """Cores per node and how nodes are used: ``full_nodes`` (which needs cores_per_node),
    ``exclusive``."""
    if "cores_per_node" in table:
        out["cores_per_node"] = positive_int(table["cores_per_node"], "cores_per_node", path,
                                             MAX_CORES_PER_NODE)
    out["full_nodes"] = boolean(table, "full_nodes", "profile ", path)
    out["exclusive"] = boolean(table, "exclusive", "profile ", path)
    if out["full_nodes"] and "cores_per_node" not in out:
        raise SpecError(f"{path}: full_nodes = true needs cores_per_node in the profile")


def _launch(table: dict[str, Any], out: dict[str, Any], path: str) -> None:
    """The launcher (``srun`` or ``mpiexec``) and srun's ``--mpi`` plugin."""
    launcher = table.get("launcher", "srun")
    if launcher not in LAUNCHERS:
        raise SpecError(f"{path}: launcher {launcher!r} is not allowed; use "
                        + " or ".join(LAUNCHERS))
    out["launcher"] = launcher
    out["mpi"] = identifier(table.get("mpi", "pmi2"), "mpi", SLURM_NAME_RE, path,
                            "name an srun --mpi plugin such as pmi2")


def _script_lines(table: dict[str, Any], out: dict[str, Any], path: str) -> None:
    """What reaches the job scripts as written: the site's preamble (one shell line each),
    the paths of the Python and of the Numba cache, extra ``#SBATCH`` options."""
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
            out[key] = identifier(table[key], key, PATH_RE, path,
                                  "use an absolute path of letters, digits and '_./+-'")
    if "sbatch_options" in table:
        opts = table["sbatch_options"]
        if not isinstance(opts, list):
            raise SpecError(f"{path}: sbatch_options must be a list like ['--mem=0']")
        for opt in opts:
            identifier(opt, "sbatch_options entry", SBATCH_OPTION_RE, path,
                       "write one --long-option[=value] without spaces or quotes per entry")
        out["sbatch_options"] = tuple(opts)


def _limits(table: dict[str, Any], out: dict[str, Any], path: str) -> None:
    """The array throttle, the memory of a node and the most nodes a job may have."""
    out["array_throttle"] = optional_int(table, "array_throttle", "array_throttle", path,
                                         MAX_RUNS)
    if "memory_per_node" in table:
        out["memory_per_node"] = parse_memory(table["memory_per_node"],
                                              f"{path}: memory_per_node")
    out["max_nodes"] = optional_int(table, "max_nodes", "max_nodes", path, MAX_CORES)


def _staging(table: dict[str, Any], out: dict[str, Any], path: str) -> None:
    """``stage_env`` (a .tar or .tar.gz of the environment on the shared file system) is copied
    to every node with ``sbcast`` and unpacked into ``stage_dir``; ``python`` must then name the
    interpreter inside the unpacked tree."""
    rule = "use an absolute path of letters, digits and '_./+-'"
    if "stage_dir" in table:
        out["stage_dir"] = identifier(table["stage_dir"], "stage_dir", PATH_RE, path, rule)
    if "stage_env" not in table:
        if "stage_dir" in table:
            raise SpecError(f"{path}: stage_dir needs stage_env (the environment's tarball)")
        return
    env = identifier(table["stage_env"], "stage_env", PATH_RE, path, rule)
    if not env.endswith((".tar", ".tar.gz", ".tgz")):
        raise SpecError(f"{path}: stage_env {env!r} must be a .tar, .tar.gz or .tgz file")
    stage_dir = out.get("stage_dir", "/tmp").rstrip("/")
    python = out.get("python")
    if python is None or not python.startswith(stage_dir + "/"):
        raise SpecError(f"{path}: stage_env needs python = the interpreter inside the unpacked "
                        f"environment, under stage_dir {stage_dir} (e.g. "
                        f"\"{stage_dir}/harness-venv/bin/python\")")
    out["stage_env"] = env
