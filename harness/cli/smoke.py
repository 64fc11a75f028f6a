"""``harness smoke``: every workload and variant at 1 and 2 ranks, size tiny, verified.

The quick check that an installation works end to end (MPI, Numba, every kernel's verification)
and that the deterministic variants give the same checksum at 1 and 2 ranks. One table; the exit
status is 1 when anything failed.
"""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from harness import records, workloads
from harness.errors import RunFailedError
from harness.specs import Point
from harness.sweep import run_point

RANKS = (1, 2)
TIME_LIMIT = 120


def smoke_points() -> list[Point]:
    """Every (workload, variant) at :data:`RANKS`, tiny, strong mode."""
    points = []
    for name in workloads.names():
        wl = workloads.get(name)
        for variant in wl.variants:
            for ranks in RANKS:
                resolved, _ = wl.resolve("tiny", {}, "strong", ranks, variant)
                points.append(Point(workload=name, variant=variant, mode="strong", size="tiny",
                                    params={}, resolved=resolved, ranks=ranks, runs=1,
                                    time_limit=TIME_LIMIT, reps=3, warmup=1))
    return points


def checksums_agree(a: dict[str, float], b: dict[str, float], rtol: float) -> bool:
    """Whether two checksums agree key by key within ``rtol`` (bitwise when ``rtol`` is 0)."""
    if a.keys() != b.keys():
        return False
    return all(math.isclose(a[k], b[k], rel_tol=rtol, abs_tol=rtol * 1e-3) if rtol else a[k] == b[k]
               for k in a)


@click.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Results directory; records go to OUT/smoke-<time>/.")
def smoke(out: Path) -> None:
    """Run every workload and variant at 1 and 2 ranks (tiny) and check each verifies."""
    sweep_id = "smoke-" + records.new_run_id()
    console = Console(stderr=True)
    table = Table(title=f"harness smoke ({out / sweep_id})")
    for column in ("workload", "variant", "ranks", "median s", "FOM", "verified",
                   "checksum = 1 rank"):
        table.add_column(column, justify="right" if column in ("ranks", "median s") else "left")
    failures = []
    first: dict[tuple[str, str], dict[str, float]] = {}
    for point in smoke_points():
        console.print(f"[dim]{point.label}[/dim]")
        rec = run_point(point, out, sweep_id)
        verified = rec.status == "ok"
        median = f"{statistics.median(rec.seconds):.4g}" if rec.seconds else "-"
        fom = f"{rec.fom['value']:.3g} {rec.fom['unit']}" if rec.fom else "-"
        same = "-"
        wl = workloads.get(rec.workload)
        if verified and rec.variant in wl.deterministic_variants:
            checksum = rec.verification["checksum"]
            reference = first.setdefault((rec.workload, rec.variant), checksum)
            agree = checksums_agree(reference, checksum, wl.checksum_rtol)
            same = "yes" if agree else "NO"
            if not agree:
                failures.append(f"{point.label}: checksum differs from the 1-rank run")
        if not verified:
            failures.append(f"{point.label}: {rec.status} ({rec.error or 'no detail'})")
        table.add_row(rec.workload, rec.variant, str(rec.ranks), median, fom,
                      "yes" if verified else f"NO ({rec.status})", same)
    Console(file=sys.stdout, width=120).print(table)
    if failures:
        raise RunFailedError(f"{len(failures)} smoke run(s) failed: " + "; ".join(failures))
