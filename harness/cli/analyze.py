"""``harness analyze``: speedup, efficiency, serial fraction, models, targets and alerts.

Parses the command line, then hands off: :mod:`harness.inputs` reads the records and CSVs,
:mod:`harness.analysis` (with :mod:`harness.models`) computes, :mod:`harness.render` formats.
Nothing is written to disk; the report goes to stdout.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness import analysis, inputs, render, targets
from harness.errors import TargetMissedError
from harness.limits import MAX_CORES


@click.command("analyze")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--baseline-cores", type=click.IntRange(min=1, max=MAX_CORES), default=None,
              help="Core count to measure speedup from (default: each group's smallest).")
@click.option("--targets", "targets_file", type=click.Path(path_type=Path), default=None,
              envvar="HARNESS_ANALYZE_TARGETS",
              help="TOML file replacing the platform's default efficiency targets.")
@click.option("--format", "fmt", type=click.Choice(render.FORMATS), default="table",
              envvar="HARNESS_ANALYZE_FORMAT",
              show_default=True, help="table for people, json (one document), csv (the points).")
@click.option("--check", is_flag=True,
              help="Exit 3 when a measured point misses its target or raises an alert.")
@click.option("--check-predicted", is_flag=True,
              help="With --check, predicted misses and alerts count too.")
@click.option("--pool-provenance", is_flag=True,
              help="Pool runs made with different code versions (a warning names the fields) "
                   "instead of refusing them.")
@click.option("--strict", is_flag=True,
              help="Stop (exit 2) at a run record that does not validate (truncated, newer "
                   "schema) instead of skipping it with a warning.")
def analyze(paths: tuple[Path, ...], baseline_cores: int | None, targets_file: Path | None,
            fmt: str, check: bool, check_predicted: bool, pool_provenance: bool,
            strict: bool) -> None:
    """Analyze run records (directories, searched recursively) and timing CSVs.

    A CSV has columns workload, mode, cores, seconds (optional variant, size, phase_<name>),
    one repetition per row. Per workload/mode/variant, problem (size and --set overrides) and
    machine: speedup, efficiency and Karp-Flatt serial fraction against the baseline, scaling
    models anchored to the measured baseline and chosen by how well they extrapolate, predicted
    efficiency with a 95 % prediction interval at the target scales that were not measured (each
    with its extrapolation distance; none from fewer than 3 core counts), target status, P2
    alerts and the bottleneck phase.
    """
    if check_predicted and not check:
        raise click.UsageError("--check-predicted needs --check")
    table = targets.load(targets_file) if targets_file is not None else targets.defaults()
    data = inputs.load(paths, strict=strict)
    result = analysis.analyze(data.repetitions, table, baseline_cores,
                              pool_provenance=pool_provenance)
    click.echo(render.render(result, data.excluded, fmt), nl=False)
    if check:
        missed = analysis.missed(result, include_predicted=check_predicted)
        if missed:
            shown = "; ".join(missed[:5]) + (f"; and {len(missed) - 5} more" if len(missed) > 5
                                             else "")
            kind = "measured or predicted" if check_predicted else "measured"
            raise TargetMissedError(f"{len(missed)} {kind} point(s) missed the target or "
                                    f"raised an alert: {shown}")
