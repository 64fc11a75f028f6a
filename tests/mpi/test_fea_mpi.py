"""FEA boxes, halo exchange, exact reductions, checksums and written files; holds at any rank
count."""

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from mpi4py import MPI

from harness.decomposition import box, boxio
from harness.decomposition.blocks import block_range
from harness.timing import PhaseTimer
from harness.workloads.fea import CHECKSUM_TOLERANCE, FEA, solution_path
from kernels import exactsum

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


def layout(m):
    return box.box_layout(m, size, rank, tuple(MPI.Compute_dims(size, 3)))


def test_largest_grid_dim_bounds_this_mpis_compute_dims():
    """Inputs are checked without MPI against this bound; it must hold for the MPI in use."""
    for ranks in range(1, 2501):
        assert max(MPI.Compute_dims(ranks, 3)) <= box.largest_grid_dim(ranks), ranks


@pytest.mark.parametrize("m", [4, 7, 15])
def test_boxes_cover_every_node_once(m):
    if m < max(MPI.Compute_dims(size, 3)):
        pytest.skip("fewer nodes per axis than ranks along an axis")
    lay = layout(m)
    owned = np.zeros((m, m, m), dtype=int)
    for x0, x1, y0, y1, z0, z1 in comm.allgather(lay.box):
        owned[z0:z1, y0:y1, x0:x1] += 1
    assert (owned == 1).all()
    assert lay.boxes()[rank] == lay.box


def test_too_few_nodes_are_refused():
    dims = tuple(MPI.Compute_dims(size, 3))
    with pytest.raises(ValueError, match="cannot be split"):
        box.box_layout(max(dims) - 1, size, 0, dims)


@pytest.mark.parametrize("m", [4, 9])
def test_halo_exchange_fills_faces_edges_and_corners(m):
    if m < max(MPI.Compute_dims(size, 3)):
        pytest.skip("fewer nodes per axis than ranks along an axis")
    lay = layout(m)
    x0, x1, y0, y1, z0, z1 = lay.box
    glob = np.arange(m ** 3, dtype=np.float64).reshape(m, m, m)
    v = np.full((z1 - z0 + 2, y1 - y0 + 2, x1 - x0 + 2), -1.0)
    v[1:-1, 1:-1, 1:-1] = glob[z0:z1, y0:y1, x0:x1]
    exchange = box.HaloExchange(comm, lay)
    exchange.exchange(v.reshape(-1))
    # the whole halo layer inside the domain comes from the neighbours; outside stays -1
    padded = np.full((m + 2, m + 2, m + 2), -1.0)
    padded[1:-1, 1:-1, 1:-1] = glob
    np.testing.assert_array_equal(v, padded[z0:z1 + 2, y0:y1 + 2, x0:x1 + 2])
    assert exchange.neighbours == len(box.neighbour_offsets(lay)) <= 26
    exchange.free()


def test_exact_total_is_the_same_bits_as_the_serial_exact_sum():
    rng = np.random.default_rng(7)
    values = rng.standard_normal(1001) * 10.0 ** rng.integers(-12, 12, 1001)
    lo, hi = block_range(values.size, size, rank)
    acc = exactsum.new_accumulator()
    exactsum.accumulate(values[lo:hi], acc)
    got = box.exact_total(comm, acc)
    assert comm.allgather(got) == [exactsum.exact_sum(values)] * size


def run(comm_, variant, overrides, workdir):
    wl = FEA()
    params, variant = wl.resolve("tiny", overrides, "strong", comm_.Get_size(), variant)
    wl.precompile()
    if comm_.Get_rank() == 0:
        workdir.mkdir(parents=True, exist_ok=True)
    comm_.Barrier()
    instance = wl.setup(comm_, params, variant, workdir)
    for _ in range(2):  # the second repetition overwrites the first one's files
        instance.reset()
        instance.run(PhaseTimer(wl.phases))
    verification = instance.verify()
    whole = [boxio.gather_global(comm_, instance.layout, x) for x in instance.solutions]
    instance.close()
    return verification, whole, instance


@pytest.mark.parametrize("variant", ["gather", "per-rank", "mpiio"])
@pytest.mark.parametrize("overrides", [{}, {"n": 9, "cases": 3, "tol": 1e-10}])
def test_checksum_solutions_and_files_equal_the_serial_run(variant, overrides, shared_dir):
    if overrides.get("n", 16) - 1 < max(MPI.Compute_dims(size, 3)):
        pytest.skip("fewer nodes per axis than ranks along an axis")
    verification, whole, instance = run(comm, variant, overrides, shared_dir / "par")
    serial = None
    if rank == 0:
        s_verification, s_whole, s_instance = run(MPI.COMM_SELF, "gather", overrides,
                                              shared_dir / "ser")
        serial = (s_verification, s_whole, s_instance.load_case_iterations)
    s_verification, s_whole, s_iterations = comm.bcast(serial, root=0)

    assert verification.passed and s_verification.passed
    assert comm.allgather(verification) == [verification] * size
    for key in ("sum", "l2"):
        assert verification.checksum[key] == pytest.approx(
            s_verification.checksum[key], rel=CHECKSUM_TOLERANCE)
    assert verification.error == pytest.approx(s_verification.error, rel=1e-12)
    # by design (exact reductions) the runs are the same bits, not merely close
    assert instance.load_case_iterations == s_iterations
    assert verification.checksum == s_verification.checksum
    if rank == 0 and variant == "gather":  # memory estimate: exactly the arrays rank 0 holds
        fea = instance
        held = sum(a.nbytes for a in (fea.rowptr, fea.cols, fea.vals, fea.solutions, fea.b, fea.r,
                                      fea.q, fea.p, fea.writer.arrived, fea.writer.whole))
        held += 8 * instance.layout.rows  # the exact-solution scratch of verify
        held += sum(send.nbytes + recv.nbytes for *_, send, recv in instance.halo.links)
        assert FEA().memory_per_rank(instance.params, variant, size) == held
    if rank == 0:
        for x, s_x in zip(whole, s_whole, strict=True):
            np.testing.assert_array_equal(x, s_x)
        check_files(shared_dir / "par", variant, instance, whole)


def check_files(workdir, variant, instance, whole):
    """Read back every load case's file(s) in the variant's layout and compare with the solution."""
    m = instance.m
    for index, x in enumerate(whole):
        if variant == "per-rank":
            parts = [np.fromfile(solution_path(workdir, variant, index, r), dtype=np.float64)
                     for r in range(size)]
            data = np.empty(m ** 3)
            boxio.place(instance.layout.boxes(), m, np.concatenate(parts), data)
        else:
            data = np.fromfile(solution_path(workdir, variant, index), dtype=np.float64)
        assert data.size == m ** 3
        np.testing.assert_array_equal(data, x)
    expected = {solution_path(workdir, variant, c, r).name for c in range(len(whole))
                for r in range(size if variant == "per-rank" else 1)}
    assert {p.name for p in workdir.iterdir()} == expected
