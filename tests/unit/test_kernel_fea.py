"""The FEA kernel against plain NumPy/SciPy oracles: element matrix, assembly, load, CG, order."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from harness.errors import ParameterError
from harness.workloads.fea import ERROR_CONSTANT, FEA, wave_numbers
from kernels import exactsum
from kernels import fea as kernel

GAUSS, WEIGHTS = np.polynomial.legendre.leggauss(2)
CORNERS = np.array([[a & 1, (a >> 1) & 1, (a >> 2) & 1] for a in range(8)])  # local node order


def numpy_element_stiffness(h: float) -> np.ndarray:
    """∫ ∇φa·∇φb over a cube of side h, trilinear φ, 2×2×2 Gauss, written out plainly."""
    ke = np.zeros((8, 8))
    sign = 2.0 * CORNERS - 1.0
    for xi in GAUSS:
        for eta in GAUSS:
            for zeta in GAUSS:
                point = np.array([xi, eta, zeta])
                factors = 1.0 + sign * point  # (8, 3): 1 + s_d·ξ_d
                grad = np.empty((8, 3))
                for d in range(3):
                    others = [e for e in range(3) if e != d]
                    grad[:, d] = sign[:, d] * factors[:, others[0]] * factors[:, others[1]] / 8
                grad *= 2.0 / h  # dξ/dx
                ke += np.einsum("ad,bd->ab", grad, grad) * (h / 2) ** 3  # weights are 1
    return ke


def numpy_global_matrix(m: int) -> sp.csr_matrix:
    """Scatter every element's matrix into the (m+1)³ nodes, then keep the interior ones."""
    n = m + 1
    ke = numpy_element_stiffness(1.0 / n)
    nodes = (n + 1) ** 3
    rows, cols, vals = [], [], []
    for ez in range(n):
        for ey in range(n):
            for ex in range(n):
                corner = np.array([ex, ey, ez]) + CORNERS
                ids = (corner[:, 2] * (n + 1) + corner[:, 1]) * (n + 1) + corner[:, 0]
                rows.append(np.repeat(ids, 8))
                cols.append(np.tile(ids, 8))
                vals.append(ke.ravel())
    full = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(nodes, nodes)).tocsr()
    i = np.arange(1, n)
    kk, jj, ii = np.meshgrid(i, i, i, indexing="ij")  # z slowest, x fastest
    interior = ((kk * (n + 1) + jj) * (n + 1) + ii).ravel()
    return full[interior][:, interior].tocsr()


