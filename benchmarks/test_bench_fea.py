"""FEA CG at ``large`` on 1 rank: our time per iteration against ``scipy.sparse.linalg.cg``.

Both solve the same matrix (ours, handed to SciPy as a CSR with 32-bit indices, as SciPy would
pick for it) and the same right-hand side (load case 0) for a fixed number of iterations from
x = 0 (a relative tolerance of 1e-30 that neither reaches). Compilation and assembly happen in
the fixture, outside the timed functions. Target: ours ≤ 1.0× SciPy's time per
iteration; the ratio is printed and stored in the benchmark's ``extra_info``.

One rank is one core: the BLAS behind SciPy's dot products is held to one thread, as our kernels
are, with ``threadpoolctl`` (a dev dependency; without it, ``OPENBLAS_NUM_THREADS=1`` is set
before NumPy loads, which only works when nothing imported NumPy earlier). The BLAS thread count
in force is stored in ``extra_info``. On a shared machine more BLAS threads only add contention.

Run: ``.venv/bin/python -m pytest benchmarks/test_bench_fea.py --benchmark-only -s``.
``HARNESS_BENCH_FEA_SIZE`` picks another size (the figure in the README is for ``large``).
"""

import contextlib
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import checks
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from mpi4py import MPI

from harness.timing import PhaseTimer
from harness.workloads.fea import FEA, wave_numbers
from kernels import fea as kernel

try:
    from threadpoolctl import threadpool_info, threadpool_limits
except ImportError:  # pragma: no cover - the dev extra has it
    threadpool_info = threadpool_limits = None

SIZE = os.environ.get("HARNESS_BENCH_FEA_SIZE", "large")
ITERATIONS = 20
ROUNDS = 5
_per_iteration: dict[str, float] = {}


@pytest.fixture(scope="module")
def problem(tmp_path_factory):
    wl = FEA()
    params, variant = wl.resolve(SIZE, {"cases": 1, "tol": 1e-30, "maxiter": ITERATIONS},
                                 "strong", 1, "gather")
    wl.precompile()
    instance = wl.setup(MPI.COMM_SELF, params, variant, tmp_path_factory.mktemp("fea"))
    instance.reset()
    instance.assemble()
    m, lay = instance.m, instance.layout
    b = np.empty(lay.rows)
    kernel.assemble_load(m, lay.box, *map(float, wave_numbers(0)), b)
    # our columns index the extended vector (a halo layer around the box); SciPy's the owned one
    ext = m + 2
    c = instance.cols.astype(np.int64)
    i, j, k = c % ext - 1, (c // ext) % ext - 1, c // (ext * ext) - 1
    owned = ((k * m + j) * m + i).astype(np.int32)
    matrix = sp.csr_matrix((instance.vals, owned, instance.rowptr.astype(np.int32)),
                           shape=(lay.rows, lay.rows))
    assert matrix.indices.dtype == np.int32 and matrix.indptr.dtype == np.int32
    return instance, matrix, b


def _report(benchmark, name):
    median = benchmark.stats.stats.median
    _per_iteration[name] = median / ITERATIONS
    benchmark.extra_info["size"] = SIZE
    benchmark.extra_info["iterations"] = ITERATIONS
    benchmark.extra_info["seconds_per_iteration"] = median / ITERATIONS
    benchmark.extra_info["blas_threads"] = (
        [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
        if threadpool_info else os.environ.get("OPENBLAS_NUM_THREADS"))


@pytest.fixture(autouse=True)
def one_blas_thread():
    limit = (threadpool_limits(limits=1, user_api="blas") if threadpool_limits
             else contextlib.nullcontext())
    with limit:
        yield


def test_cg_ours(benchmark, problem):
    instance, _, b = problem
    x = np.zeros_like(b)
    timer = PhaseTimer(FEA.phases)

    def solve():
        return instance.solve(b, x, timer)

    iterations, _ = benchmark.pedantic(solve, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert iterations == ITERATIONS
    _report(benchmark, "ours")
    checks.fom(benchmark, "fea", _per_iteration["ours"] * 1e3, f"ms per CG iteration ({SIZE})")


def test_cg_scipy(benchmark, problem, capsys):
    _, matrix, b = problem
    counted = []

    def solve():
        counted.clear()
        return spla.cg(matrix, b, rtol=1e-30, atol=0.0, maxiter=ITERATIONS,
                       callback=lambda _: counted.append(1))

    benchmark.pedantic(solve, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    assert len(counted) == ITERATIONS
    _report(benchmark, "scipy")
    if "ours" in _per_iteration:
        ratio = _per_iteration["ours"] / _per_iteration["scipy"]
        benchmark.extra_info["ratio_ours_to_scipy"] = ratio
        check = checks.record(benchmark, "fea CG time per iteration, ours / scipy", ratio, "<=",
                              1.0, "alternative", f"size={SIZE}")
        with capsys.disabled():
            print(f"\nFEA CG at {SIZE}, 1 rank, median per iteration: ours "
                  f"{_per_iteration['ours'] * 1e3:.2f} ms, scipy "
                  f"{_per_iteration['scipy'] * 1e3:.2f} ms, ratio {ratio:.3f}\n  "
                  f"{checks.line(check)}")
