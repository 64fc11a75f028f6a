"""What ``harness probe`` prints: the fitted figures and curves of a probe record, in SI units."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def seconds(value: float) -> str:
    """``1.2e-06`` → ``"1.2 µs"``."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def rate(value: float) -> str:
    """Bytes/s in decimal units: ``9.1e9`` → ``"9.1 GB/s"``."""
    for unit, scale in (("TB/s", 1e12), ("GB/s", 1e9), ("MB/s", 1e6), ("kB/s", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.3g} B/s"


def size(nbytes: float) -> str:
    """``16777216`` → ``"16 MiB"``."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:g} {unit}"
    return f"{nbytes:g} B"


def _pingpong(level: str, data: dict[str, Any] | None) -> str:
    if data is None:
        return f"  ping-pong {level:5}  not measured (the ranks ran on one node)"
    fit = data["fit"]
    who = "rank to itself" if data["to_self"] else f"ranks {data['pair'][0]}-{data['pair'][1]}"
    if "error" in fit:
        return f"  ping-pong {level:5}  no fit: {fit['error']}"
    note = f"; {fit['note']}" if fit["note"] else ""
    return (f"  ping-pong {level:5}  latency {seconds(fit['latency'])}, bandwidth "
            f"{rate(fit['bandwidth'])}  ({who}, {fit['points']} sizes, residual "
            f"{fit['residual']:.0%}{note})")


def _allreduce(level: str, data: dict[str, Any] | None) -> str:
    if data is None:
        return f"  allreduce {level:5}  not measured (the ranks ran on one node)"
    fit = data["fit"]
    if "error" in fit:
        return f"  allreduce {level:5}  no fit: {fit['error']}"
    return (f"  allreduce {level:5}  alpha {seconds(fit['alpha'])} per round, beta "
            f"{fit['beta'] * 1e9:.3g} ns/B  ({fit['note']})")


def lines(record: dict[str, Any], path: Path | None, model: Path | None) -> list[str]:
    """The summary of ``record`` (a ``harness.probe/1`` document), one string per line."""
    over = "  OVERSUBSCRIBED: the figures are not the machine's" if record["oversubscribed"] \
        else "  CONTENDED: the figures are not the machine's alone" if record["contended"] \
        else ""
    out = [f"probe {record['probe_id']}  {record['machine_name']}  ranks={record['ranks']} "
           f"nodes={record['nodes']}{over}"]
    out += [_pingpong(k, v) for k, v in record["pingpong"].items()]
    out += [_allreduce(k, v) for k, v in record["allreduce"].items()]
    for dims, data in record["halo"].items():
        pts = data["points"]
        grid = "x".join(map(str, data["grid"]))
        out.append(f"  halo {dims:10} {grid} grid, {data['neighbours']} neighbours: "
                   + ", ".join(f"{size(p['bytes'])} {seconds(p['time'])}"
                               for p in (pts[0], pts[len(pts) // 2], pts[-1])))
    mem = record["memory"]
    out.append("  memory triad     " + ", ".join(
        f"{p['ranks']} rank{'s' * (p['ranks'] > 1)} {rate(p['bandwidth'])}"
        for p in mem["points"]) + f"  (3 x {size(mem['array_bytes'])} per rank)")
    for kind in ("write", "read"):
        out.append(f"  io {kind:13} " + ", ".join(
            f"{p['writers']} writer{'s' * (p['writers'] > 1)} {rate(p[kind + '_bandwidth'])}"
            for p in record["io"]["points"]) + f"  ({size(record['io']['file_bytes'])} each)")
    out += [f"  note     {n}" for n in record["notes"]]
    if record["error"]:
        out.append(f"  error    {record['error']}")
    out.append(f"  status   {record['status']}")
    if path is not None:
        out.append(f"  record   {path}")
    if model is not None:
        out.append(f"  model    {model} (and {model.parent / 'machine.toml'})")
    return out
