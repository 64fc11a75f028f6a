"""Run one workload instance under MPI and build its run record.

The sequence on every rank: validate the parameters (before anything is written), compile the
kernels (rank 0 first, filling the Numba cache, then the others), build the case, run the
untimed warm-up repetitions, then the timed ones — each bracketed by a barrier and two
``MPI.Wtime`` reads, its elapsed time reduced across ranks with MAX (min and mean kept) — then
verify the final state. Rank 0 writes the record. A run whose verification fails is recorded
with status ``verification_failed`` and no figure of merit; an exception on any rank is recorded
as ``failed`` with its text, then the communicator is aborted so no rank hangs in a collective.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import sys
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mpi4py import MPI

from harness import cpus as cpu_info
from harness import provenance, rankside, records, workloads
from harness.errors import HarnessError, ParameterError, RecordError
from harness.launch import launchers, local
from harness.timing import (
    PhaseTimer,
    compiled_signatures,
    reduce_phases,
    reduce_seconds,
    time_repetition,
)


@dataclass
class RunOptions:
    """What to run: the ``harness run`` options, already parsed."""

    workload: str
    size: str = "tiny"
    mode: str = "strong"
    variant: str | None = None
    overrides: dict[str, str] = field(default_factory=dict)
    repetitions: int = 5
    warmup: int = 1
    out: Path = Path("results")
    sweep_id: str = records.DEFAULT_SWEEP_ID
    run_id: str | None = None
    expected_ranks: int | None = None
    keep_files: bool = False


@dataclass
class Topology:
    """How the ranks sit on nodes, and whether they share cores."""

    nodes: int
    ranks_per_node: int
    #: CPUs a node's ranks may use: their affinity, capped by the cgroup's CPU quota (the
    #: smallest over nodes; may be fractional, e.g. 0.5 under ``cpu.max = 50000 100000``)
    cpus_per_node: float
    oversubscribed: bool
    #: the smallest cgroup CPU quota seen on any rank, in CPUs (None: unlimited)
    cpu_quota: float | None = None
    #: this node's CPUs (the union of its ranks' affinity sets)
    cpu_set: frozenset[int] = frozenset()
    #: ranks on this node
    ranks_here: int = 1


def topology(comm: Any, threads_per_rank: int = 1) -> Topology:
    """Count nodes and ranks per node; oversubscribed when a node's ranks × threads exceed the
    CPUs its processes may use: the union of their ``sched_getaffinity`` sets, capped by the
    cgroup CPU quota (:func:`harness.cpus.cgroup_cpu_limit`). Collective."""
    node = comm.Split_type(MPI.COMM_TYPE_SHARED)
    try:
        cpus = node.allgather(sorted(os.sched_getaffinity(0)))
        cpu_set = frozenset().union(*map(frozenset, cpus))
        quotas = [q for q in node.allgather(cpu_info.cgroup_cpu_limit()) if q is not None]
        usable = cpu_info.usable_cpus(len(cpu_set), min(quotas) if quotas else None)
        here = node.Get_size()
        leaders = comm.allreduce(1 if node.Get_rank() == 0 else 0)
        ranks_per_node = comm.allreduce(here, op=MPI.MAX)
        cpus_per_node = comm.allreduce(usable, op=MPI.MIN)
        over = comm.allreduce(here * threads_per_rank > usable, op=MPI.LOR)
        all_quotas = [q for q in comm.allgather(min(quotas) if quotas else None) if q is not None]
    finally:
        node.Free()
    return Topology(leaders, ranks_per_node, cpus_per_node, bool(over),
                    min(all_quotas) if all_quotas else None, cpu_set, here)


class ContentionProbe:
    """Measures what else ran on a node's CPUs during the timed repetitions. Collective.

    ``start()`` and ``stop()`` bracket the repetitions; each node's first rank reads the busy
    time of the node's CPUs (``/proc/stat``), every rank its own CPU time; ``stop()`` returns on
    every rank the largest contention over nodes (:func:`harness.cpus.contention`), or None
    where it could not be judged.
    """

    def __init__(self, comm: Any, topo: Topology):
        self.comm, self.topo = comm, topo
        self.node = comm.Split_type(MPI.COMM_TYPE_SHARED)
        self.leader = self.node.Get_rank() == 0

    def _sample(self) -> tuple[float, float, float | None]:
        busy = cpu_info.busy_seconds(self.topo.cpu_set) if self.leader else None
        return MPI.Wtime(), cpu_info.own_cpu_seconds(), busy

    def start(self) -> None:
        self.comm.Barrier()
        self.before = self._sample()

    def stop(self) -> float | None:
        self.comm.Barrier()
        after = self._sample()
        try:
            own = self.node.reduce(after[1] - self.before[1], op=MPI.SUM, root=0)
            value = -1.0
            if self.leader and after[2] is not None and self.before[2] is not None:
                other = (after[2] - self.before[2]) - own
                usable = min(float(len(self.topo.cpu_set)),
                             self.topo.cpu_quota or float("inf"))
                found = cpu_info.contention(other, after[0] - self.before[0], usable,
                                            self.topo.ranks_here)
                value = -1.0 if found is None else found
            worst = self.comm.allreduce(value, op=MPI.MAX)
        finally:
            self.node.Free()
        return None if worst < 0 else worst


def _scratch(opts: RunOptions, run_id: str) -> Path:
    return Path(opts.out) / opts.sweep_id / ".work" / run_id


def _base_record(opts: RunOptions, run_id: str, ranks: int, params: dict[str, Any],
                 variant: str, status: str, workload: workloads.Workload) -> records.RunRecord:
    return records.RunRecord(
        run_id=run_id, sweep_id=opts.sweep_id, workload=opts.workload, variant=variant,
        mode=opts.mode, size=opts.size, params=params, ranks=ranks, status=status,
        warmup=opts.warmup, repetitions=opts.repetitions,
        overrides={k: workload.param(k).parse(v) for k, v in opts.overrides.items()},
    )


def failed_record(opts: RunOptions, run_id: str, ranks: int, error: str,
                  params: dict[str, Any] | None = None, variant: str | None = None,
                  extra_provenance: dict[str, Any] | None = None) -> records.RunRecord:
    """A ``failed`` record (:func:`harness.records.failed`) for the run ``opts`` describes."""
    return records.failed(
        run_id=run_id, sweep_id=opts.sweep_id, workload=opts.workload,
        variant=variant or opts.variant or "", mode=opts.mode, size=opts.size,
        params=params or dict(opts.overrides), ranks=ranks, error=error,
        provenance=provenance.collect("", extra_provenance),
    )


def execute(opts: RunOptions, comm: Any = None) -> tuple[records.RunRecord | None, Path | None]:
    """Run ``opts`` on ``comm`` (default ``MPI.COMM_WORLD``) in place. Collective.

    Returns ``(record, path)`` on rank 0 and ``(None, None)`` elsewhere.

    Raises
    ------
    ParameterError
        On every rank, before anything runs, when the parameters do not validate.
    """
    comm = MPI.COMM_WORLD if comm is None else comm
    rank, size = comm.Get_rank(), comm.Get_size()
    if opts.expected_ranks is not None and opts.expected_ranks != size:
        raise ParameterError(
            f"--ranks {opts.expected_ranks} but MPI started {size} process(es); under srun use "
            f"--mpi=pmi2 (or the site's PMI), under mpiexec pass -n {opts.expected_ranks}"
        )
    if opts.repetitions < 1 or opts.warmup < 0:
        raise ParameterError("--reps must be >= 1 and --warmup >= 0")
    run_id = comm.bcast(opts.run_id or records.new_run_id() if rank == 0 else None, root=0)
    records.check_id("run id", run_id)
    records.check_id("sweep id", opts.sweep_id)
    workload = workloads.get(opts.workload)
    params, variant = workload.resolve(opts.size, opts.overrides, opts.mode, size, opts.variant)
    try:
        return _measure(opts, comm, workload, params, variant, run_id)
    except Exception as e:  # any failure mid-run: record it, then stop every rank
        if local.terminated_by is not None:
            # the error is the SIGTERM's doing (raised inside a library that wrapped it):
            # unwind as the signal does, and whoever sent it records the interrupted run
            raise local.Terminated from e
        text = f"rank {rank}: {type(e).__name__}: {e}"
        sys.stderr.write(f"harness: error: {text}\n")
        if os.environ.get("HARNESS_DEBUG"):
            traceback.print_exc()
        rec = failed_record(opts, run_id, size, text, params, variant)
        if not opts.keep_files:  # before Abort: no rank's finally runs after it
            remove_scratch(opts.out, opts.sweep_id, run_id)
        path = None
        with contextlib.suppress(RecordError):  # the first failing rank's record wins
            path = records.write(opts.out, rec)
        if size > 1:
            sys.stderr.flush()
            comm.Abort(1)
        return (rec, path) if rank == 0 else (None, None)


def _measure(opts: RunOptions, comm: Any, workload: workloads.Workload,
             params: dict[str, Any], variant: str, run_id: str
             ) -> tuple[records.RunRecord | None, Path | None]:
    rank = comm.Get_rank()
    topo = topology(comm)
    if rank == 0 and topo.oversubscribed:
        sys.stderr.write(
            f"harness: warning: {topo.ranks_per_node} ranks share {topo.cpus_per_node:g} CPUs on "
            "a node (oversubscribed): timings are recorded but not valid for scaling\n"
        )
    # compile on rank 0 first so the others load the cache instead of racing to write it
    if rank == 0:
        workload.precompile()
    comm.Barrier()
    if rank != 0:
        workload.precompile()
    workdir = _scratch(opts, run_id)
    if rank == 0 and workload.writes_files:  # a directory made and removed costs milliseconds
        workdir.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    try:
        return _measure_in(opts, comm, workload, params, variant, run_id, topo, workdir)
    finally:  # the scratch files go on every exit path (an error, Ctrl-C, SIGTERM unwinding)
        if rank == 0 and workload.writes_files and not opts.keep_files:
            remove_scratch(opts.out, opts.sweep_id, run_id)


def remove_scratch(out: str | os.PathLike[str], sweep_id: str, run_id: str) -> None:
    """Remove the scratch directory ``<out>/<sweep_id>/.work/<run_id>`` of a run, and ``.work``
    itself once empty. Whoever sees a run end calls it: rank 0, the supervising ``harness run``,
    the local sweep, the Slurm job script."""
    work = Path(out) / sweep_id / ".work"
    shutil.rmtree(work / run_id, ignore_errors=True)
    with contextlib.suppress(OSError):
        work.rmdir()  # only when empty: another run may be using it


def _measure_in(opts: RunOptions, comm: Any, workload: workloads.Workload,
                params: dict[str, Any], variant: str, run_id: str, topo: Topology,
                workdir: Path) -> tuple[records.RunRecord | None, Path | None]:
    rank, size = comm.Get_rank(), comm.Get_size()
    measured = _measure_instance(opts, comm, workload, params, variant, topo, workdir)
    seconds, phases, verification = measured.seconds, measured.phases, measured.verification
    foms, work, iterations = measured.foms, measured.work, measured.iterations
    started, contention = measured.started, measured.contention
    compiled_while_timed = measured.compiled_while_timed
    # a kernel compiled inside the timed region on any rank taints the run's times
    compiled_while_timed = comm.allreduce(compiled_while_timed, op=MPI.LOR)
    startup = comm.gather(started, root=0)
    mpi_library = MPI.Get_library_version().strip().splitlines()[0] if rank == 0 else ""
    comm.Barrier()
    if rank != 0:
        return None, None
    rec = _base_record(opts, run_id, size, params, variant,
                       "ok" if verification.passed else "verification_failed", workload)
    rec.nodes = topo.nodes
    rec.ranks_per_node = topo.ranks_per_node
    rec.threads_per_rank = 1
    rec.oversubscribed = topo.oversubscribed
    rec.iterations = iterations
    rec.seconds = seconds["max"]
    rec.seconds_min = seconds["min"]
    rec.seconds_mean = seconds["mean"]
    rec.phases = phases
    rec.fom = foms[0] if foms else None
    rec.extra_foms = foms[1:]
    rec.verification = verification.to_dict()
    rec.work = work
    rec.fixed_work = {k: work[k] for k in workload.fixed_work if k in work}
    rec.compiled_while_timed = bool(compiled_while_timed)
    if all(s == s for s in startup):  # NaN where the OS does not say when a process started
        rec.startup = {"min": min(startup), "mean": statistics.fmean(startup),
                       "max": max(startup)}
    rec.cpu_quota = topo.cpu_quota
    rec.contention = None if contention is None else round(contention, 4)
    rec.contended = contention is not None and contention > cpu_info.CONTENDED_ABOVE
    if topo.cpu_quota is not None and rank == 0:
        sys.stderr.write(f"harness: note: the cgroup CPU quota allows {topo.cpu_quota:g} CPUs\n")
    if rec.contended:
        sys.stderr.write(
            f"harness: warning: other work took {contention:.0%} of the CPU time this run "
            f"needed (contended, above {cpu_info.CONTENDED_ABOVE:.0%}): timings are recorded "
            "but not valid for scaling\n")
    if compiled_while_timed:
        sys.stderr.write("harness: warning: a kernel was compiled inside the timed region (a "
                         "type the warm-up did not see); use --warmup >= 1\n")
    rec.provenance = provenance.collect(
        mpi_library, {"cpus_per_node": topo.cpus_per_node, "launcher": launchers.launcher_name()})
    if not verification.passed:
        rec.error = (f"verification failed: error {verification.error:.3e} > tolerance "
                     f"{verification.tolerance:.1e} ({verification.method})")
    return rec, records.write(opts.out, rec)


@dataclass
class _Measured:
    """What one rank's instance measured: times and phases reduced across ranks, the
    verification, FOMs and work, and the rank's own startup, contention and compile flag."""

    seconds: dict[str, list[float]]
    phases: dict[str, dict[str, float]]
    verification: workloads.Verification
    foms: list[dict[str, Any]]
    work: dict[str, Any]
    iterations: int
    started: float
    contention: float | None
    compiled_while_timed: bool


