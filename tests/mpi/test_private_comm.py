"""Every workload instance communicates on a duplicate of the communicator it is given.

Run inside ``mpiexec -n N`` (N = 1…4). A receive for any source and any tag is left posted on
the runner's communicator while each instance runs: a message of the workload on that communicator
would match it. After ``close`` the duplicate is freed.
"""

from __future__ import annotations

from pathlib import Path

import casetools
import pytest
from mpi4py import MPI

from harness import workloads

comm = MPI.COMM_WORLD

CASES = [(name, variant) for name in workloads.names()
         for variant in workloads.get(name).variants]


@pytest.mark.parametrize(("name", "variant"), CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_a_case_runs_on_its_own_duplicate_and_frees_it(name, variant, tmp_path_factory):
    # one scratch directory for every rank (FEA writes its files there)
    workdir = comm.bcast(str(tmp_path_factory.mktemp("work")) if comm.Get_rank() == 0 else None)
    probe = comm.Irecv(bytearray(64), source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG)
    wl = workloads.get(name)
    params, variant = wl.resolve("tiny", {}, "strong", comm.Get_size(), variant)
    wl.precompile()
    instance = wl.setup(comm, params, variant, Path(workdir))
    try:
        assert instance.comm != comm
        assert MPI.Comm.Compare(instance.comm, comm) == MPI.CONGRUENT  # same ranks, own context
        timer = casetools.PhaseTimer(wl.phases)
        instance.reset()
        instance.run(timer)
        assert instance.verify().passed
    finally:
        own = instance.comm
        instance.close()
    assert own == MPI.COMM_NULL  # freed
    comm.Barrier()  # every rank's instance is done: nothing more can arrive
    assert not probe.Test(), "a workload message arrived on the runner's communicator"
    probe.Cancel()
    status = MPI.Status()
    probe.Wait(status)
    assert status.Is_cancelled()
