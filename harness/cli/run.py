"""``harness run``: one workload, one rank count, one record.

Outside MPI with ``--ranks N`` (or with ``--time-limit``) the command validates its input, then
relaunches itself under ``mpiexec -n N`` (:mod:`harness.launch.launchers`; the command line from
:func:`harness.launch.command.run_command`) and supervises the run: it kills a run that passes its
time limit, and when the run dies without a record it writes one with status ``failed`` and the
error text, so nothing is lost. Started by ``mpiexec``/``srun`` it runs in place.
"""

from __future__ import annotations

import json
import signal
import statistics
import sys
from pathlib import Path
from typing import Any

import click

from harness import records
from harness.errors import BadInputError, HarnessError, RunFailedError, UsageError
from harness.launch import command, launchers, local
from harness.limits import MAX_CORES, MAX_REPS, MAX_TIME_LIMIT, MAX_WARMUP


class Seconds(click.ParamType):
    """A time limit in seconds: a finite number in (0, :data:`MAX_TIME_LIMIT`] (never nan/inf)."""

    name = "seconds"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> float:
        try:
            seconds = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number of seconds", param, ctx)
        if not 0 < seconds <= MAX_TIME_LIMIT:  # false for nan too
            self.fail(f"{value!r} must be a number of seconds in (0, {MAX_TIME_LIMIT}]", param,
                      ctx)
        return seconds


def parse_settings(settings: tuple[str, ...]) -> dict[str, str]:
    """``("n=64", "steps=10")`` → ``{"n": "64", "steps": "10"}``.

    Raises
    ------
    UsageError
        For an item without ``=`` or with an empty key.
    """
    out: dict[str, str] = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r} must look like key=value (e.g. --set n=256)")
        out[key.strip()] = value.strip()
    return out


def check_out(out: Path, sweep_id: str) -> None:
    """Make sure records can be written under ``out/sweep_id`` before anything runs.

    Raises
    ------
    BadInputError
        When the directory cannot be created or written (see :func:`records.check_writable`).
    """
    records.check_writable(records.check_writable(out) / sweep_id)


def _fmt(seconds: float) -> str:
    return f"{seconds:.4g}"


def summarize(rec: records.RunRecord, path: Path | None) -> str:
    """A short, human summary of a record (what ``harness run`` prints without ``--json``)."""
    params = " ".join(f"{k}={v}" for k, v in rec.params.items())
    over = "  OVERSUBSCRIBED (timings not valid for scaling)" if rec.oversubscribed else ""
    lines = [
        f"{rec.workload}/{rec.variant} {rec.mode} size={rec.size}  ranks={rec.ranks} "
        f"nodes={rec.nodes}{over}",
        f"  params   {params}",
    ]
    if rec.seconds:
        lines.append(
            f"  time     {_fmt(statistics.median(rec.seconds))} s median "
            f"(min {_fmt(min(rec.seconds))}, max {_fmt(max(rec.seconds))}) over "
            f"{len(rec.seconds)} reps after {rec.warmup} warm-up"
        )
    if rec.fom:
        extra = "".join(f", {f['value']:.4g} {f['unit']}" for f in rec.extra_foms)
        lines.append(f"  FOM      {rec.fom['value']:.4g} {rec.fom['unit']}{extra}")
    if rec.phases:
        phases = "  ".join(f"{k} {_fmt(v['mean'])}" for k, v in rec.phases.items())
        lines.append(f"  phases   {phases} s per rep (mean over ranks)")
    v = rec.verification
    if v:
        verdict = "passed" if v["passed"] else "FAILED"
        error = "undefined" if v["error"] is None else f"{v['error']:.3g}"
        lines.append(f"  verify   {verdict}: error {error} (tolerance {v['tolerance']:.3g})")
    if rec.error:
        lines.append(f"  error    {rec.error}")
    lines.append(f"  status   {rec.status}")
    if path is not None:
        lines.append(f"  record   {path}")
    return "\n".join(lines)


def _emit(rec: records.RunRecord, path: Path | None, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(records.finite(rec.to_dict()), indent=2, allow_nan=False))
    else:
        click.echo(summarize(rec, path))
    if rec.status != "ok":
        raise RunFailedError(f"{rec.workload} run {rec.run_id}: {rec.status}"
                             + (f" ({rec.error.splitlines()[0]})" if rec.error else ""))


@click.command()
@click.argument("workload")
@click.option("--ranks", type=click.IntRange(min=1, max=MAX_CORES), default=None,
              help="MPI ranks; outside MPI the run is relaunched under mpiexec -n RANKS.")
@click.option("--mode", type=click.Choice(["strong", "weak"]), default="strong",
              show_default=True, help="strong: fixed total problem; weak: fixed problem per rank.")
@click.option("--size", default="tiny", show_default=True,
              help="Named problem size: tiny (CI), small, medium, large (out of cache).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", envvar="HARNESS_RUN_SET",
              help="Override one workload parameter; repeatable.")
@click.option("--variant", default=None, help="Workload variant (default: the workload's first).")
@click.option("--reps", type=click.IntRange(min=1, max=MAX_REPS), default=5, show_default=True,
              help="Timed repetitions.")
@click.option("--warmup", type=click.IntRange(min=0, max=MAX_WARMUP), default=1, show_default=True,
              help="Untimed warm-up repetitions (the JIT compile happens before them).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("results"),
              show_default=True, help="Results directory; the record goes to OUT/SWEEP_ID/.")
@click.option("--sweep-id", default=records.DEFAULT_SWEEP_ID, show_default=True,
              help="Sweep this run belongs to (a directory under OUT).")
@click.option("--run-id", default=None, help="Run id (default: a fresh unique one).")
@click.option("--time-limit", type=Seconds(), default=None,
              help="Seconds after which the run is killed and recorded as failed.")
