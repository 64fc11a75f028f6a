"""``harness sweep``: parse the options, delegate, report the outcome.

A local sweep's progress is drawn here (:class:`RichProgress`): a Rich progress bar and one
line per run on stderr, the summary table of every point on stdout at the end.
"""

from __future__ import annotations

import os
import statistics
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from harness.errors import RunFailedError, UsageError

if TYPE_CHECKING:
    from harness.records import RunRecord
    from harness.specs import Point, Spec

BACKENDS = ("local", "slurm")


@click.command()
@click.argument("spec", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--local", "backend", flag_value="local", default=True,
              help="Run every point here through mpiexec (default).")
@click.option("--slurm", "backend", flag_value="slurm",
              help="Submit one sbatch job per core count and an analysis job.")
@click.option("--dry-run", is_flag=True,
              help="With --slurm (the default with --dry-run): write and print the scripts and "
                   "sbatch commands only. With an explicit --local: print the runs, write "
                   "nothing.")
@click.option("--resume", is_flag=True,
              help="Complete an earlier sweep of this spec: locally, run only the points "
                   "without enough ok records; on Slurm, submit only jobs not yet submitted.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Directory that holds the sweep directories.")
@click.option("--sweep-id", default=None,
              help="Sweep id (default: <spec name>-<UTC time>; with --resume: the latest "
                   "sweep of this spec under --out).")
@click.option("--report", "write_report", is_flag=True,
              help="Locally: write `harness report` into <sweep dir>/report at the end (also "
                   "when the spec says [analysis] report = true).")
@click.option("--push", "push_kpis", is_flag=True,
              help="Local: push the records and their analysis into the KPI store when the "
                   "sweep ends (as the spec's [analysis] kpi_push = true does).")
@click.option("--store", "store_url", default=None,
              help="KPI store URL for the push (default: the spec's [analysis] store, else "
                   "$HARNESS_STORE, else sqlite:///results/kpi.sqlite).")
def sweep(spec: Path, backend: str, dry_run: bool, resume: bool, out: Path,
          sweep_id: str | None, write_report: bool, push_kpis: bool,
          store_url: str | None) -> None:
    """Run the sweep described by SPEC (a TOML file in jobs/), locally or on Slurm.

    Examples:

        harness sweep jobs/demo.toml

        harness sweep jobs/platform.toml --slurm --dry-run
    """
    from harness.specs import load_spec

    chosen = os.environ.get("HARNESS_SWEEP_BACKEND")
    if chosen is not None and chosen not in BACKENDS:
        raise UsageError(f"HARNESS_SWEEP_BACKEND={chosen!r}: choose local or slurm")
    ctx = click.get_current_context()
    explicit_local = (backend == "local" and ctx.get_parameter_source("backend")
                      is not click.core.ParameterSource.DEFAULT)
    to_slurm = backend == "slurm" or (dry_run and not explicit_local)
    if write_report and to_slurm:
        raise UsageError("--report is for local sweeps; on Slurm set [analysis] report = true "
                         "in the spec, and the analysis job writes it")
    if push_kpis and to_slurm:
        raise UsageError("--push is for local sweeps; on Slurm the analysis job pushes when the "
                         "spec says [analysis] kpi_push = true")
    loaded = load_spec(spec)
    from harness.feasibility import check_spec

    check_spec(loaded, "slurm" if to_slurm else "local")
    if dry_run and explicit_local:
        _print_plan(loaded)
        return
    if backend == "slurm" or dry_run:
        from harness.launch import slurm

        slurm.submit(loaded, out, sweep_id=sweep_id, resume=resume, dry_run=dry_run,
                     echo=click.echo)
        return
    _local(loaded, out, sweep_id, resume, write_report, push_kpis, store_url)


def _local(loaded: Spec, out: Path, sweep_id: str | None, resume: bool, write_report: bool,
           push_kpis: bool, store_url: str | None) -> None:
    """Run the sweep here with its progress drawn, then push and report as asked; exit 1
    when a run did not pass, 143 on SIGTERM."""
    from harness.launch.local import EXIT_SIGTERM, Terminated
    from harness.sweep import run_local

    try:
        result = run_local(loaded, out, sweep_id=sweep_id, resume=resume,
                           events=RichProgress())
    except Terminated:  # Ctrl-C's path, then the exit status of a process ended by SIGTERM
        click.echo("harness: terminated (SIGTERM); the run in progress was stopped, finished "
                   "records are kept: --resume completes the sweep", err=True)
        sys.exit(EXIT_SIGTERM)
    if push_kpis or loaded.analysis.kpi_push:
        _push(result.sweep_dir, store_url or loaded.analysis.store)
    if write_report or loaded.analysis.report:  # failed runs are listed in it, so before failing
        from harness import targets
        from harness.report import build

        report = build.assemble([result.sweep_dir], targets.defaults())
        written = build.write(report, result.sweep_dir / "report")
        click.echo(f"report: {written / 'index.html'}")
    if result.failed:
        raise RunFailedError(f"{result.failed} of {result.ran} runs did not pass; "
                             f"see the records in {result.sweep_dir}")


