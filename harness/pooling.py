"""Which runs may be pooled into one point, and where each group's runs came from.

Runs at one core count of one study are pooled (each run is a replicate) only when they measure
the same thing on the same kind of machine:

- **Work.** A record's ``fixed_work`` (iteration, update or case counts; column ``work``, canonical
  JSON) must agree between pooled runs: within a core count, and across the whole group in strong
  mode, where the problem does not change with the core count. Different work is a different
  problem: refused.
- **Machine.** CPU model, CPUs per node and MPI library (column ``machine``) are part of the
  group key (:data:`harness.metrics.KEYS`), so runs of different machines are never pooled.
- **Code.** Runs made with a different harness commit or library versions (column ``code``) are
  refused unless the caller accepts them (``--pool-provenance``), then pooled with a warning that
  names the fields that differ.

Inputs without these columns (CSV files, records from before they existed) pass unchecked.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from harness.errors import DataError


def _label(keys: tuple[str, ...], columns: list[str]) -> str:
    key = dict(zip(columns, keys, strict=True))
    name = "/".join(k for k in (key["workload"], key["mode"], key["variant"]) if k)
    return f"{name} [{key['problem']}]" if key.get("problem") else name


def _first_sources(frame: pd.DataFrame, column: str) -> list[tuple[str, str]]:
    """(value, first source) for each distinct non-empty value of ``column``."""
    seen = frame.loc[frame[column].astype(str) != ""].drop_duplicates(column)
    return [(str(v), str(s)) for v, s in zip(seen[column], seen["source"], strict=True)]


def _check_work(keys: tuple[str, ...], group: pd.DataFrame, columns: list[str]) -> None:
    mode = dict(zip(columns, keys, strict=True))["mode"]
    parts = [group] if mode == "strong" else [g for _, g in group.groupby("cores", sort=True)]
    for part in parts:
        values = _first_sources(part, "work")
        if len(values) > 1:
            (a, src_a), (b, src_b) = values[:2]
            where = "" if mode == "strong" else f" at {int(part['cores'].iloc[0])} cores"
            raise DataError(
                f"{_label(keys, columns)}{where}: runs did different work, so they are not "
                f"pooled: {src_a} did {a}, {src_b} did {b}; the work is part of the problem: "
                "analyze them separately, or rerun with the same size and --set values")


def _differing(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))


def _check_code(keys: tuple[str, ...], group: pd.DataFrame, columns: list[str],
                accept: bool) -> str | None:
    values = _first_sources(group, "code")
    if len(values) < 2:
        return None
    decoded = [(json.loads(v), src) for v, src in values]
    fields = sorted({f for other, _ in decoded[1:] for f in _differing(decoded[0][0], other)})
    (first, src_a), (second, src_b) = decoded[0], decoded[1]
    shown = "; ".join(f"{f}: {first.get(f)!r} in {src_a} vs {second.get(f)!r} in {src_b}"
                      for f in fields[:3])
    if not accept:
        raise DataError(
            f"{_label(keys, columns)}: runs were made with different code ({shown}); pass "
            "--pool-provenance to pool them anyway, or analyze them separately")
    return (f"pooled runs made with different code ({', '.join(fields)}) because "
            "--pool-provenance was given")


def check(repetitions: pd.DataFrame, columns: list[str], accept_code: bool = False
          ) -> dict[tuple[str, ...], list[str]]:
    """Check that the runs of each group may be pooled; the warnings per group key.

    Parameters
    ----------
    repetitions
        The analyzer's repetitions, with the key ``columns``, ``cores``, ``source`` and
        optionally ``work`` and ``code``.
    columns
        The group key columns.
    accept_code
        Pool runs of different code versions with a warning instead of refusing them.

    Raises
    ------
    DataError
        Runs that would be pooled did different work, or ran different code (unless accepted);
        the message names the group, both values and the files they came from.
    """
    has_work, has_code = "work" in repetitions, "code" in repetitions
    warnings: dict[tuple[str, ...], list[str]] = {}
    if not (has_work or has_code):
        return warnings
    for keys, group in repetitions.groupby(columns, observed=True, sort=True):
        keys = tuple(str(k) for k in keys)
        if has_work:
            _check_work(keys, group, columns)
        if has_code:
            warning = _check_code(keys, group, columns, accept_code)
            if warning:
                warnings[keys] = [warning]
    return warnings


def provenance(repetitions: pd.DataFrame, columns: list[str]
               ) -> dict[tuple[str, ...], dict[str, Any]]:
    """Per group key: the machine, the hosts (up to 8) and the distinct code versions."""
    out: dict[tuple[str, ...], dict[str, Any]] = {}
    if "code" not in repetitions and "host" not in repetitions:
        return out
    for keys, group in repetitions.groupby(columns, observed=True, sort=True):
        keys = tuple(str(k) for k in keys)
        entry: dict[str, Any] = {"machine": dict(zip(columns, keys, strict=True)).get("machine")}
        if "host" in group:
            hosts = sorted({str(h) for h in group["host"] if str(h)})
            entry["hosts"] = hosts[:8] + ([f"and {len(hosts) - 8} more"] if len(hosts) > 8
                                          else [])
        if "code" in group:
            entry["code"] = [json.loads(c) for c in sorted({str(c) for c in group["code"]
                                                            if str(c)})]
        out[keys] = entry
    return out
