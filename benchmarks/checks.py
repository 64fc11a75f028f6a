"""Targets recorded by the benchmarks, for ``benchmarks/bench_check.py`` to judge.

Each benchmark that has a target puts it in ``benchmark.extra_info["checks"]``, a list of
``{"name", "value", "op", "target", "kind"}`` with ``op`` one of ``">="`` / ``"<="`` and
``kind`` the column of the summary table (``roof``: fraction of the machine's roof;
``alternative``: ratio to what a user would pick instead; ``peer``: ratio to the C peer;
``overhead``: the harness's own cost). The benchmarks never fail on a missed target: they record
it, and ``make bench-check`` reads the saved pytest-benchmark JSON and exits 1 on a miss.
"""

from __future__ import annotations

import math
from typing import Any

OPS = {">=": lambda value, target: value >= target, "<=": lambda value, target: value <= target}
KINDS = ("roof", "alternative", "peer", "overhead", "other")


def met(check: dict[str, Any]) -> bool:
    """Whether a recorded check meets its target (NaN never does)."""
    value = float(check["value"])
    return math.isfinite(value) and OPS[check["op"]](value, float(check["target"]))


def record(benchmark: Any, name: str, value: float, op: str, target: float, kind: str,
           detail: str = "") -> dict[str, Any]:
    """Add one check to ``benchmark.extra_info["checks"]`` and return it.

    Raises
    ------
    ValueError
        For an ``op`` or ``kind`` not listed in :data:`OPS` / :data:`KINDS`.
    """
    if op not in OPS or kind not in KINDS:
        raise ValueError(f"bad check: op {op!r}, kind {kind!r}")
    check = {"name": name, "value": float(value), "op": op, "target": float(target),
             "kind": kind, "detail": detail}
    benchmark.extra_info.setdefault("checks", []).append(check)
    return check


def fom(benchmark: Any, workload: str, value: float, unit: str) -> None:
    """Record the workload's figure of merit measured by this benchmark (``extra_info["fom"]``)
    for the summary table of ``bench_check.py``."""
    benchmark.extra_info["fom"] = {"workload": workload, "value": float(value), "unit": unit}


def line(check: dict[str, Any]) -> str:
    """``PASS  name = 0.912 (target >= 0.85) detail``."""
    detail = f"  {check['detail']}" if check.get("detail") else ""
    return (f"{'PASS' if met(check) else 'MISS'}  {check['name']} = {check['value']:.3g} "
            f"(target {check['op']} {check['target']:g}){detail}")
