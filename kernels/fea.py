"""FEA kernel: trilinear (hex8) finite elements for −∇²u = f on the unit cube, and CG pieces.

The mesh has n×n×n cubic elements of side h = 1/n; nodes sit at (I·h, J·h, K·h) for
I, J, K ∈ [0, n]. Dirichlet nodes (on the boundary) are eliminated, so the unknowns are the
m³ interior nodes, m = n − 1, numbered ``(k·m + j)·m + i`` with interior indices i, j, k ∈ [0, m)
(node I = i + 1) — x fastest, z slowest, so an interior *plane* k is m² contiguous unknowns.

A rank owns the rows of planes [p0, p1). Its vectors that feed a product with the matrix (the CG
search direction) are *extended*: one ghost plane below and one above the owned planes, so the
column of node (i, j, k) in the rank's CSR is ``(k − p0 + 1)·m² + j·m + i``. Every other vector
holds the owned planes only.

Determinism: every reduction here produces one partial sum *per plane*, accumulated in row order.
A plane's rows, their columns and values are the same whichever rank owns the plane, so those
partials — and with them the whole CG run — do not depend on how planes are split over ranks.

Kernels take only arrays and numbers; the ghost exchange and the reductions across ranks live in
``harness/decomposition/slab.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, uint32, uint64

# 2-point Gauss–Legendre rule on [−1, 1]: points ±1/√3, weights 1
GAUSS_POINT = 1.0 / math.sqrt(3.0)


@njit(cache=True)
def element_stiffness(h):  # pragma: no cover - compiled
    """8×8 stiffness ∫ ∇φa·∇φb of a cube of side h, by 2×2×2 Gauss quadrature.

    Local node a = ax + 2·ay + 4·az sits at the corner (ax, ay, az)·h of the element.
    """
    g = 1.0 / math.sqrt(3.0)
    ke = np.zeros((8, 8))
    grad = np.empty((8, 3))
    scale = (h / 2.0) ** 3 * (2.0 / h) ** 2  # det J times (dξ/dx)²; weights are 1
    for gz in range(2):
        for gy in range(2):
            for gx in range(2):
                xi = (2 * gx - 1) * g
                eta = (2 * gy - 1) * g
                zeta = (2 * gz - 1) * g
                for a in range(8):
                    sx = 2.0 * (a & 1) - 1.0
                    sy = 2.0 * ((a >> 1) & 1) - 1.0
                    sz = 2.0 * ((a >> 2) & 1) - 1.0
                    grad[a, 0] = sx * (1.0 + sy * eta) * (1.0 + sz * zeta) / 8.0
                    grad[a, 1] = sy * (1.0 + sx * xi) * (1.0 + sz * zeta) / 8.0
                    grad[a, 2] = sz * (1.0 + sx * xi) * (1.0 + sy * eta) / 8.0
                for a in range(8):
                    for b in range(8):
                        ke[a, b] += scale * (grad[a, 0] * grad[b, 0] + grad[a, 1] * grad[b, 1]
                                             + grad[a, 2] * grad[b, 2])
    return ke


def local_nnz(m: int, p0: int, p1: int) -> int:
    """Non-zeros in the rows of planes [p0, p1): 27-point coupling minus the boundary."""
    if not 0 <= p0 < p1 <= m:
        raise ValueError(f"planes [{p0}, {p1}) are not a non-empty part of [0, {m})")
    per = np.full(m, 3, dtype=np.int64)  # neighbours (incl. itself) along one axis
    per[0] -= 1
    per[-1] -= 1
    if m == 1:
        per[0] = 1
    return int(per.sum() ** 2 * per[p0:p1].sum())


@njit(cache=True)
def assemble_rows(m, p0, p1, ke, rowptr, cols, vals):  # pragma: no cover - compiled
    """Fill the CSR rows of planes [p0, p1) with the element contributions ``ke``.

    Row-wise (gather) assembly: the entry (P, Q) of neighbouring nodes is the sum of
    ke[aP, aQ] over the (1, 2, 4 or 8) elements that hold both, taken in a fixed order. Columns
    come out sorted: neighbours are visited with dz, dy, dx ascending. ``rowptr`` must have
    (p1 − p0)·m² + 1 entries, ``cols``/``vals`` :func:`local_nnz` entries.
    """
    plane = m * m
    pos = 0
    row = 0
    rowptr[0] = 0
    for k in range(p0, p1):
        for j in range(m):
            for i in range(m):
                for dk in range(-1, 2):
                    kk = k + dk
                    if kk < 0 or kk >= m:
                        continue
                    for dj in range(-1, 2):
                        jj = j + dj
                        if jj < 0 or jj >= m:
                            continue
                        for di in range(-1, 2):
                            ii = i + di
                            if ii < 0 or ii >= m:
                                continue
                            value = 0.0
                            # element corner offsets s ∈ {0, 1}: element = node − s per axis;
                            # both nodes lie in it iff s − d ∈ {0, 1} too
                            for sz in range(2):
                                tz = sz + dk
                                if tz < 0 or tz > 1:
                                    continue
                                for sy in range(2):
                                    ty = sy + dj
                                    if ty < 0 or ty > 1:
                                        continue
                                    for sx in range(2):
                                        tx = sx + di
                                        if tx < 0 or tx > 1:
                                            continue
                                        value += ke[sx + 2 * sy + 4 * sz, tx + 2 * ty + 4 * tz]
                            cols[pos] = (kk - p0 + 1) * plane + jj * m + ii
                            vals[pos] = value
                            pos += 1
                row += 1
                rowptr[row] = pos
    return pos


@njit(cache=True)
def assemble_load(m, p0, p1, a, b, c, out):  # pragma: no cover - compiled
    """Load vector ∫ f φ for the manufactured solution u = G_a(x)·G_b(y)·G_c(z), rows of [p0, p1).

    G_w(t) = (1 + t)·sin(wπt), so f = −∇²u = F_a(x)G_b(y)G_c(z) + G_a(x)F_b(y)G_c(z)
    + G_a(x)G_b(y)F_c(z) with F_w(t) = −G_w''(t) = (wπ)²(1 + t)·sin(wπt) − 2wπ·cos(wπt).
    Element by element, f at the 2×2×2 Gauss points of every element that touches an owned
    plane, scattered to its owned interior nodes (each node takes its 8 elements in a fixed
    order, so the result does not depend on p0, p1). ``out`` is overwritten.
    """
    n = m + 1
    h = 1.0 / n
    g = 1.0 / math.sqrt(3.0)
    jac = (h / 2.0) ** 3  # det J; the Gauss weights are 1
    # shape[gp, node] along one axis: node 0 or 1 of an element at Gauss point gp
    shape = np.empty((2, 2))
    for q in range(2):
        t = (1.0 + (2 * q - 1) * g) / 2.0
        shape[q, 0] = 1.0 - t
        shape[q, 1] = t
    # G and F at the two Gauss points of element e along each axis: [axis, e, gp]
    waves = np.array([a, b, c])
    gg = np.empty((3, n, 2))
    ff = np.empty((3, n, 2))
    for d in range(3):
        w = waves[d] * math.pi
        for e in range(n):
            for q in range(2):
                t = (e + (1.0 + (2 * q - 1) * g) / 2.0) * h
                gg[d, e, q] = (1.0 + t) * math.sin(w * t)
                ff[d, e, q] = w * w * (1.0 + t) * math.sin(w * t) - 2.0 * w * math.cos(w * t)
    out[:] = 0.0
    plane = m * m
    fq = np.empty(8)
    for ez in range(p0, p1 + 1):  # elements between node planes K = ez and ez + 1
        for ey in range(n):
            for ex in range(n):
                for q in range(8):
                    qx, qy, qz = q & 1, (q >> 1) & 1, (q >> 2) & 1
                    gx, gy, gz = gg[0, ex, qx], gg[1, ey, qy], gg[2, ez, qz]
                    fq[q] = jac * (ff[0, ex, qx] * gy * gz + gx * ff[1, ey, qy] * gz
                                   + gx * gy * ff[2, ez, qz])
                for node in range(8):
                    ax, ay, az = node & 1, (node >> 1) & 1, (node >> 2) & 1
                    i = ex + ax - 1
                    j = ey + ay - 1
                    k = ez + az - 1
                    if i < 0 or i >= m or j < 0 or j >= m or k < p0 or k >= p1:
                        continue
                    s = 0.0
                    for q in range(8):
                        qx, qy, qz = q & 1, (q >> 1) & 1, (q >> 2) & 1
                        s += fq[q] * shape[qx, ax] * shape[qy, ay] * shape[qz, az]
                    out[(k - p0) * plane + j * m + i] += s


@njit(cache=True)
def exact_solution(m, p0, p1, a, b, c, out):  # pragma: no cover - compiled
    """u = G_a(x)·G_b(y)·G_c(z), G_w(t) = (1 + t)·sin(wπt), at the interior nodes of [p0, p1)."""
    h = 1.0 / (m + 1)
    plane = m * m
    for k in range(p0, p1):
        z = (k + 1) * h
        uz = (1.0 + z) * math.sin(c * math.pi * z)
        for j in range(m):
            y = (j + 1) * h
            uy = (1.0 + y) * math.sin(b * math.pi * y) * uz
            for i in range(m):
                x = (i + 1) * h
                out[(k - p0) * plane + j * m + i] = (1.0 + x) * math.sin(a * math.pi * x) * uy


# The CG kernels index through unsigned integers: Numba must otherwise check every signed index
# for a negative (wrap-around) value, which doubles the time of the sparse product.


@njit(cache=True)
def spmv_dot(rowptr, cols, vals, p, q, plane, partial, p0):  # pragma: no cover - compiled
    """q = A·p (p extended by ghost planes, q owned) and partial[p0 + k] = Σ p·q over plane k."""
    owned = uint64(plane)
    for k in range(q.size // plane):
        acc = 0.0
        for t in range(plane):
            r = uint64(k * plane + t)
            start = rowptr[r]
            s = 0.0
            for e in range(rowptr[r + uint64(1)] - start):
                jj = uint64(start + e)
                s += vals[jj] * p[uint32(cols[jj])]
            q[r] = s
            acc += p[owned + r] * s
        partial[p0 + k] = acc


@njit(cache=True)
def update_solution(x, r, p, q, alpha, plane, partial, p0):  # pragma: no cover - compiled
    """x += α·p, r −= α·q (p extended), and partial[p0 + k] = Σ r·r over plane k."""
    owned = uint64(plane)
    for k in range(x.size // plane):
        acc = 0.0
        base = uint64(k * plane)
        for t in range(plane):
            i = base + uint64(t)
            x[i] += alpha * p[owned + i]
            ri = r[i] - alpha * q[i]
            r[i] = ri
            acc += ri * ri
        partial[p0 + k] = acc


@njit(cache=True)
def update_direction(p, r, beta, plane):  # pragma: no cover - compiled
    """p = r + β·p on the owned planes of the extended p."""
    owned = uint64(plane)
    for t in range(r.size):
        i = uint64(t)
        p[owned + i] = r[i] + beta * p[owned + i]


@njit(cache=True)
def plane_dots(u, v, plane, partial, p0):  # pragma: no cover - compiled
    """partial[p0 + k] = Σ u·v over plane k (u, v owned)."""
    for k in range(u.size // plane):
        acc = 0.0
        for i in range(k * plane, (k + 1) * plane):
            acc += u[i] * v[i]
        partial[p0 + k] = acc


@njit(cache=True)
def ordered_sum(values):  # pragma: no cover - compiled
    """Σ values, left to right (a fixed order, unlike a pairwise or vectorized sum)."""
    s = 0.0
    for v in values:
        s += v
    return s


def assemble_matrix(m: int, p0: int = 0, p1: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR ``(rowptr, cols, vals)`` of the rows of planes [p0, p1) (default: all), ghost columns.

    Raises
    ------
    ValueError
        When ``m < 1`` or the plane range is empty or outside [0, m).
    """
    if m < 1:
        raise ValueError(f"m={m}: need at least one interior node per side")
    p1 = m if p1 is None else p1
    nnz = local_nnz(m, p0, p1)
    rowptr = np.empty((p1 - p0) * m * m + 1, dtype=np.int64)
    cols = np.empty(nnz, dtype=np.int32)
    vals = np.empty(nnz)
    assemble_rows(m, p0, p1, element_stiffness(1.0 / (m + 1)), rowptr, cols, vals)
    return rowptr, cols, vals