class RichProgress:
    """The local sweep's display (:class:`harness.sweep.SweepEvents`): progress (runs done of
    the total, the point running, elapsed, ETA) and a line per run on ``err`` (stderr), the
    summary table on ``out`` (stdout)."""

    def __init__(self, out: Console | None = None, err: Console | None = None) -> None:
        self.out = out or Console()
        self.err = err or Console(stderr=True)
        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
        self.progress = Progress(*columns, console=self.err)
        self.task = self.progress.add_task("starting", start=False)

    def started(self, sweep_id: str, runs: int, skipped: int) -> None:
        if skipped:
            self.err.print(f"resume {sweep_id}: {skipped} run(s) already ok, {runs} to go")
        self.progress.update(self.task, total=runs)
        self.progress.start_task(self.task)  # elapsed and ETA count from here
        self.progress.start()

    def run_started(self, point: Point) -> None:
        self.progress.update(self.task, description=point.label)

    def run_finished(self, done: int, runs: int, point: Point, record: RunRecord) -> None:
        secs = f" {statistics.median(record.seconds):.4g} s" if record.seconds else ""
        note = f" ({record.error.splitlines()[0]})" if record.error else ""
        self.progress.console.print(f"[{done}/{runs}] {point.label}: {record.status}{secs}{note}",
                                    markup=False, highlight=False)
        self.progress.advance(self.task)

    def stopped(self) -> None:
        self.progress.stop()

    def ended(self, state: dict[str, Any], sweep_dir: Path) -> None:
        self.out.print(summary_table(state, sweep_dir))
        self.out.print(f"records in {sweep_dir}")


def summary_table(state: dict[str, Any], sweep_dir: Path) -> Table:
    """A table of every point: runs ok / expected, failures, median seconds, status."""
    from harness.sweepstate import tally

    table = Table(title=f"sweep {state['sweep_id']}", title_justify="left")
    for col, justify in (("point", "left"), ("ranks", "right"), ("ok", "right"),
                         ("failed", "right"), ("median s", "right"), ("status", "left")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for row in tally(state, sweep_dir):
        p = row["point"]
        med = f"{statistics.median(row['seconds']):.4g}" if row["seconds"] else "-"
        status = ("done" if row["ok"] >= row["expected"]
                  else "failed" if row["failed"] else "missing")
        name = f"{p['workload']}/{p['variant']} {p['mode']} {p['size']}"
        name += "".join(f" {k}={v}" for k, v in sorted(p["params"].items()))
        table.add_row(name, str(p["ranks"]), f"{row['ok']}/{row['expected']}",
                      str(row["failed"]), med, status)
    return table


def _push(sweep_dir: Path, store_url: str | None) -> None:
    """Push a finished local sweep into the KPI store; on failure the records stay on disk and
    the message says how to push them later."""
    from harness import targets
    from harness.errors import HarnessError
    from harness.store import engine, push

    try:
        table = targets.defaults()
        try:  # kpi.json: this push and any later one of the sweep store its rows
            push.prepare([sweep_dir], table)
        except OSError as e:
            click.echo(f"harness: {sweep_dir}/kpi.json not written ({e.strerror}); the push "
                       "analyzes the sweep itself", err=True)
        store = engine.create(store_url)
        results = push.push(store, [sweep_dir], table)
    except HarnessError as e:
        e.args = (f"{e}; the records are kept in {sweep_dir}: push them later with "
                  f"`harness kpi push {sweep_dir}`",)
        raise
    click.echo(push.summary(results, engine.masked(store.url)))


def _print_plan(spec: Spec) -> None:
    """``--local --dry-run``: every run the sweep would make, one line each; nothing written."""
    total = 0
    for point in spec.points:
        click.echo(f"{point.runs} x {point.label}")
        total += point.runs
    click.echo(f"{total} run(s) in {len(spec.points)} point(s); nothing was run or written")