@click.option("--keep-files", is_flag=True, help="Keep the files a workload writes (FEA).")
@click.option("--json", "as_json", is_flag=True, envvar="HARNESS_RUN_JSON",
              help="Print the record alone, as JSON.")
@click.option("--supervised", is_flag=True, hidden=True)
def run(workload: str, ranks: int | None, mode: str, size: str, settings: tuple[str, ...],
        variant: str | None, reps: int, warmup: int, out: Path, sweep_id: str,
        run_id: str | None, time_limit: float | None, keep_files: bool, as_json: bool,
        supervised: bool) -> None:
    """Run WORKLOAD once, verified and timed, and write its run record.

    Workloads: cfd, fea, opt, param, calibrate. Example:

        harness run cfd --ranks 2 --size small --set steps=200 --variant overlap
    """
    overrides = parse_settings(settings)
    problem = launchers.misuse()
    if problem is not None:
        raise UsageError(problem)
    records.check_id("sweep id", sweep_id)
    if run_id is not None:
        records.check_id("run id", run_id)
    kwargs: dict[str, Any] = dict(
        workload=workload, size=size, mode=mode, variant=variant, overrides=overrides,
        repetitions=reps, warmup=warmup, out=out, sweep_id=sweep_id, run_id=run_id,
        expected_ranks=ranks, keep_files=keep_files,
    )
    if launchers.under_launcher() or (ranks in (None, 1) and time_limit is None):
        _run_in_place(kwargs, as_json, supervised)
    else:
        _relaunch(kwargs, ranks or 1, time_limit, as_json)


def _run_in_place(kwargs: dict[str, Any], as_json: bool, supervised: bool) -> None:
    from harness.rankside import exclude_analysis_packages

    exclude_analysis_packages()  # before Numba loads: a rank needs no SciPy, pandas, rich
    from mpi4py import MPI

    from harness import runner, workloads
    from harness.decomposition import collectives

    comm = MPI.COMM_WORLD
    rank = comm.Get_rank()
    # SIGTERM unwinds (scratch files removed, exit 143) instead of ending the process mid-write
    signal.signal(signal.SIGTERM, local.raise_terminated)
    try:
        # bad input is refused before anything (even the output directory) is created
        workloads.get(kwargs["workload"]).resolve(
            kwargs["size"], kwargs["overrides"], kwargs["mode"], comm.Get_size(),
            kwargs["variant"])
        # one probe of the (shared) output directory, not one per rank; every rank stops on it
        problem = None
        if rank == 0:
            try:
                check_out(kwargs["out"], kwargs["sweep_id"])
            except BadInputError as e:
                problem = str(e)
        problem = collectives.broadcast(comm, problem)
        if problem is not None:
            raise UsageError(problem)
        rec, path = runner.execute(runner.RunOptions(**kwargs))
    except HarnessError as e:
        if rank != 0:  # every rank raised the same error; rank 0 reports it
            sys.exit(e.exit_code)
        raise
    if rank != 0 or rec is None:
        return
    if supervised:  # the supervising parent prints from the record
        if rec.status != "ok":
            sys.exit(1)
        return
    _emit(rec, path, as_json)


def _relaunch(kwargs: dict[str, Any], ranks: int, time_limit: float | None,
              as_json: bool) -> None:
    import mpi4py

    # this process only validates and supervises: it must not become an MPI process itself
    mpi4py.rc.initialize = False
    mpi4py.rc.finalize = False
    from harness import runner, workloads

    wl = workloads.get(kwargs["workload"])
    params, variant = wl.resolve(kwargs["size"], kwargs["overrides"], kwargs["mode"], ranks,
                                 kwargs["variant"])
    check_out(kwargs["out"], kwargs["sweep_id"])
    run_id = kwargs["run_id"] or records.new_run_id()
    point = command.RunRequest(kwargs["workload"], variant, kwargs["mode"], kwargs["size"], ranks,
                                 kwargs["overrides"], kwargs["repetitions"], kwargs["warmup"])
    # the time limit stays with this supervisor: the child gets none
    child = command.run_command(point, kwargs["out"], kwargs["sweep_id"], run_id,
                                flags=["--supervised", *(["--keep-files"] if kwargs["keep_files"]
                                                         else [])])
    try:
        done = local.run_supervised(launchers.mpiexec_command(ranks, child), time_limit)
    finally:  # a rank killed outright leaves its scratch files: they go whatever happened
        if not kwargs["keep_files"]:
            runner.remove_scratch(kwargs["out"], kwargs["sweep_id"], run_id)
    path = records.exists(kwargs["out"], kwargs["sweep_id"], run_id)
    if path is None:
        if done.timed_out:
            error = f"timeout after {time_limit:g} s"
        elif done.interrupted:
            name = "SIGTERM" if done.stopped_by == signal.SIGTERM else "SIGINT"
            error = f"interrupted ({name}) before the run finished"
        elif done.returncode == 2:
            sys.exit(2)  # bad input caught inside MPI: already reported, no record by design
        else:
            error = (f"mpiexec exited with code {done.returncode} and no record; last output:\n"
                     + done.stderr_tail.strip()[-2000:])
        opts = runner.RunOptions(**{**kwargs, "run_id": run_id})
        rec = runner.failed_record(opts, run_id, ranks, error, params, variant)
        path = records.write(kwargs["out"], rec)
    else:
        rec = records.load(path)
    if done.interrupted:
        click.echo(json.dumps(records.finite(rec.to_dict()), indent=2, allow_nan=False) if as_json
                   else summarize(rec, path))
        sys.exit(local.EXIT_SIGTERM if done.stopped_by == signal.SIGTERM else local.EXIT_SIGINT)
    _emit(rec, path, as_json)
