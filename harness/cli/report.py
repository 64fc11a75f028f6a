"""``harness report``: an efficiency report a capacity planner reads at a glance.

Parses the command line, then hands off to :mod:`harness.report.build`: read and analyze the
inputs as ``harness analyze`` does, draw, and write ``index.html``, ``summary.md``,
``points.csv`` and ``plots/*.csv`` into the output directory (with ``--compare``,
``comparison.csv``; with a store, ``history.csv``; with ``--predict`` or ``--machine``,
``phase-prediction.csv``, ``phase-whatifs.csv`` and ``phase-prediction.json``).
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
@click.option("--compare", "compare_base", default=None, metavar="BASE",
              help="Add a section comparing the inputs with BASE (a sweep directory, or a "
                   "sweep id in the store), as `harness compare BASE PATH` decides regressions; "
                   "comparison.csv.")
@click.option("--threshold", default=None,
              help="With --compare: the slowdown that counts, e.g. 5% (the default) or 0.05.")
@click.option("--store", "store_url", default=None, envvar="HARNESS_STORE",
              help="KPI store URL (default $HARNESS_STORE): adds the efficiency history of "
                   "these workloads at each target scale over the stored sweeps; history.csv. "
                   "Also where --compare looks sweep ids up.")
@click.option("--predict", "predict_phases", is_flag=True,
              help="Add the predicted phase breakdown: each phase's seconds at the target "
                   "scales, fitted empirically, beside the measured phases; "
                   "phase-prediction.csv/.json.")
@click.option("--machine", "machine_file", type=click.Path(path_type=Path), default=None,
              help="Machine model TOML (`harness probe`): the predicted phase breakdown "
                   "with mechanistic models and what-ifs (implies --predict).")
def report(paths: tuple[Path, ...], out: Path | None, baseline_cores: int | None,
           targets_file: Path | None, reference_paths: tuple[Path, ...],
           reference_source: str, compare_base: str | None, threshold: str | None,
           store_url: str | None, predict_phases: bool, machine_file: Path | None) -> None:
    """Write an HTML report, a Markdown summary and CSVs from run records and timing CSVs.

    index.html is self-contained (inline SVG plots and CSS; nothing is loaded from anywhere)
    and prints; summary.md fits a CI job summary; points.csv holds every measured and
    predicted point; plots/*.csv hold exactly the numbers each plot draws. With --reference,
    a published series is shown apart, labelled with --reference-source (reference.csv).
    With --compare BASE, what changed since BASE, with significance (comparison.csv); with a
    store (--store or HARNESS_STORE), the efficiency history per target scale (history.csv).
    With --predict or --machine, "Predicted phase breakdown": per group the measured phase
    stack beside each phase's predicted seconds at the target scales (as `harness predict`).
    """
    from harness.report import build  # matplotlib loads only for this command

    table = targets.load(targets_file) if targets_file is not None else targets.defaults()
    if out is None:
        out = paths[0] / "report" if paths[0].is_dir() else Path("report")
    if reference_source and not reference_paths:
        raise UsageError("--reference-source is given without --reference")
    if threshold is not None and compare_base is None:
        raise UsageError("--threshold is given without --compare")
    assembled = build.assemble(list(paths), table, baseline_cores, list(reference_paths),
                               reference_source, compare_base=compare_base,
                               threshold=threshold, store_url=store_url,
                               history=store_url is not None, predict_phases=predict_phases,
                               machine_file=machine_file)
    written = build.write(assembled, out)
    click.echo(f"report: {written / 'index.html'}")
