"""Work and communication of the ``fea`` workload per phase, from the parameters alone.

The counts follow :class:`harness.workloads.fea.FEAInstance` step by step on the boxes of
:func:`harness.decomposition.box.box_layout` (grid :func:`~harness.decomposition.box.balanced_dims`,
the grid ``MPI.Compute_dims`` gives for every count up to 2,500 but 360 under MPICH). Each phase
names its own busiest rank: the box with the most non-zeros (``assemble``, ``compute``), the
most ghost bytes (``halo``: an inner box, with up to 26 neighbours), rank 0 (``io``: the largest
box, and the writer of ``gather``).

Only the CG iteration count is not a function of the parameters that can be had without solving:
:func:`estimated_iterations` states it, and :func:`phase_costs` takes measured counts instead
(a run records them in ``work["cg_iterations_per_case"]``).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from harness.decomposition import box as boxes
from harness.workloads.base import PhaseCost
from kernels import exactsum
from kernels import fea as kernel

#: mean CG iterations per load case ≈ CG_CONSTANT · n · ln(2/tol): the form of the classical
#: bound ½·√κ·ln(2/tol) with √κ ∝ n for the Laplacian (Saad, *Iterative Methods for Sparse
#: Linear Systems*, 2nd ed., §6.11.3); the constant measured on this problem (load cases 0–26,
#: n = 8–32, tol 1e-4 and 1e-8: 0.084–0.108), the bound's own ½·cot(π/2n) ≈ n/π being 3–5x high
CG_CONSTANT = 0.1
#: bytes per reduction: one exact accumulator, int64[LIMBS]
REDUCTION_BYTES = 8 * exactsum.LIMBS


def estimated_iterations(params: dict[str, Any]) -> list[int]:
    """CG iterations of each load case (ints, length ``cases``): ⌈CG_CONSTANT·n·ln(2/tol)⌉,
    capped at ``maxiter``. An estimate (cases differ by ±25 % around it)."""
    each = math.ceil(CG_CONSTANT * params["n"] * math.log(2.0 / params["tol"]))
    return [min(params["maxiter"], max(1, each))] * params["cases"]


def _candidates(m: int, ranks: int) -> list[boxes.BoxLayout]:
    """Layouts that dominate every other: grid coordinate 0 or 1 along each axis (coordinate 1
    has the largest extent among inner boxes, 0 among the boxes at either end)."""
    dims = boxes.balanced_dims(ranks)
    out = []
    for coords in itertools.product(*[range(min(d, 2)) for d in dims]):
        rank = (coords[0] * dims[1] + coords[1]) * dims[2] + coords[2]
        out.append(boxes.box_layout(m, ranks, rank, dims))
    return out


def phase_costs(params: dict[str, Any], variant: str, ranks: int,
                iterations: list[int] | None = None) -> dict[str, PhaseCost]:
    """Costs per phase per repetition (see :meth:`harness.workloads.fea.FEA.costs`), with the
    CG iterations of each load case given (``iterations``, length ``cases``) or estimated.

    Raises
    ------
    ValueError
        When ``iterations`` does not hold one count per load case.
    """
    cases, m = params["cases"], params["n"] - 1
    its = estimated_iterations(params) if iterations is None else [int(k) for k in iterations]
    if len(its) != cases:
        raise ValueError(f"{len(its)} iteration counts for {cases} load cases")
    total = sum(its)
    layouts = _candidates(m, ranks)
    heavy = max(layouts, key=lambda lay: (kernel.local_nnz(m, lay.box), lay.rows))
    nnz, rows, ext = kernel.local_nnz(m, heavy.box), heavy.rows, heavy.extended
    halo = max(layouts, key=lambda lay: (boxes.halo_doubles(lay),
                                         len(boxes.neighbour_offsets(lay))))
    ghosts, links = boxes.halo_doubles(halo), len(boxes.neighbour_offsets(halo))
    first = boxes.box_layout(m, ranks, 0, boxes.balanced_dims(ranks))
    reductions = cases + 2 * total
    return {
        "assemble": PhaseCost(items=rows * (1 + cases),
                              bytes=12 * nnz + 8 * (rows + 1) + 8 * rows * cases),
        "compute": PhaseCost(items=rows * total, flops=(2 * nnz + 10 * rows) * total,
                             bytes=(12 * nnz + 8 * ext + 88 * rows) * total),
        "halo": PhaseCost(messages=links * total, message_bytes=8 * ghosts * total,
                          bytes=32 * ghosts * total, neighbours=links),
        "reduce": PhaseCost(reductions=reductions, reduction_bytes=REDUCTION_BYTES * reductions),
        "io": _io(variant, m, first.rows, cases),
    }


def _io(variant: str, m: int, rows: int, cases: int) -> PhaseCost:
    whole = 8 * m ** 3
    if variant == "gather":
        # a Gatherv of every box to rank 0 and a barrier per case; rank 0 places the boxes
        # (one read and one write of m³ doubles) and writes them all
        return PhaseCost(bytes=2 * whole * cases, reductions=2 * cases,
                         reduction_bytes=whole * cases, io_bytes=whole * cases, serial=True)
    # per-rank and mpiio: each rank writes its own box; a barrier per case (the collective
    # open, view, write and close of mpiio are MPI-IO's and not counted)
    return PhaseCost(reductions=cases, io_bytes=8 * rows * cases)
