"""How much CPU a run really has: affinity, the cgroup's CPU quota, and what else ran meanwhile.

Three things decide whether a run's times can measure scaling:

- the CPUs its processes may run on (``sched_getaffinity``);
- the CPU quota of its control group — cgroup v2 ``cpu.max`` (``"50000 100000"`` is half a
  CPU), cgroup v1 ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` — the smallest along the path
  from the process's group to the root (the kernel enforces every level);
- contention: other work on the same CPUs during the timed region. The node's busy time from
  ``/proc/stat`` (user, nice, system, irq, softirq, steal) over the run's CPUs, minus the run's
  own CPU time (``getrusage``), is what others used; only the part beyond the CPUs the run left
  idle slows it down. :func:`contention` turns that into a share of the CPU time the run needed.

A run whose contention exceeds :data:`CONTENDED_ABOVE` is flagged ``contended`` and, like an
oversubscribed one, kept out of efficiency figures. Windows shorter than
:data:`MIN_WINDOW_CPU_SECONDS` are not judged: ``/proc/stat`` counts in clock ticks (10 ms).
"""

from __future__ import annotations

import math
import os
import resource
from pathlib import Path

#: contention above which a run is flagged ``contended``: others took more than a tenth of the
#: CPU time the run's ranks needed (its times are then at least ~10 % longer than alone)
CONTENDED_ABOVE = 0.10
#: run CPU time (ranks on the node × timed seconds) below which contention is not judged
MIN_WINDOW_CPU_SECONDS = 0.5
#: /proc/stat columns that count as busy: user nice system idle iowait irq softirq steal
_BUSY_COLUMNS = (0, 1, 2, 5, 6, 7)


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _quota_v2(directory: Path) -> float | None:
    text = _read(directory / "cpu.max")
    if text is None:
        return None
    parts = text.split()
    if len(parts) != 2 or parts[0] == "max":
        return None
    try:
        quota, period = int(parts[0]), int(parts[1])
    except ValueError:
        return None
    return quota / period if quota > 0 and period > 0 else None


def _quota_v1(directory: Path) -> float | None:
    quota, period = _read(directory / "cpu.cfs_quota_us"), _read(directory / "cpu.cfs_period_us")
    try:
        q, p = int(quota or ""), int(period or "")
    except ValueError:
        return None
    return q / p if q > 0 and p > 0 else None


def _along(root: Path, group: str) -> list[Path]:
    """The directories from ``root/group`` up to ``root``."""
    parts = [x for x in group.strip("/").split("/") if x and x != ".."]
    return [root.joinpath(*parts[:n]) for n in range(len(parts), -1, -1)]


def cgroup_cpu_limit(proc_self: str | os.PathLike[str] = "/proc/self/cgroup",
                     cgroup_root: str | os.PathLike[str] = "/sys/fs/cgroup") -> float | None:
    """CPUs this process's control group may use (e.g. 0.5), or None when unlimited or unknown.

    Reads ``proc_self`` (the process's groups) and, for cgroup v2 (``0::/path``), ``cpu.max``
    under ``cgroup_root/path`` and each parent; for cgroup v1 (a ``cpu`` controller line),
    ``cpu.cfs_quota_us``/``cpu.cfs_period_us`` under ``cgroup_root/cpu[,cpuacct]/path`` and
    each parent. The smallest quota found is the limit (units: CPUs, a float).
    """
    text = _read(Path(proc_self))
    if not text:
        return None
    root = Path(cgroup_root)
    limits: list[float] = []
    for line in text.splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, group = rest.partition(":")
        if not hierarchy or not group:
            continue
        if controllers == "":  # cgroup v2 unified hierarchy
            base = root / "unified" if (root / "unified" / "cgroup.controllers").exists() \
                and not (root / "cgroup.controllers").exists() else root
            limits += [q for d in _along(base, group) if (q := _quota_v2(d)) is not None]
        elif "cpu" in controllers.split(","):
            for mount in (controllers, "cpu", "cpu,cpuacct", "cpuacct,cpu"):
                if (root / mount).is_dir():
                    limits += [q for d in _along(root / mount, group)
                               if (q := _quota_v1(d)) is not None]
                    break
    return min(limits) if limits else None


def usable_cpus(affinity: int, quota: float | None) -> float:
    """CPUs a process can use: its affinity count, capped by the cgroup quota."""
    return float(affinity) if quota is None else min(float(affinity), quota)


def busy_seconds(cpus: set[int] | frozenset[int],
                 stat: str | os.PathLike[str] = "/proc/stat") -> float | None:
    """Busy CPU-seconds since boot summed over ``cpus`` (per-CPU ``cpuN`` lines of
    ``/proc/stat``, in clock ticks of ``SC_CLK_TCK``), or None when unreadable."""
    text = _read(Path(stat))
    if text is None:
        return None
    ticks = 0
    seen = 0
    for line in text.splitlines():
        name, *fields = line.split()
        if not name.startswith("cpu") or name == "cpu":
            continue
        try:
            index = int(name[3:])
            if index in cpus:
                ticks += sum(int(fields[i]) for i in _BUSY_COLUMNS if i < len(fields))
                seen += 1
        except ValueError:
            continue
    if seen == 0:
        return None
    return ticks / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU time (user + system, all threads) this process has used, in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def contention(other_cpu_seconds: float, wall_seconds: float, cpus: float,
               ranks_here: int) -> float | None:
    """Share of the CPU time the run needed that other work took, on one node.

    ``other_cpu_seconds`` is the busy time of the run's CPUs during the window minus the
    run's own CPU time; the first ``(cpus - ranks_here) × wall_seconds`` of it ran on CPUs the
    run left idle and cost nothing. The rest, divided by the run's need ``ranks_here ×
    wall_seconds``, is the contention (0: alone). None when the window is shorter than
    :data:`MIN_WINDOW_CPU_SECONDS` of run CPU time or an input is not finite.
    """
    need = ranks_here * wall_seconds
    if not (math.isfinite(other_cpu_seconds) and math.isfinite(wall_seconds)) or \
            need < MIN_WINDOW_CPU_SECONDS:
        return None
    spare = max(0.0, cpus - ranks_here) * wall_seconds
    return max(0.0, other_cpu_seconds - spare) / need
