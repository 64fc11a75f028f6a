"""The FEA kernel against plain NumPy/SciPy oracles: element matrix, assembly, load, CG, order."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from harness.errors import ParameterError
from harness.workloads.fea import ERROR_CONSTANT, FEA, wave_numbers
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


def ours_global(m: int, p0: int = 0, p1: int | None = None) -> sp.csr_matrix:
    """Our CSR rows of [p0, p1), columns mapped from the extended slab to global unknowns."""
    p1 = m if p1 is None else p1
    rowptr, cols, vals = kernel.assemble_matrix(m, p0, p1)
    glob = cols.astype(np.int64) + (p0 - 1) * m * m
    return sp.csr_matrix((vals, glob, rowptr), shape=((p1 - p0) * m * m, m ** 3))


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
    kernel.exact_solution(m, 0, m, *map(float, wave), u)
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
    assert ours.nnz == kernel.local_nnz(m, 0, m) == oracle.nnz
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


@pytest.mark.parametrize("m,p0,p1", [(5, 0, 2), (5, 2, 3), (5, 3, 5), (7, 1, 6)])
def test_slab_rows_are_the_same_bits_as_the_whole_matrix(m, p0, p1):
    whole = ours_global(m)
    part = ours_global(m, p0, p1)
    rows = slice(p0 * m * m, p1 * m * m)
    np.testing.assert_array_equal(part.toarray(), whole[rows].toarray())
    np.testing.assert_array_equal(kernel.load_vector(m, (2, 1, 3), p0, p1),
                                  kernel.load_vector(m, (2, 1, 3))[rows])


@pytest.mark.parametrize("wave", [(1, 1, 1), (2, 3, 1)])
def test_load_vector_matches_pointwise_quadrature(wave):
    m = 4
    np.testing.assert_allclose(kernel.load_vector(m, wave), numpy_load(m, wave),
                               rtol=1e-12, atol=1e-15)


def test_bad_plane_ranges_raise():
    with pytest.raises(ValueError, match="planes"):
        kernel.local_nnz(4, 2, 2)
    with pytest.raises(ValueError, match="m=0"):
        kernel.assemble_matrix(0)
    with pytest.raises(ValueError, match="p0"):
        kernel.load_vector(4, (1, 1, 1), 3, 5)


def solve_with_case(n, case_index, tol, tmp_path):
    from mpi4py import MPI

    wl = FEA()
    params, variant = wl.resolve("tiny", {"n": n, "tol": tol, "cases": case_index + 1})
    case = wl.setup(MPI.COMM_SELF, params, variant, tmp_path)
    case.reset()
    case.assemble()
    b = kernel.load_vector(n - 1, wave_numbers(case_index))
    x = np.empty_like(b)
    from harness.timing import PhaseTimer

    timer = PhaseTimer(wl.phases)
    iterations, residual = case.solve(b, x, timer)
    case.close()
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
    case = wl.setup(MPI.COMM_SELF, params, variant, tmp_path)
    case.reset()
    case.run(PhaseTimer(wl.phases))
    assert case.case_iterations == [3, 3] and case.iterations == 6
    verification = case.verify()
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
    ({"n": 3}, 4, "n=3 gives 2 interior-node plane(s), fewer than the 4 ranks"),
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
