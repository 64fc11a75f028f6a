"""The probe's rank-side benchmarks verify what they measure (harness/probe/*).

Run inside ``mpiexec -n N`` (N = 1…4): every benchmark's points verify at any rank count, and
the same benchmark with one received value altered (``tamper``) reports them unverified, so a
check that cannot fail would be caught. Verdicts are broadcast from rank 0 before asserting, so
every rank passes or fails together and none is left in a collective.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from mpi4py import MPI

from harness.probe import collective, fileio, memory, pointtopoint
from harness.probe.driver import Layout
from harness.probe.sizes import QUICK, count_ladder

comm = MPI.COMM_WORLD
SIZES = replace(QUICK, samples=2, sample_seconds=1e-4, io=4096)
LADDER = [8, 1024]


def flip(buf) -> None:
    """Alter one received value (a byte, or a float64) the way a corrupted message would."""
    buf.view("u1")[0] ^= 1


def verdicts(points) -> list[bool] | None:
    """Every point's ``verified``, as rank 0 saw them, on every rank."""
    return comm.bcast(None if points is None else [p["verified"] for p in points], root=0)


@pytest.mark.parametrize("tamper", [None, flip], ids=["intact", "corrupted"])
def test_ping_pong_checks_the_echo(tamper):
    pair = (0, 1) if comm.Get_size() > 1 else (0, 0)
    got = verdicts(pointtopoint.pingpong(comm, pair, LADDER, SIZES, tamper))
    assert got == [tamper is None] * len(LADDER)


@pytest.mark.parametrize("tamper", [None, flip], ids=["intact", "corrupted"])
def test_allreduce_checks_the_exact_sum_at_every_rank_count(tamper):
    counts = count_ladder(comm.Get_size())
    points = collective.allreduce(comm, list(range(comm.Get_size())), counts, LADDER, SIZES,
                                  tamper)
    got = verdicts(points)
    assert got == [tamper is None] * (len(counts) * len(LADDER))
    assert comm.bcast([p["ranks"] for p in points], root=0) == \
        [p for p in counts for _ in LADDER]


@pytest.mark.parametrize("dims", [2, 3])
@pytest.mark.parametrize("tamper", [None, flip], ids=["intact", "corrupted"])
def test_halo_checks_every_neighbours_message(dims, tamper):
    result = collective.halo(comm, dims, LADDER, SIZES, tamper)
    assert result["neighbours"] == (4 if dims == 2 else 26)
    assert len(result["grid"]) == dims
    assert verdicts(result["points"]) == [tamper is None] * len(LADDER)


@pytest.mark.parametrize("tamper", [None, flip], ids=["intact", "corrupted"])
def test_triad_checks_its_result(tamper):
    layout = Layout(comm.allgather(MPI.Get_processor_name()))
    memory.precompile(comm)
    node = layout.on_host_of(0)
    points = memory.triad_curve(comm, node, 8192, SIZES, tamper)
    got = verdicts(points)
    assert got[0] is (tamper is None)  # one rank: rank 0 alone ran
    assert got == [tamper is None] * len(count_ladder(len(node)))


@pytest.mark.parametrize("tamper", [None, flip], ids=["intact", "corrupted"])
def test_file_io_reads_back_what_it_wrote_and_removes_it(tamper, tmp_path_factory):
    where = Path(comm.bcast(str(tmp_path_factory.mktemp("io")) if comm.Get_rank() == 0
                            else None, root=0))
    result = fileio.io_curve(comm, where, SIZES, tamper)
    comm.Barrier()
    reads = comm.bcast([p["read"]["verified"] for p in result["points"]], root=0)
    assert reads == [tamper is None] * len(count_ladder(comm.Get_size()))
    assert [p["writers"] for p in result["points"]] == count_ladder(comm.Get_size())
    assert not any(where.iterdir())


def test_a_whole_probe_over_two_pretend_nodes_has_both_levels(tmp_path_factory):
    # ranks alternate between two host names: every level and benchmark runs, in one record
    from types import SimpleNamespace

    from harness.probe import driver, record

    size = comm.Get_size()
    hosts = [f"node{r % 2}" for r in range(size)]
    where = Path(comm.bcast(str(tmp_path_factory.mktemp("whole")) if comm.Get_rank() == 0
                            else None, root=0))
    measured = driver.measure(comm, SIZES, where / "scratch", hosts=hosts)
    summary = None
    if comm.Get_rank() == 0:
        topo = SimpleNamespace(nodes=min(size, 2), ranks_per_node=-(-size // 2),
                               cpus_per_node=1.0, oversubscribed=False)
        rec = record.build(measured, probe_id="t-1", machine_name="pretend", ranks=size,
                           topo=topo, sizes={}, quick=True, io_path=str(where),
                           cache_bytes=0, provenance={})
        model = record.model_of(rec)
        summary = (rec["status"], rec["pingpong"]["inter"] is not None,
                   model.inter_measured, model.allreduce_inter is not None,
                   [p["ranks"] for p in rec["memory"]["points"]],
                   not (where / "scratch").exists())
    summary = comm.bcast(summary, root=0)
    two = size >= 2
    on_node0 = len([h for h in hosts if h == "node0"])
    assert summary == ("ok", two, two, two, count_ladder(on_node0), True)
