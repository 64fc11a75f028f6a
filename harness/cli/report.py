"""``harness report``: an efficiency report a capacity planner reads at a glance.

Parses the command line, then hands off to :mod:`harness.report.build`: read and analyze the
inputs as ``harness analyze`` does, draw, and write ``index.html``, ``summary.md``,
``points.csv`` and ``plots/*.csv`` into the output directory.
"""

from __future__ import annotations

from pathlib import Path

import click

from harness import targets
from harness.errors import UsageError


@click.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--out", type=click.Path(path_type=Path), default=None,
              help="Directory to write (default: PATH/report for a directory PATH, else "
                   "./report). Replaced whole if it holds an earlier report.")
@click.option("--baseline-cores", type=click.IntRange(min=1), default=None,
              help="Core count to measure speedup from (default: each group's smallest).")
@click.option("--targets", "targets_file", type=click.Path(path_type=Path), default=None,
              help="TOML file replacing the platform's default efficiency targets.")
@click.option("--reference", "reference_paths", multiple=True, type=click.Path(path_type=Path),
              help="Timing CSV (or records) of a published scaling study, shown apart as "
                   "reference data, never counted in the KPI; repeatable.")
@click.option("--reference-source", default="",
              help="Where the reference numbers come from (required with --reference).")
def report(paths: tuple[Path, ...], out: Path | None, baseline_cores: int | None,
           targets_file: Path | None, reference_paths: tuple[Path, ...],
           reference_source: str) -> None:
    """Write an HTML report, a Markdown summary and CSVs from run records and timing CSVs.

    index.html is self-contained (inline SVG plots and CSS; nothing is loaded from anywhere)
    and prints; summary.md fits a CI job summary; points.csv holds every measured and
    predicted point; plots/*.csv hold exactly the numbers each plot draws. With --reference,
    a published series is shown apart, labelled with --reference-source (reference.csv).
    """
    from harness.report import build  # matplotlib loads only for this command

    table = targets.load(targets_file) if targets_file is not None else targets.defaults()
    if out is None:
        out = paths[0] / "report" if paths[0].is_dir() else Path("report")
    if reference_source and not reference_paths:
        raise UsageError("--reference-source is given without --reference")
    assembled = build.assemble(list(paths), table, baseline_cores, list(reference_paths),
                               reference_source)
    written = build.write(assembled, out)
    click.echo(f"report: {written / 'index.html'}")