def load_vector(m: int, wave: tuple[int, int, int], p0: int = 0, p1: int | None = None
                ) -> np.ndarray:
    """Load vector of the manufactured solution with wave numbers ``wave`` on planes [p0, p1).

    Raises
    ------
    ValueError
        When ``m < 1`` or the plane range is empty or outside [0, m).
    """
    p1 = m if p1 is None else p1
    if m < 1 or not 0 <= p0 < p1 <= m:
        raise ValueError(f"m={m}, planes [{p0}, {p1}): need 0 <= p0 < p1 <= m")
    out = np.empty((p1 - p0) * m * m)
    assemble_load(m, p0, p1, *(float(w) for w in wave), out)
    return out


def precompile() -> None:
    """Compile every kernel on a 3×3×3 interior grid (fills the on-disk cache)."""
    m = 3
    rowptr, cols, vals = assemble_matrix(m)
    b = load_vector(m, (1, 1, 1))
    exact = np.empty_like(b)
    exact_solution(m, 0, m, 1.0, 1.0, 1.0, exact)
    plane = m * m
    p = np.zeros(b.size + 2 * plane)
    q = np.empty_like(b)
    x = np.zeros_like(b)
    partial = np.zeros(m)
    spmv_dot(rowptr, cols, vals, p, q, plane, partial, 0)
    update_solution(x, b.copy(), p, q, 0.5, plane, partial, 0)
    update_direction(p, b, 0.5, plane)
    plane_dots(b, b, plane, partial, 0)
    ordered_sum(partial)
