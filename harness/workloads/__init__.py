"""Registry of workloads by name.

Each entry maps a name to ``module:Class``; the module is imported on first use so that
``harness --help`` does not pay for Numba.
"""

from __future__ import annotations

import importlib

from harness.errors import UsageError
from harness.workloads.base import FOM, MODES, SIZES, Instance, Param, Verification, Workload

__all__ = ["FOM", "MODES", "SIZES", "Instance", "Param", "Verification", "Workload", "get", "names"]

_REGISTRY: dict[str, str] = {
    "cfd": "harness.workloads.cfd:CFD",
    "fea": "harness.workloads.fea:FEA",
    "opt": "harness.workloads.opt:Optimization",
    "param": "harness.workloads.param:ParameterStudy",
    "calibrate": "harness.workloads.calibrate:Calibrate",
}


def names() -> list[str]:
    """Names of every registered workload, in registry order."""
    return list(_REGISTRY)


def get(name: str) -> Workload:
    """Return a fresh instance of the workload called ``name``.

    Raises
    ------
    UsageError
        When no workload has that name; the message lists the valid names.
    """
    try:
        target = _REGISTRY[name]
    except KeyError:
        raise UsageError(
            f"unknown workload {name!r}; choose one of {', '.join(_REGISTRY)}"
        ) from None
    module_name, class_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls()
