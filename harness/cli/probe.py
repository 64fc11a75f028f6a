"""``harness probe``: measure this machine with MPI micro-benchmarks; write a machine model.

Like ``harness run``: outside MPI with ``--ranks N`` (or with ``--time-limit``) the command
checks its input, then relaunches itself under ``mpiexec -n N`` and supervises the child;
started by ``mpiexec``/``srun`` it runs in place. Rank 0 writes ``<out>/probe-<id>.json``
(``harness.probe/1``) and, when every benchmark verified, ``<out>/machine-<id>.toml`` and
``<out>/machine.toml`` (the latest model, for ``harness predict --machine``).
"""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path
from typing import Any

import click

from harness import records
from harness.cli.run import Seconds, parse_settings
from harness.errors import HarnessError, RunFailedError, UsageError
from harness.launch import launchers, local
from harness.limits import MAX_CORES


def _check_name(name: str | None) -> str:
    if name is None:
        return ""
    if not name.strip() or len(name) > 200 or not name.isprintable():
        raise UsageError(f"--machine-name {name!r}: give 1-200 printable characters")
    return name.strip()


def _emit(rec: dict[str, Any], path: Path | None, model: Path | None, as_json: bool) -> None:
    from harness.probe import summary

    if as_json:
        click.echo(json.dumps(records.finite(rec), indent=2, allow_nan=False))
    else:
        click.echo("\n".join(summary.lines(rec, path, model)))
    if rec["status"] != "ok":
        raise RunFailedError(f"probe {rec['probe_id']}: {rec['error']}")


@click.command()
@click.option("--ranks", type=click.IntRange(min=1, max=MAX_CORES), default=None,
              help="MPI ranks; outside MPI the probe is relaunched under mpiexec -n RANKS.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              default=Path("results/probe"), show_default=True,
              help="Directory for the record and the model; the I/O benchmark writes here.")
@click.option("--machine-name", default=None,
              help="Name of the machine in the model (default: the host name).")
@click.option("--quick", is_flag=True, help="Small sizes (a few seconds; for tests).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="A size: pingpong_max, allreduce_max, halo_max (bytes, e.g. 4M), memory "
                   "(bytes per triad array, 0 = 4x the last-level cache), io (bytes per "
                   "writer), samples, sample_seconds; repeatable.")
@click.option("--time-limit", type=Seconds(), default=None,
              help="Seconds after which the probe is stopped.")
@click.option("--json", "as_json", is_flag=True, help="Print the record alone, as JSON.")
@click.option("--probe-id", default=None, hidden=True)
@click.option("--supervised", is_flag=True, hidden=True)
def probe(ranks: int | None, out: Path, machine_name: str | None, quick: bool,
          settings: tuple[str, ...], time_limit: float | None, as_json: bool,
          probe_id: str | None, supervised: bool) -> None:
    """Measure point-to-point, allreduce, halo exchange, memory and file I/O rates under MPI,
    verified, and write a probe record and a machine model (TOML).

    Example:

        harness probe --ranks 2 --out results/probe
    """
    from harness.probe import ProbeOptions
    from harness.probe.sizes import sizes_from

    sizes = sizes_from(parse_settings(settings), quick)
    name = _check_name(machine_name)
    if probe_id is not None:
        records.check_id("probe id", probe_id)
    opts = ProbeOptions(out=out, sizes=sizes, probe_id=probe_id or "", machine_name=name,
                        quick=quick, expected_ranks=ranks)
    if launchers.under_launcher() or (ranks in (None, 1) and time_limit is None):
        _in_place(opts, settings, as_json, supervised)
    else:
        _relaunch(opts, settings, ranks or 1, time_limit, as_json)


def _in_place(opts: Any, settings: tuple[str, ...], as_json: bool, supervised: bool) -> None:
    from harness.rankside import exclude_analysis_packages

    exclude_analysis_packages()  # before Numba loads: a rank needs no SciPy, pandas, rich
    from mpi4py import MPI

    from harness.decomposition import collectives
    from harness.probe import execute
    from harness.probe.sizes import check_room

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    signal.signal(signal.SIGTERM, local.raise_terminated)
    try:
        node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        ranks_here = node.Get_size()
        node.Free()
        problem = None
        if rank == 0:
            try:
                check_room(opts.sizes, comm.Get_size(), ranks_here,
                           records.check_writable(opts.out))
            except HarnessError as e:
                problem = str(e)
        problem = collectives.broadcast(comm, problem)
        if problem is not None:
            raise UsageError(problem)
        opts.probe_id = collectives.broadcast(comm, opts.probe_id or records.new_run_id())
        rec, path, model = execute(opts, comm)
    except HarnessError as e:
        if rank != 0:
            sys.exit(e.exit_code)
        raise
    if rank != 0 or rec is None:
        return
    if supervised:  # the supervising parent prints from the record
        if rec["status"] != "ok":
            sys.exit(1)
        return
    _emit(rec, path, model, as_json)


def _relaunch(opts: Any, settings: tuple[str, ...], ranks: int, time_limit: float | None,
              as_json: bool) -> None:
    import shutil

    from harness.probe import record, scratch_dir
    from harness.probe.sizes import check_room

    check_room(opts.sizes, ranks, ranks, records.check_writable(opts.out))
    probe_id = opts.probe_id or records.new_run_id()
    child = [sys.executable, "-m", "harness", "probe", "--ranks", str(ranks),
             "--out", str(opts.out), "--probe-id", probe_id, "--supervised"]
    if opts.quick:
        child.append("--quick")
    if opts.machine_name:
        child += ["--machine-name", opts.machine_name]
    for item in settings:
        child += ["--set", item]
    try:
        done = local.run_supervised(launchers.mpiexec_command(ranks, child), time_limit)
    finally:  # a rank killed outright leaves the I/O benchmark's files: they go regardless
        shutil.rmtree(scratch_dir(opts.out, probe_id), ignore_errors=True)
    path = Path(opts.out) / record.record_name(probe_id)
    if done.interrupted:
        click.echo("harness: probe interrupted", err=True)
        sys.exit(local.EXIT_SIGTERM if done.stopped_by == signal.SIGTERM else local.EXIT_SIGINT)
    if not path.exists():
        if done.timed_out:
            raise RunFailedError(f"probe {probe_id}: stopped after the time limit of "
                                 f"{time_limit:g} s; no record written")
        if done.returncode == 2:
            sys.exit(2)  # bad input caught inside MPI: already reported
        raise RunFailedError(f"probe {probe_id}: mpiexec exited with code {done.returncode} "
                             "and no record; see the output above")
    rec = json.loads(path.read_text(encoding="utf-8"))
    model = Path(opts.out) / rec["model"] if rec.get("model") else None
    _emit(rec, path, model, as_json)
