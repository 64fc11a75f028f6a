"""``harness probe``: MPI micro-benchmarks that measure a machine, and its machine model.

Run like any workload (``harness probe --ranks N`` relaunches itself under ``mpiexec -n N``),
each benchmark verifies its data before its times count, and rank 0 writes a
``harness.probe/1`` record and, when everything verified, a machine model TOML file
(:mod:`harness.machine`). Modules: ``sizes`` (what is measured, ``--set`` keys), ``measure``
(timing and verification of one point), ``pointtopoint`` (ping-pong), ``collective``
(allreduce, halo exchange), ``memory`` (STREAM triad per node), ``fileio`` (write and read
bandwidth), ``fit`` (Hockney and allreduce fits), ``driver`` (the order of the benchmarks),
``record`` (the record, its schema, the model, the files), ``summary`` (what the command
prints).
"""

from __future__ import annotations

import os
import socket
import sys
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.probe.sizes import ProbeSizes


@dataclass
class ProbeOptions:
    """What to probe: the ``harness probe`` options, already parsed and checked."""

    out: Path
    sizes: ProbeSizes
    probe_id: str
    machine_name: str = ""
    quick: bool = False
    expected_ranks: int | None = None


def scratch_dir(out: Path, probe_id: str) -> Path:
    """The directory the file I/O benchmark writes in: ``<out>/.probe-<probe_id>``."""
    return Path(out) / f".probe-{probe_id}"


def execute(opts: ProbeOptions, comm: Any = None) -> tuple[dict[str, Any] | None,
                                                         Path | None, Path | None]:
    """Run the probe on ``comm`` (default ``MPI.COMM_WORLD``) in place. Collective.

    Returns ``(record, record path, model path or None)`` on rank 0, Nones elsewhere. An
    exception on any rank is printed and the communicator aborted, so no rank hangs.

    Raises
    ------
    harness.errors.UsageError
        On every rank, before anything runs: ``--ranks`` differs from the ranks MPI started.
    """
    from mpi4py import MPI

    from harness import provenance
    from harness.errors import UsageError
    from harness.probe import driver, record
    from harness.probe.sizes import last_level_cache_bytes
    from harness.runner import ContentionProbe, topology

    comm = MPI.COMM_WORLD if comm is None else comm
    rank, size = comm.Get_rank(), comm.Get_size()
    if opts.expected_ranks is not None and opts.expected_ranks != size:
        raise UsageError(f"--ranks {opts.expected_ranks} but MPI started {size} process(es); "
                         f"under mpiexec pass -n {opts.expected_ranks}")
    try:
        topo = topology(comm)
        if topo.oversubscribed:
            driver.say(comm, f"warning: {topo.ranks_per_node} ranks on "
                       f"{topo.cpus_per_node:g} CPUs (oversubscribed): the figures are "
                       "recorded but are not the machine's")
        others = ContentionProbe(comm, topo)  # what else ran on the node meanwhile
        others.start()
        measured = driver.measure(comm, opts.sizes, scratch_dir(opts.out, opts.probe_id))
        measured["contention"] = others.stop()
        mpi_library = MPI.Get_library_version().strip().splitlines()[0] if rank == 0 else ""
        comm.Barrier()
        if rank != 0:
            return None, None, None
        rec = record.build(
            measured, probe_id=opts.probe_id,
            machine_name=opts.machine_name or socket.gethostname(), ranks=size, topo=topo,
            sizes=asdict(opts.sizes), quick=opts.quick, io_path=str(Path(opts.out).resolve()),
            cache_bytes=last_level_cache_bytes(),
            provenance=provenance.collect(mpi_library, {"cpus_per_node": topo.cpus_per_node}))
        path, model = record.write(Path(opts.out), rec)
        return rec | {"model": model.name if model else None}, path, model
    except Exception as e:
        sys.stderr.write(f"harness: error: rank {rank}: {type(e).__name__}: {e}\n")
        if os.environ.get("HARNESS_DEBUG"):
            traceback.print_exc()
        sys.stderr.flush()
        comm.Abort(1)
        raise


__all__ = ["ProbeOptions", "ProbeSizes", "execute", "scratch_dir"]
