"""``fea``: the FEA batch family — file-I/O bound solve-and-write.

−∇²u = f on the unit cube, u = 0 on the boundary, n×n×n trilinear (hex8) elements with 2×2×2
Gauss quadrature (``kernels/fea.py``); the (n − 1)³ interior unknowns are split over the ranks
in boxes of a 3D process grid (``harness/decomposition/box.py``). One repetition is one batch
job:

1. ``assemble``: every rank assembles the CSR rows it owns (halo columns for the layer of
   nodes around its box). The matrix is rebuilt in every repetition — a batch job starts from the
   mesh — and the load vector of each load case is assembled before its solve, also under
   ``assemble``.
2. for each of ``cases`` load cases, one after another, reusing the matrix: conjugate gradient
   from x = 0 to a relative residual ``tol`` (or ``maxiter`` iterations) — ``compute`` (fused
   Numba kernels), ``halo`` (the halo layer of the search direction — faces, edges and
   corners of the box, up to 26 neighbours — before each product),
   ``reduce`` (the two dot products per iteration);
3. ``io``: the solution is written to the run's scratch directory for real, in the variant's
   pattern, overwriting the same file names each repetition. The phase ends at a barrier, so
   time spent waiting for the writer (rank 0 in ``gather``) is charged to ``io`` rather than to
   the next halo or reduction.

Files (float64, native byte order, interior nodes in global order ``(k·m + j)·m + i``,
m = n − 1, x fastest): ``gather`` and ``mpiio`` write ``fea-case<NNN>.f64`` holding all m³
values; ``per-rank`` writes ``fea-case<NNN>-rank<RRRRR>.f64`` holding rank R's box, x fastest
within the box, the box being :func:`harness.decomposition.box.box_layout` (m, ranks, R, dims)
with dims = ``MPI.Compute_dims(ranks, 3)`` (recorded in the run's ``work``).

Load case c has the manufactured solution u = G_a(x)·G_b(y)·G_c(z), G_w(t) = (1 + t)·sin(wπt),
with (a, b, c) = (1 + c mod 3, 1 + ⌊c/3⌋ mod 3, 1 + ⌊c/9⌋ mod 3) — not an eigenvector of the
discrete operator, so CG needs its full ~2n iterations. Verification: every load case's CG
converged; the max nodal error, divided by π²(a² + b² + c²)·h², is at most ``ERROR_CONSTANT``
(second order: the observed constant is 0.12–0.36 for n from 8 to 32 and every (a, b, c), at
most 0.42 on coarser meshes); and a checksum — sum and L2 norm of all load cases' solutions —
accumulated exactly (``kernels/exactsum.py``) and rounded once, so that it does not depend on
the rank count (stated tolerance ``CHECKSUM_TOLERANCE`` relative; by construction it is the same
bits, as are the CG iterates: every dot product is reduced the same way).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.decomposition import box as boxes
from harness.decomposition import boxio, collectives
from harness.errors import ParameterError
from harness.timing import PhaseTimer
from harness.workloads import fea_costs
from harness.workloads.base import FOM, Instance, Param, PhaseCost, Verification, Workload
from kernels import exactsum, halo3d
from kernels import fea as kernel

ERROR_CONSTANT = 0.6  # max nodal error ≤ 0.6·π²(a²+b²+c²)·h²
#: the phases of a CG solve (the rest of a repetition is assembly and file I/O)
CG_PHASES = ("compute", "halo", "reduce")
CHECKSUM_TOLERANCE = 1e-10  # relative, between rank counts
_INT32 = 2**31


def wave_numbers(load_case: int) -> tuple[int, int, int]:
    """(a, b, c) of load case ``load_case``: 27 distinct triples in {1, 2, 3}³, then repeating."""
    return 1 + load_case % 3, 1 + (load_case // 3) % 3, 1 + (load_case // 9) % 3


def solution_path(workdir: Path, variant: str, load_case: int, rank: int = 0) -> Path:
    """File that holds load case ``load_case`` (of ``rank``, for ``per-rank``)."""
    if variant == "per-rank":
        return Path(workdir) / f"fea-case{load_case:03d}-rank{rank:05d}.f64"
    return Path(workdir) / f"fea-case{load_case:03d}.f64"


class FEA(Workload):
    name = "fea"
    description = "3D Poisson, hex8 FE, CG on CSR boxes, a batch of solves written to disk"
    variants = ("gather", "per-rank", "mpiio")
    deterministic_variants = ("gather", "per-rank", "mpiio")
    fixed_work = ("unknowns", "nnz")
    phases = ("assemble", "compute", "halo", "reduce", "io")
    checksum_rtol = CHECKSUM_TOLERANCE
    writes_files = True
    params = (
        Param("n", int, "elements per side of the unit cube", minimum=2),
        Param("cases", int, "load cases solved per repetition", positive=True),
        Param("tol", float, "CG relative residual to stop at, in (0, 1)", positive=True),
        Param("maxiter", int, "CG iteration cap per load case", positive=True),
        Param("fsync", int, "1: fsync every file before the io phase ends; 0: leave it to the OS",
              minimum=0),
    )
    _common = {"tol": 1e-8, "maxiter": 10000, "fsync": 0}
    sizes = {
        "tiny": {"n": 16, "cases": 2, **_common},
        "small": {"n": 32, "cases": 4, **_common},
        "medium": {"n": 64, "cases": 4, **_common},
        # 127³ unknowns, 54 M non-zeros: the CSR alone is ~650 MB, far past any cache
        "large": {"n": 128, "cases": 4, **_common},
    }

    def weak_scale(self, params: dict[str, Any], ranks: int) -> dict[str, Any]:
        scaled = dict(params)
        scaled["n"] = round(params["n"] * ranks ** (1.0 / 3.0))
        return scaled

    def validate(self, params: dict[str, Any], variant: str, ranks: int) -> None:
        n = params["n"]
        m = n - 1
        try:
            boxes.check_grid(m, ranks)
        except ValueError:
            need = boxes.largest_grid_dim(ranks)
            raise ParameterError(
                f"n={n} gives {m} interior nodes per axis, fewer than the {need} ranks along "
                f"one axis of the 3D process grid of {ranks} ranks; use n >= {need + 1}"
            ) from None
        if params["tol"] >= 1:
            raise ParameterError(f"tol={params['tol']} must be in (0, 1)")
        if params["fsync"] not in (0, 1):
            raise ParameterError(f"fsync={params['fsync']} must be 0 or 1")
        lx, ly, lz = boxes.box_layout(m, ranks, 0).extents  # rank 0 holds the largest box
        if (lx + 2) * (ly + 2) * (lz + 2) >= _INT32 or lx * ly * lz > exactsum.MAX_TERMS:
            raise ParameterError(
                f"n={n} on {ranks} ranks puts over 2^30 unknowns in one box; use more ranks"
            )

    def memory_per_rank(self, params: dict[str, Any], variant: str, ranks: int,
                        rank: int = 0) -> int:
        """Bytes of :class:`FEAInstance`'s arrays on ``rank``: CSR (8 B per row pointer, 12 B per
        non-zero), the load cases' solutions, b, r, q and verify's exact-solution scratch (owned), p
        (extended), the halo buffers and, on rank 0 with ``gather``, two m³ buffers. Boxes from
        :func:`harness.decomposition.box.balanced_dims`; rank 0's is the largest.
        """
        m = params["n"] - 1
        return _instance_bytes(m, boxes.box_layout(m, ranks, rank), params["cases"], variant)

    def costs(self, params: dict[str, Any], variant: str, ranks: int) -> dict[str, PhaseCost]:
        """Per repetition, each phase for its busiest rank (:mod:`harness.workloads.fea_costs`),
        with the CG iterations estimated (:func:`~harness.workloads.fea_costs.estimated_iterations`;
        :func:`~harness.workloads.fea_costs.phase_costs` takes measured ones). K = CG iterations
        summed over the load cases, N = rows (unknowns) of the box, Z its non-zeros, E its
        extended length (box and ghost layer).

        ``assemble``: items = N·(1 + cases) rows (the matrix, then each load vector); bytes =
        the CSR (12 B per non-zero, 8 per row pointer) and load vectors written; flops not
        counted (index arithmetic dominates).
        ``compute``: items = N·K (matrix rows × CG iterations), flops = (2Z + 10N)·K as in
        ``work()`` (the start of each solve — x = 0, r = b, ‖b‖² — not counted), bytes =
        (12Z + 8E + 88N)·K (the product reads the CSR and p and writes q; x += αp, r −= αq
        read four vectors and write two; p = r + βp reads two and writes one).
        ``halo``: per iteration one message to each neighbouring box (faces, edges, corners
        that exist: boxes on the boundary have fewer), carrying the owned layer next to it;
        bytes = packing and unpacking.
        ``reduce``: one allreduce of an exact accumulator (8·68 B) per case, two per iteration.
        ``io``: ``gather``: rank 0 writes all 8·m³ bytes per case after a ``Gatherv`` (a
        reduction of 8·m³ bytes) and a barrier; ``per-rank`` and ``mpiio``: rank 0 writes its
        box (the largest) and waits in the barrier.

        Raises
        ------
        ValueError
            When ``ranks < 1``, or a box would be empty (m < the grid's largest dimension).
        """
        return fea_costs.phase_costs(params, variant, ranks)

    def precompile(self) -> None:
        kernel.precompile()
        halo3d.precompile()
    def setup(self, comm: Any, params: dict[str, Any], variant: str, workdir: Path) -> Instance:
        """The instance, on a duplicate of ``comm`` that its :meth:`~Instance.close` frees.
        Collective."""
        return FEAInstance(comm.Dup(), params, variant, Path(workdir))


class FEAInstance(Instance):
    def __init__(self, comm: Any, params: dict[str, Any], variant: str, workdir: Path):
        self.comm = comm
        self.params = params
        self.variant = variant
        self.workdir = workdir
        self.m = m = params["n"] - 1
        try:
            self.layout = lay = boxes.layout_of(comm, m)
        except ValueError as e:  # only if this MPI's grid is less balanced than validate assumed
            raise ParameterError(f"n={params['n']}: {e}") from None
        self.box = lay.box
        self.lx, self.ly, self.lz = lay.extents
        self.halo = boxes.HaloExchange(comm, lay)
        self.writer = boxio.BoxWriter(comm, lay, variant)
        self.nnz = kernel.local_nnz(m, lay.box)
        self.nnz_global = kernel.local_nnz(m, (0, m, 0, m, 0, m))
        self.rowptr = np.zeros(lay.rows + 1, dtype=np.int64)
        self.cols = np.zeros(self.nnz, dtype=np.int32)
        self.vals = np.zeros(self.nnz)
        cases = params["cases"]
        self.solutions = np.zeros((cases, lay.rows))
        self.b = np.zeros(lay.rows)
        self.r = np.zeros(lay.rows)
        self.q = np.zeros(lay.rows)
        self.p = np.zeros(lay.extended)  # the box and a halo layer around it
        self.acc = exactsum.new_accumulator()
        self.load_case_iterations = [0] * cases
        self.residuals = [math.inf] * cases

    def reset(self) -> None:
        self.solutions[:] = 0.0
        self.load_case_iterations = [0] * self.params["cases"]
        self.residuals = [math.inf] * self.params["cases"]
        self.iterations = 0

    def _dot_total(self) -> float:
        """The exact global sum of the terms in ``self.acc``; clears it for the next dot."""
        total = boxes.exact_total(self.comm, self.acc)
        self.acc[:] = 0
        return total

    def solve(self, b: np.ndarray, x: np.ndarray, timer: PhaseTimer) -> tuple[int, float]:
        """CG for A·x = b from x = 0; returns (iterations, final relative residual)."""
        wtime = timer.clock
        lx, ly, lz = self.lx, self.ly, self.lz
        r, p, q, acc = self.r, self.p, self.q, self.acc
        rowptr, cols, vals = self.rowptr, self.cols, self.vals
        tol, maxiter = self.params["tol"], self.params["maxiter"]
        compute = halo = reduce = 0.0
        t0 = wtime()
        x[:] = 0.0
        r[:] = b
        kernel.update_direction(p, b, 0.0, lx, ly, lz)
        acc[:] = 0
        exactsum.accumulate_dot(r, r, acc)
        t1 = wtime()
        rr = self._dot_total()
        t2 = wtime()
        compute += t1 - t0
        reduce += t2 - t1
        norm_b = math.sqrt(rr)
        stop = tol * norm_b
        iterations = 0
        while math.sqrt(rr) > stop and iterations < maxiter:
            t0 = wtime()
            self.halo.exchange(p)
            t1 = wtime()
            kernel.spmv_dot(rowptr, cols, vals, p, q, lx, ly, lz, acc)
            t2 = wtime()
            pq = self._dot_total()
            t3 = wtime()
            alpha = rr / pq
            kernel.update_solution(x, r, p, q, alpha, lx, ly, lz, acc)
            t4 = wtime()
            rr_new = self._dot_total()
            t5 = wtime()
            iterations += 1
            beta = rr_new / rr
            rr = rr_new
            if math.sqrt(rr) > stop:
                kernel.update_direction(p, r, beta, lx, ly, lz)
            t6 = wtime()
            halo += t1 - t0
            compute += (t2 - t1) + (t4 - t3) + (t6 - t5)
            reduce += (t3 - t2) + (t5 - t4)
        timer.add("compute", compute)
        timer.add("halo", halo)
        timer.add("reduce", reduce)
        return iterations, (math.sqrt(rr) / norm_b if norm_b > 0 else 0.0)

    def write(self, load_case: int, x: np.ndarray) -> None:
        """Write one load case's solution in the variant's pattern (collective)."""
        path = solution_path(self.workdir, self.variant, load_case, self.layout.rank)
        self.writer.write(path, x, bool(self.params["fsync"]))
        boxes.barrier(self.comm)

    def close(self) -> None:
        self.halo.free()
        self.writer.free()
        self.comm.Free()

    def assemble(self) -> None:
        """Integrate the element matrix and assemble this rank's CSR rows in place."""
        ke = kernel.element_stiffness(1.0 / self.params["n"])
        kernel.assemble_rows(self.m, self.box, ke, self.rowptr, self.cols, self.vals)

    def run(self, timer: PhaseTimer) -> None:
        with timer("assemble"):
            self.assemble()
        for load_case in range(self.params["cases"]):
            a, b, c = wave_numbers(load_case)
            with timer("assemble"):
                kernel.assemble_load(self.m, self.box, float(a), float(b), float(c), self.b)
            x = self.solutions[load_case]
            self.load_case_iterations[load_case], self.residuals[load_case] = self.solve(
                self.b, x, timer)
            with timer("io"):
                self.write(load_case, x)
        self.iterations = sum(self.load_case_iterations)

    def checksum(self) -> dict[str, float]:
        """Sum and L2 norm over every load case's solution, each accumulated exactly over all
        load cases and ranks and rounded once: the same on every rank and at any rank count.
        Collective."""
        accs = np.zeros((2, exactsum.LIMBS), dtype=np.int64)
        for x in self.solutions:
            exactsum.accumulate(x, accs[0])
            exactsum.accumulate_dot(x, x, accs[1])
        total, squares = boxes.exact_totals(self.comm, accs)
        return {"sum": float(total), "l2": float(math.sqrt(squares))}

    def errors(self) -> np.ndarray:
        """Per load case: max nodal |x − u| / (π²(a²+b²+c²)h²), the observed second-order constant.
        Collective; the same on every rank."""
        h = 1.0 / self.params["n"]
        exact = np.empty(self.layout.rows)
        local = np.zeros(self.params["cases"])
        for load_case, x in enumerate(self.solutions):
            a, b, c = wave_numbers(load_case)
            kernel.exact_solution(self.m, self.box, float(a), float(b), float(c), exact)
            scale = math.pi ** 2 * (a * a + b * b + c * c) * h * h
            local[load_case] = float(np.max(np.abs(x - exact))) / scale
        return boxes.elementwise_max(self.comm, local)

    def verify(self) -> Verification:
        errors = self.errors()
        checksum = self.checksum()
        tol = self.params["tol"]
        converged = all(res <= tol for res in self.residuals)
        error = float(np.max(errors))
        passed = converged and error <= ERROR_CONSTANT and all(
            math.isfinite(v) for v in checksum.values())
        method = (
            f"CG converged in every case ({'yes' if converged else 'NO'}: relative residuals "
            f"{max(self.residuals):.2e} vs tol {tol:g}); max nodal error vs the manufactured "
            f"prod (1+t)sin(w pi t) over x, y, z, divided by pi^2(a^2+b^2+c^2)h^2 (second order, "
            f"bound {ERROR_CONSTANT}); checksum of all cases accumulated exactly and rounded once "
            f"(equal across rank counts to {CHECKSUM_TOLERANCE:g} relative)"
        )
        result = Verification(passed=bool(passed), method=method, checksum=checksum,
                              error=error, tolerance=ERROR_CONSTANT)
        return collectives.broadcast(self.comm, result)

    def flops_per_iteration(self) -> int:
        """2·nnz (SpMV) + 4·N (two dots) + 6·N (x += αp, r −= αq, p = r + βp), N unknowns."""
        return 2 * self.nnz_global + 10 * self.m ** 3

    def foms(self, seconds: float, phases: dict[str, dict[str, float]] | None = None
             ) -> list[FOM]:
        """CG MFLOP/s over the time spent in CG (compute, halo and reduce: the ranks' mean, as
        every CG iteration synchronizes them), so assembly and file writes do not dilute it;
        load cases/s over the whole repetition."""
        flops = self.flops_per_iteration() * self.iterations
        ok = seconds > 0
        cg_seconds = (sum(phases[name]["mean"] for name in CG_PHASES) if phases
                      else seconds)
        return [
            FOM("CG MFLOP/s", "MFLOP/s", flops / cg_seconds / 1e6 if cg_seconds > 0
                else math.nan),
            FOM("load cases/s", "load cases/s",
                self.params["cases"] / seconds if ok else math.nan),
        ]

    def work(self) -> dict[str, Any]:
        return {
            "unknowns": self.m ** 3,
            "nnz": self.nnz_global,
            "flops_per_iteration": self.flops_per_iteration(),
            "flops_per_iteration_formula": "2*nnz (SpMV) + 4*N (two dots) + 6*N (three updates)",
            "iterations_are": "CG iterations summed over the load cases of one repetition",
            "cg_iterations_per_case": list(self.load_case_iterations),
            "relative_residuals": list(self.residuals),
            "bytes_written_per_repetition": 8 * self.m ** 3 * self.params["cases"],
            "fom_time_base": "the whole repetition (assembly and I/O included)",
            "process_grid": list(self.layout.dims),
            "box_of_rank0": list(boxes.box_of(self.m, self.layout.dims, (0, 0, 0))),
        }


def _instance_bytes(m: int, lay: boxes.BoxLayout, cases: int, variant: str) -> int:
    """Bytes of :class:`FEAInstance`'s arrays for the box of ``lay`` (``FEA.memory_per_rank``)."""
    rows = lay.rows
    nnz = kernel.local_nnz(m, lay.box)
    halo = 2 * boxes.halo_doubles(lay)  # send and receive buffers
    total = 8 * (rows + 1) + 12 * nnz  # CSR
    total += 8 * rows * (cases + 4)  # solutions, b, r, q, exact-solution scratch
    total += 8 * lay.extended + 8 * halo
    if variant == "gather" and lay.rank == 0:
        total += 2 * 8 * m ** 3
    return total