def ours_global(m: int, box: tuple[int, ...] | None = None) -> sp.csr_matrix:
    """Our CSR rows of ``box``, columns mapped from the extended box to global unknowns."""
    x0, x1, y0, y1, z0, z1 = (0, m, 0, m, 0, m) if box is None else box
    rowptr, cols, vals = kernel.assemble_matrix(m, box)
    ex, ey = x1 - x0 + 2, y1 - y0 + 2
    c = cols.astype(np.int64)
    i, j, k = c % ex + x0 - 1, (c // ex) % ey + y0 - 1, c // (ex * ey) + z0 - 1
    assert i.min() >= 0 and j.min() >= 0 and k.min() >= 0 and max(i.max(), j.max(), k.max()) < m
    glob = (k * m + j) * m + i
    rows = (x1 - x0) * (y1 - y0) * (z1 - z0)
    return sp.csr_matrix((vals, glob, rowptr), shape=(rows, m ** 3))


def box_rows(m: int, box: tuple[int, ...]) -> np.ndarray:
    """Global indices of the nodes of ``box``, in the box's own (x fastest) order."""
    x0, x1, y0, y1, z0, z1 = box
    k, j, i = np.meshgrid(np.arange(z0, z1), np.arange(y0, y1), np.arange(x0, x1), indexing="ij")
    return ((k * m + j) * m + i).ravel()


def numpy_load(m: int, wave: tuple[int, int, int]) -> np.ndarray:
    """∫ f φ_i with f evaluated point by point at each element's 8 Gauss points."""
    a, b, c = wave
    n = m + 1
    h = 1.0 / n

    def g(w, t):
        return (1 + t) * np.sin(w * np.pi * t)

    def f_(w, t):  # −G''
        return (w * np.pi) ** 2 * (1 + t) * np.sin(w * np.pi * t) - 2 * w * np.pi * np.cos(
            w * np.pi * t)

    full = np.zeros((n + 1, n + 1, n + 1))  # [z, y, x]
    for ez in range(n):
        for ey in range(n):
            for ex in range(n):
                for xi in GAUSS:
                    for eta in GAUSS:
                        for zeta in GAUSS:
                            ref = (np.array([xi, eta, zeta]) + 1) / 2
                            x, y, z = (np.array([ex, ey, ez]) + ref) * h
                            f = (f_(a, x) * g(b, y) * g(c, z) + g(a, x) * f_(b, y) * g(c, z)
                                 + g(a, x) * g(b, y) * f_(c, z))
                            phi = np.prod(np.where(CORNERS == 1, ref, 1 - ref), axis=1)
                            for node in range(8):
                                dx, dy, dz = CORNERS[node]
                                full[ez + dz, ey + dy, ex + dx] += f * phi[node] * (h / 2) ** 3
    return full[1:-1, 1:-1, 1:-1].ravel()


def exact(m: int, wave: tuple[int, int, int]) -> np.ndarray:
    u = np.empty(m ** 3)
    kernel.exact_solution(m, (0, m, 0, m, 0, m), *map(float, wave), u)
    return u


@pytest.mark.parametrize("h", [1.0, 0.25, 1 / 7])
def test_element_stiffness_matches_numpy_quadrature(h):
    ke = kernel.element_stiffness(h)
    np.testing.assert_allclose(ke, numpy_element_stiffness(h), rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(ke, ke.T, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ke.sum(axis=1), 0.0, atol=1e-14)  # constants are in the kernel
    np.testing.assert_allclose(np.diag(ke), h / 3, rtol=1e-14)


@pytest.mark.parametrize("m", [1, 2, 3, 5])
def test_assembled_matrix_equals_scipy_assembly(m):
    ours = ours_global(m)
    oracle = numpy_global_matrix(m)
    np.testing.assert_allclose(ours.toarray(), oracle.toarray(), rtol=1e-13, atol=1e-15)
    # the structural pattern is the mesh's node-to-node connectivity (27 points inside), kept
    # even where trilinear cubes happen to give a zero (face neighbours), as FE codes keep it
    oracle.sort_indices()
    assert ours.nnz == kernel.local_nnz(m, (0, m, 0, m, 0, m)) == oracle.nnz
    np.testing.assert_array_equal(ours.indptr, oracle.indptr)
    np.testing.assert_array_equal(ours.indices, oracle.indices)  # sorted within every row


def test_interior_row_is_the_trilinear_27_point_stencil():
    m, h = 5, 1 / 6
    row = ours_global(m).toarray()[(2 * m + 2) * m + 2].reshape(m, m, m)[1:4, 1:4, 1:4]
    distance = np.abs(np.indices((3, 3, 3)) - 1).sum(axis=0)  # 0 centre, 1 face, 2 edge, 3 corner
    want = np.choose(distance, [8 * h / 3, 0.0, -h / 6, -h / 12])
    np.testing.assert_allclose(row, want, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("m", [2, 4])
def test_matrix_is_symmetric_positive_definite(m):
    dense = ours_global(m).toarray()
    np.testing.assert_array_equal(dense, dense.T)
    assert np.linalg.eigvalsh(dense).min() > 0


@pytest.mark.parametrize("m,box", [(5, (0, 5, 0, 5, 0, 2)), (5, (1, 3, 2, 5, 2, 3)),
                                   (5, (0, 1, 4, 5, 3, 5)), (7, (2, 6, 0, 7, 1, 6)),
                                   (4, (3, 4, 3, 4, 3, 4))])
def test_box_rows_are_the_same_bits_as_the_whole_matrix(m, box):
    whole = ours_global(m)
    part = ours_global(m, box)
    rows = box_rows(m, box)
    np.testing.assert_array_equal(part.toarray(), whole[rows].toarray())
    assert part.nnz == kernel.local_nnz(m, box)
    np.testing.assert_array_equal(kernel.load_vector(m, (2, 1, 3), box),
                                  kernel.load_vector(m, (2, 1, 3))[rows])
    u = np.empty(rows.size)
    kernel.exact_solution(m, box, 2.0, 1.0, 3.0, u)
    np.testing.assert_array_equal(u, exact(m, (2, 1, 3))[rows])


def test_box_kernels_match_a_numpy_oracle():
    m, box = 6, (1, 4, 2, 6, 0, 3)
    lx, ly, lz = 3, 4, 3
    rng = np.random.default_rng(3)
    p = rng.standard_normal((lz + 2) * (ly + 2) * (lx + 2))
    owned = p.reshape(lz + 2, ly + 2, lx + 2)[1:-1, 1:-1, 1:-1].ravel()
    rowptr, cols, vals = kernel.assemble_matrix(m, box)
    local = sp.csr_matrix((vals, cols.astype(np.int64), rowptr), shape=(owned.size, p.size))
    q = np.empty(owned.size)
    acc = exactsum.new_accumulator()
    kernel.spmv_dot(rowptr, cols, vals, p, q, lx, ly, lz, acc)
    np.testing.assert_allclose(q, local @ p, rtol=1e-13, atol=1e-14)
    want = math.fsum(owned * q)  # correctly rounded; ours is within 2 ulp (exactsum docs)
    assert abs(exactsum.to_float(acc) - want) <= 2 * math.ulp(want)
    x, r = rng.standard_normal(owned.size), rng.standard_normal(owned.size)
    x0, r0 = x.copy(), r.copy()
    acc[:] = 0
    kernel.update_solution(x, r, p, q, 0.25, lx, ly, lz, acc)
    np.testing.assert_array_equal(x, x0 + 0.25 * owned)
    np.testing.assert_array_equal(r, r0 - 0.25 * q)
    want = math.fsum(r * r)
    assert abs(exactsum.to_float(acc) - want) <= 2 * math.ulp(want)
    kernel.update_direction(p, r, 0.5, lx, ly, lz)
    inner = p.reshape(lz + 2, ly + 2, lx + 2)[1:-1, 1:-1, 1:-1].ravel()
    np.testing.assert_array_equal(inner, r + 0.5 * owned)


@pytest.mark.parametrize("wave", [(1, 1, 1), (2, 3, 1)])
def test_load_vector_matches_pointwise_quadrature(wave):
    m = 4
    np.testing.assert_allclose(kernel.load_vector(m, wave), numpy_load(m, wave),
                               rtol=1e-12, atol=1e-15)


def test_bad_plane_ranges_raise():
    with pytest.raises(ValueError, match="box"):
        kernel.local_nnz(4, (0, 4, 0, 4, 2, 2))
    with pytest.raises(ValueError, match="m=0"):
        kernel.assemble_matrix(0)
    with pytest.raises(ValueError, match="box"):
        kernel.load_vector(4, (1, 1, 1), (0, 4, 0, 4, 3, 5))


def solve_with_case(n, case_index, tol, tmp_path):
    from mpi4py import MPI

    wl = FEA()
    params, variant = wl.resolve("tiny", {"n": n, "tol": tol, "cases": case_index + 1})
    instance = wl.setup(MPI.COMM_SELF, params, variant, tmp_path)
    instance.reset()
    instance.assemble()
    b = kernel.load_vector(n - 1, wave_numbers(case_index))
    x = np.empty_like(b)
    from harness.timing import PhaseTimer

    timer = PhaseTimer(wl.phases)
    iterations, residual = instance.solve(b, x, timer)
    instance.close()
    return x, b, iterations, residual, timer


@pytest.mark.parametrize("n,case_index", [(9, 0), (16, 5)])
def test_cg_solution_matches_spsolve(n, case_index, tmp_path):
    m = n - 1
    x, b, iterations, residual, timer = solve_with_case(n, case_index, 1e-12, tmp_path)
    matrix = ours_global(m)
    direct = spla.spsolve(matrix.tocsc(), b)
    assert residual <= 1e-12 and 0 < iterations < m ** 3
    assert np.linalg.norm(matrix @ x - b) <= 1e-11 * np.linalg.norm(b)
    np.testing.assert_allclose(x, direct, rtol=0, atol=1e-10 * np.abs(direct).max())
    assert timer.totals["compute"] > 0 and timer.totals["io"] == 0


def test_cg_stops_at_maxiter_without_converging(tmp_path):
    from mpi4py import MPI

    from harness.timing import PhaseTimer

    wl = FEA()
    params, variant = wl.resolve("tiny", {"maxiter": 3})
    instance = wl.setup(MPI.COMM_SELF, params, variant, tmp_path)
    instance.reset()
    instance.run(PhaseTimer(wl.phases))
    assert instance.load_case_iterations == [3, 3] and instance.iterations == 6
    verification = instance.verify()
    assert not verification.passed and "NO" in verification.method


def discretization_error(n: int, wave: tuple[int, int, int]) -> float:
    m = n - 1
    x = spla.spsolve(ours_global(m).tocsc(), kernel.load_vector(m, wave))
    return float(np.abs(x - exact(m, wave)).max())


@pytest.mark.parametrize("wave", [(1, 1, 1), (2, 1, 3)])
def test_error_is_second_order_and_under_the_stated_bound(wave):
    errors = {n: discretization_error(n, wave) for n in (6, 12, 24)}
    assert errors[6] / errors[12] > 3.5 and errors[12] / errors[24] > 3.5
    for n, e in errors.items():
        assert e <= ERROR_CONSTANT * math.pi ** 2 * sum(w * w for w in wave) / n ** 2


def test_wave_numbers_give_27_distinct_cases():
    assert len({wave_numbers(c) for c in range(27)}) == 27
    assert wave_numbers(0) == (1, 1, 1) and wave_numbers(27) == wave_numbers(0)


@pytest.mark.parametrize("overrides,ranks,needle", [
    ({"n": 1}, 1, "n=1 must be >= 2"),
    ({"n": 3}, 27, "n=3 gives 2 interior nodes per axis, fewer than the 3 ranks along one "
                   "axis of the 3D process grid of 27 ranks; use n >= 4"),
    ({"n": 256}, 2477, "fewer than the 2477 ranks along one axis"),
    ({"cases": 0}, 1, "cases=0 must be > 0"),
    ({"tol": 1}, 1, "tol=1.0 must be in (0, 1)"),
    ({"fsync": 2}, 1, "fsync=2 must be 0 or 1"),
    ({"maxiter": 0}, 1, "maxiter=0 must be > 0"),
])
def test_bad_parameters_raise_one_line(overrides, ranks, needle):
    with pytest.raises(ParameterError) as info:
        FEA().resolve("tiny", overrides, "strong", ranks)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_unknown_io_variant_names_the_allowed_ones():
    with pytest.raises(ParameterError, match="gather, per-rank, mpiio"):
        FEA().resolve("tiny", {}, "strong", 1, "bogus")


def test_weak_mode_keeps_elements_per_rank():
    wl = FEA()
    for ranks in (1, 2, 8, 27):
        params, _ = wl.resolve("small", {}, "weak", ranks)
        assert params["n"] ** 3 / ranks == pytest.approx(32 ** 3, rel=0.1)
    assert wl.resolve("tiny", {}, "weak", 8)[0]["n"] == 32
    assert wl.resolve("large", {}, "strong", 1)[0]["n"] >= 128


@pytest.mark.parametrize("ranks", [1, 5, 8, 50, 250, 500, 2500])
@pytest.mark.parametrize("variant", ["gather", "per-rank"])
def test_memory_per_rank_counts_the_arrays_a_case_allocates(ranks, variant, tmp_path):
    """The estimate from parameters alone equals the bytes of a real instance's arrays (1 rank;
    tests/mpi/test_fea_mpi.py checks rank 0 of a real multi-rank run); at 2500 ranks it is at
    least rank 0's CSR and vectors."""
    from mpi4py import MPI

    from harness.decomposition.box import box_layout

    wl = FEA()
    params, _ = wl.resolve("tiny", {"n": 30}, "strong", ranks, variant)
    estimate = wl.memory_per_rank(params, variant, ranks)
    lay = box_layout(29, ranks, 0)
    assert estimate >= 8 * lay.rows * (params["cases"] + 4) + 12 * kernel.local_nnz(29, lay.box)
    if ranks == 1:
        instance = wl.setup(MPI.COMM_SELF, params, variant, tmp_path)
        arrays = [instance.rowptr, instance.cols, instance.vals, instance.solutions, instance.b,
                  instance.r, instance.q, instance.p]
        held = sum(a.nbytes for a in arrays) + 8 * instance.layout.rows  # verify's exact scratch
        held += sum(send.nbytes + recv.nbytes for *_, send, recv in instance.halo.links)
        if instance.writer.whole is not None:
            held += instance.writer.whole.nbytes + instance.writer.arrived.nbytes
        instance.close()
        assert estimate == held


def test_a_non_finite_value_reaches_the_dot_products_as_nan():
    m = 3
    rowptr, cols, vals = kernel.assemble_matrix(m)
    p = np.zeros((m + 2) ** 3)
    p[(2 * (m + 2) + 2) * (m + 2) + 2] = np.inf  # an owned node
    q = np.empty(m ** 3)
    acc = exactsum.new_accumulator()
    kernel.spmv_dot(rowptr, cols, vals, p, q, m, m, m, acc)
    assert math.isnan(exactsum.to_float(acc))
    acc[:] = 0
    r = np.full(m ** 3, np.nan)
    kernel.update_solution(np.zeros(m ** 3), r, np.zeros_like(p), np.zeros(m ** 3), 0.5, m, m,
                           m, acc)
    assert math.isnan(exactsum.to_float(acc))