def _measure_instance(opts: RunOptions, comm: Any, workload: workloads.Workload,
                      params: dict[str, Any], variant: str, topo: Topology,
                      workdir: Path) -> _Measured:
    """Build this rank's instance, run the untimed warm-ups and the timed repetitions, reduce
    the times across ranks, verify, and close the instance whatever happens. Collective."""
    rank = comm.Get_rank()
    instance = workload.setup(comm, params, variant, workdir)
    try:
        timer = PhaseTimer(workload.phases)
        for _ in range(opts.warmup):
            if local.terminated_by is not None:
                raise local.Terminated
            instance.reset()
            time_repetition(comm, instance.run, timer)
        _inject_fault(rank)
        started = rankside.process_age()  # process start to the first timed repetition
        signatures = compiled_signatures()
        local_seconds: list[float] = []
        local_phases: list[dict[str, float]] = []
        probe = ContentionProbe(comm, topo)
        probe.start()
        for _ in range(opts.repetitions):
            if local.terminated_by is not None:  # a SIGTERM a library swallowed
                raise local.Terminated
            instance.reset()
            local_seconds.append(time_repetition(comm, instance.run, timer))
            local_phases.append(dict(timer.totals))
        contention = probe.stop()
        compiled_while_timed = compiled_signatures() != signatures
        seconds = reduce_seconds(comm, local_seconds)
        phases = reduce_phases(comm, workload.phases, local_phases)
        verification = instance.verify()
        median = statistics.median(seconds["max"])
        foms = ([f.to_dict() for f in instance.foms(median, phases)] if verification.passed
                else [])
        return _Measured(seconds, phases, verification, foms, instance.work(),
                         instance.iterations, started, contention, compiled_while_timed)
    finally:
        instance.close()


def _inject_fault(rank: int) -> None:
    """Fail on purpose on the rank named by ``HARNESS_INJECT_FAULT`` (for testing that a failed
    rank leaves a ``failed`` record and hangs no one)."""
    if os.environ.get("HARNESS_INJECT_FAULT", "").strip() == str(rank):
        raise RuntimeError(f"fault injected on rank {rank} by HARNESS_INJECT_FAULT")


__all__ = ["HarnessError", "RunOptions", "Topology", "execute", "failed_record", "topology"]
