"""CFD decomposition, halo exchange and checksum invariance; holds at any rank count."""

import numpy as np
import pytest
from mpi4py import MPI

from harness.decomposition import cartesian
from harness.timing import PhaseTimer
from harness.workloads import get
from kernels import cfd

comm = MPI.COMM_WORLD


def test_grid_dims_matches_mpi_compute_dims():
    for ranks in range(1, 65):
        assert cartesian.grid_dims(ranks, 2) == tuple(MPI.Compute_dims(ranks, 2))


@pytest.mark.parametrize("n", [5, 16, 33])
def test_halo_exchange_brings_the_periodic_neighbours(n):
    if n < max(cartesian.grid_dims(comm.Get_size(), 2)):
        pytest.skip("grid smaller than the process grid")
    grid = cartesian.CartesianGrid(comm, n)
    s = grid.block
    glob = np.arange(n * n, dtype=np.float64).reshape(n, n)
    c = np.full((s.rows + 2, s.cols + 2), -1.0)
    c[1:-1, 1:-1] = glob[s.row0:s.row0 + s.rows, s.col0:s.col0 + s.cols]
    cartesian.HaloExchange(grid).exchange(c)
    rows = np.arange(s.row0 - 1, s.row0 + s.rows + 1) % n
    cols = np.arange(s.col0 - 1, s.col0 + s.cols + 1) % n
    want = glob[np.ix_(rows, cols)]
    np.testing.assert_array_equal(c[0, 1:-1], want[0, 1:-1])
    np.testing.assert_array_equal(c[-1, 1:-1], want[-1, 1:-1])
    np.testing.assert_array_equal(c[1:-1, 0], want[1:-1, 0])
    np.testing.assert_array_equal(c[1:-1, -1], want[1:-1, -1])
    grid.free()


def run_case(comm_, variant, overrides):
    wl = get("cfd")
    params, variant = wl.resolve("tiny", overrides, "strong", comm_.Get_size(), variant)
    wl.precompile()
    instance = wl.setup(comm_, params, variant, None)
    instance.reset()
    instance.run(PhaseTimer(wl.phases))
    result = instance.verify(), instance.c.copy(), instance.grid.block, instance.residual
    instance.close()
    return result


@pytest.mark.parametrize("variant", ["blocking", "overlap"])
@pytest.mark.parametrize("overrides", [{}, {"n": 37, "steps": 13, "residual_every": 4}])
def test_field_and_checksum_equal_the_serial_run(variant, overrides):
    verification, c, s, residual = run_case(comm, variant, overrides)
    serial = None
    if comm.Get_rank() == 0:
        serial = run_case(MPI.COMM_SELF, "blocking", overrides)
    serial = comm.bcast(serial if serial is None else (serial[0], serial[1], serial[3]), root=0)
    s_verification, s_field, s_residual = serial
    assert verification.passed and s_verification.passed
    assert verification.checksum == s_verification.checksum  # bitwise: same arithmetic per cell
    np.testing.assert_array_equal(
        c[1:-1, 1:-1], s_field[1 + s.row0:1 + s.row0 + s.rows, 1 + s.col0:1 + s.col0 + s.cols])
    assert residual == s_residual


def test_verification_fails_when_the_field_is_wrong():
    wl = get("cfd")
    params, variant = wl.resolve("tiny", {}, "strong", comm.Get_size(), "blocking")
    instance = wl.setup(comm, params, variant, None)
    instance.reset()
    instance.run(PhaseTimer(wl.phases))
    if comm.Get_rank() == comm.Get_size() - 1:
        instance.c[1, 1] += 1e-6
    v = instance.verify()
    instance.close()
    assert not v.passed and v.error > v.tolerance


def test_gather_field_assembles_the_global_grid():
    n = 23
    if n < max(cartesian.grid_dims(comm.Get_size(), 2)):
        pytest.skip("grid smaller than the process grid")
    grid = cartesian.CartesianGrid(comm, n)
    s = grid.block
    c = np.zeros((s.rows + 2, s.cols + 2))
    c[1:-1, 1:-1] = cfd.fourier_mode(n, 2, 3, s.row0, s.rows, s.col0, s.cols)
    field = cartesian.gather_field(grid, c)
    if comm.Get_rank() == 0:
        np.testing.assert_array_equal(field, cfd.fourier_mode(n, 2, 3, 0, n, 0, n))
    else:
        assert field is None
    grid.free()
