"""FEA slabs, ghost exchange, reductions, checksums and written files; holds at any rank count."""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from harness.decomposition import slab
from harness.decomposition.blocks import block_range
from harness.timing import PhaseTimer
from harness.workloads.fea import CHECKSUM_TOLERANCE, FEA, solution_path

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()


@pytest.fixture
def shared_dir():
    """A directory with the same path on every rank, removed afterwards."""
    path = Path(comm.bcast(tempfile.mkdtemp(prefix="fea-mpi-") if rank == 0 else None, root=0))
    yield path
    comm.Barrier()
    if rank == 0:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("m", [4, 7, 15])
def test_slabs_cover_every_plane_once(m):
    if m < size:
        pytest.skip("fewer planes than ranks")
    lay = slab.slab_layout(m, size, rank)
    spans = comm.allgather((lay.p0, lay.p1))
    assert spans[0][0] == 0 and spans[-1][1] == m
    assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(spans, [*spans[1:], (m, m + 1)],
                                                                strict=True))
    assert sum(lay.counts()) == m ** 3 and lay.displacements()[rank] == lay.offset


def test_fewer_planes_than_ranks_is_refused():
    with pytest.raises(ValueError, match="cannot be split"):
        slab.slab_layout(size - 1, size, 0)


@pytest.mark.parametrize("m", [4, 9])
def test_ghost_exchange_brings_the_neighbouring_planes(m):
    if m < size:
        pytest.skip("fewer planes than ranks")
    lay = slab.slab_layout(m, size, rank)
    s = lay.plane
    glob = np.arange(m ** 3, dtype=np.float64)
    v = np.full(lay.rows + 2 * s, -1.0)
    v[s:s + lay.rows] = glob[lay.offset:lay.offset + lay.rows]
    slab.GhostExchange(comm, lay).exchange(v)
    below = glob[(lay.p0 - 1) * s:lay.p0 * s] if lay.p0 > 0 else np.full(s, -1.0)
    above = glob[lay.p1 * s:(lay.p1 + 1) * s] if lay.p1 < m else np.full(s, -1.0)
    np.testing.assert_array_equal(v[:s], below)  # outer ghost planes stay untouched
    np.testing.assert_array_equal(v[-s:], above)
    np.testing.assert_array_equal(v[s:s + lay.rows], glob[lay.offset:lay.offset + lay.rows])


def test_plane_sum_is_the_serial_left_to_right_sum_on_every_rank():
    m = max(size, 11)
    lay = slab.slab_layout(m, size, rank)
    values = np.random.default_rng(7).standard_normal(m) * 10.0 ** np.arange(m)
    partial = np.zeros(m)
    partial[lay.p0:lay.p1] = values[lay.p0:lay.p1]
    got = slab.plane_sum(comm, partial, np.empty(m))
    serial = 0.0
    for v in values:
        serial += v
    assert comm.allgather(got) == [serial] * size


def run(comm_, variant, overrides, workdir):
    wl = FEA()
    params, variant = wl.resolve("tiny", overrides, "strong", comm_.Get_size(), variant)
    wl.precompile()
    if comm_.Get_rank() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
    comm_.Barrier()
    case = wl.setup(comm_, params, variant, workdir)
    for _ in range(2):  # the second repetition overwrites the first one's files
        case.reset()
        case.run(PhaseTimer(wl.phases))
    verification = case.verify()
    whole = [slab.gather_planes(comm_, case.layout, x) for x in case.solutions]
    return verification, whole, case


@pytest.mark.parametrize("variant", ["gather", "per-rank", "mpiio"])
@pytest.mark.parametrize("overrides", [{}, {"n": 9, "cases": 3, "tol": 1e-10}])
def test_checksum_solutions_and_files_equal_the_serial_run(variant, overrides, shared_dir):
    if overrides.get("n", 16) - 1 < size:
        pytest.skip("fewer planes than ranks")
    verification, whole, case = run(comm, variant, overrides, shared_dir / "par")
    serial = None
    if rank == 0:
        s_verification, s_whole, s_case = run(MPI.COMM_SELF, "gather", overrides,
                                              shared_dir / "ser")
        serial = (s_verification, s_whole, s_case.case_iterations)
    s_verification, s_whole, s_iterations = comm.bcast(serial, root=0)

    assert verification.passed and s_verification.passed
    assert comm.allgather(verification) == [verification] * size
    for key in ("sum", "l2"):
        assert verification.checksum[key] == pytest.approx(
            s_verification.checksum[key], rel=CHECKSUM_TOLERANCE)
    assert verification.error == pytest.approx(s_verification.error, rel=1e-12)
    # by design (exact per-plane reductions) the runs are the same bits, not merely close
    assert case.case_iterations == s_iterations
    if rank == 0:
        for x, s_x in zip(whole, s_whole, strict=True):
            np.testing.assert_array_equal(x, s_x)
        check_files(shared_dir / "par", variant, case, whole)


def check_files(workdir, variant, case, whole):
    """Read back every case's file(s) in the variant's layout and compare with the solution."""
    m = case.m
    for index, x in enumerate(whole):
        if variant == "per-rank":
            parts = []
            for r in range(size):
                p0, p1 = block_range(m, size, r)
                data = np.fromfile(solution_path(workdir, variant, index, r), dtype=np.float64)
                assert data.size == (p1 - p0) * m * m
                parts.append(data)
            data = np.concatenate(parts)
        else:
            data = np.fromfile(solution_path(workdir, variant, index), dtype=np.float64)
        assert data.size == m ** 3
        np.testing.assert_array_equal(data, x)
    expected = {solution_path(workdir, variant, c, r).name for c in range(len(whole))
                for r in range(size if variant == "per-rank" else 1)}
    assert {p.name for p in workdir.iterdir()} == expected
