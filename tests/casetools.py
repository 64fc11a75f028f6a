"""Drive a workload instance directly on a communicator, as the runner would (no timing rules).

Import as ``from casetools import run_case`` (``tests/`` is on pytest's pythonpath).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import workloads
from harness.timing import PhaseTimer


def run_case(workload: str, on: Any, variant: str, overrides: dict[str, Any],
             mode: str = "strong", reps: int = 1, close: bool = False,
             timer: PhaseTimer | None = None) -> tuple[Any, Any, PhaseTimer]:
    """Build ``workload`` (size tiny) on communicator ``on``, run ``reps`` repetitions and
    verify; returns ``(instance, verification, timer)``. ``close`` releases the instance after;
    ``timer`` replaces the plain :class:`PhaseTimer` (one that records more, for a test)."""
    wl = workloads.get(workload)
    params, variant = wl.resolve("tiny", overrides, mode, on.Get_size(), variant)
    wl.precompile()
    instance = wl.setup(on, params, variant, Path("."))
    timer = timer if timer is not None else PhaseTimer(wl.phases)
    for _ in range(reps):
        instance.reset()
        timer.reset()
        instance.run(timer)
    verification = instance.verify()
    if close:
        instance.close()
    return instance, verification, timer
