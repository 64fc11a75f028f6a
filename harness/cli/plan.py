"""``harness plan``: what a sweep asks of the cluster, point by point, before it is submitted."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--local", "backend", flag_value="local",
              help="Plan for this machine (as harness sweep --local runs it).")
@click.option("--slurm", "backend", flag_value="slurm", default=True,
              help="Plan for the spec's cluster profile (default).")
def plan(spec: Path, backend: str) -> None:
    """Print points, ranks, nodes, memory per rank, time limit and the most core-hours SPEC
    may use; exit 2 naming the first point that cannot run.

    Memory per rank is the largest rank's arrays (the workload's own estimate) plus the
    interpreter's share; core-hours assume every repetition runs to its time limit, on whole
    nodes when the profile is exclusive.
    """
    from harness.feasibility import InfeasibleError, local_memory
    from harness.feasibility import plan as make_plan
    from harness.profiles import format_time_limit
    from harness.specs import load_spec

    loaded = load_spec(spec)
    planned = make_plan(loaded, backend)
    header = (f"{'point':<44} {'ranks':>6} {'nodes':>5} {'per node':>8} {'MiB/rank':>9} "
              f"{'time limit':>10} {'reps':>4} {'core-h max':>10}  status")
    click.echo(header)
    for pp in planned:
        p = pp.point
        click.echo(f"{pp.name[:44]:<44} {p.ranks:>6} {pp.nodes:>5} {pp.ranks_per_node:>8} "
                   f"{pp.memory_per_rank / 2 ** 20:>9.0f} {format_time_limit(p.time_limit):>10} "
                   f"{p.runs:>4} {pp.core_hours:>10.1f}  "
                   f"{'REFUSED: ' + pp.refused if pp.refused else 'ok'}")
    total = sum(pp.core_hours for pp in planned)
    memory = loaded.profile.memory_per_node
    machine = local_memory() if backend == "local" and memory is None else None
    limit = (f"memory_per_node {memory / 2 ** 30:.0f} GiB" if memory else
             f"this machine's {machine / 2 ** 30:.0f} GiB" if machine else "no memory_per_node")
    click.echo(f"{len(planned)} points, {len(loaded.cores)} core counts, at most "
               f"{total:.1f} core-hours (profile {loaded.profile.name}, {limit})")
    refused = [pp for pp in planned if pp.refused]
    if refused:
        first = refused[0]
        raise InfeasibleError(f"{loaded.path}: {len(refused)} point(s) cannot run; first: "
                              f"{first.name} at {first.point.ranks} cores: {first.refused}")
