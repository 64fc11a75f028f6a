"""FEA kernel: trilinear (hex8) finite elements for −∇²u = f on the unit cube, and CG pieces.

The mesh has n×n×n cubic elements of side h = 1/n; nodes sit at (I·h, J·h, K·h) for
I, J, K ∈ [0, n]. Dirichlet nodes (on the boundary) are eliminated, so the unknowns are the
m³ interior nodes, m = n − 1, numbered ``(k·m + j)·m + i`` with interior indices i, j, k ∈ [0, m)
(node I = i + 1) — x fastest, z slowest.

A rank owns the rows of a *box* of nodes ``box = (x0, x1, y0, y1, z0, z1)`` (half-open ranges,
int64 tuple), lx = x1 − x0 nodes along x, and so on. Its *owned* vectors (float64, shape
(lz·ly·lx,)) hold the box in the same order, x fastest: owned index ``(kk·ly + jj)·lx + ii``.
Vectors that feed a product with the matrix (the CG search direction) are *extended* by one
halo layer on every side: shape ((lz + 2)·(ly + 2)·(lx + 2),), index
``((kk + 1)·(ly + 2) + jj + 1)·(lx + 2) + ii + 1`` — the column numbering of the rank's CSR
(int32 columns, int64 row pointers). The hex8 coupling reaches the 26 nodes around a node, so
the halo layer's faces, edges and corners are all read.

Determinism: dot products are accumulated *exactly* (``kernels/exactsum.py``) into int64 limb
arrays, which ranks add element-wise; the rounded result is then the same bits whatever the
boxes are. Everything else is elementwise or a row's sum in a fixed column order, so the whole
CG run does not depend on the decomposition.

Kernels take only arrays and numbers; the halo exchange and the reductions across ranks live in
``harness/decomposition/box.py``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, uint32, uint64

from kernels import exactsum
from kernels.exactsum import CHUNK, add_scanned

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


def _axis_neighbours(m: int) -> np.ndarray:
    """Neighbours (itself included) of each interior index along one axis: 3, 2 at the ends."""
    per = np.full(m, 3, dtype=np.int64)
    per[0] -= 1
    per[-1] -= 1
    if m == 1:
        per[0] = 1
    return per


def check_box(m: int, box: tuple[int, int, int, int, int, int]) -> None:
    """Raise ``ValueError`` unless ``box`` = (x0, x1, y0, y1, z0, z1) is a non-empty part of
    the m³ interior nodes."""
    x0, x1, y0, y1, z0, z1 = box
    if m < 1 or not (0 <= x0 < x1 <= m and 0 <= y0 < y1 <= m and 0 <= z0 < z1 <= m):
        raise ValueError(f"box {tuple(box)} is not a non-empty part of [0, {m})^3")


def local_nnz(m: int, box: tuple[int, int, int, int, int, int]) -> int:
    """Non-zeros in the rows of ``box``: the 27-point coupling minus the boundary.

    Raises
    ------
    ValueError
        When the box is empty or outside [0, m)³.
    """
    check_box(m, box)
    x0, x1, y0, y1, z0, z1 = box
    per = _axis_neighbours(m)
    return int(per[x0:x1].sum() * per[y0:y1].sum() * per[z0:z1].sum())


@njit(cache=True)
def assemble_rows(m, box, ke, rowptr, cols, vals):  # pragma: no cover - compiled
    """Fill the CSR rows of ``box`` (int64 6-tuple) with the element contributions ``ke``.

    Row-wise (gather) assembly: the entry (P, Q) of neighbouring nodes is the sum of
    ke[aP, aQ] over the (1, 2, 4 or 8) elements that hold both, taken in a fixed order. Columns
    (extended-box numbering) come out sorted: neighbours are visited with dz, dy, dx ascending.
    ``rowptr`` (int64) must have lx·ly·lz + 1 entries, ``cols`` (int32) and ``vals`` (float64)
    :func:`local_nnz` entries. Returns the number of entries written.
    """
    x0, x1, y0, y1, z0, z1 = box
    ex = x1 - x0 + 2
    ey = y1 - y0 + 2
    pos = 0
    row = 0
    rowptr[0] = 0
    for k in range(z0, z1):
        for j in range(y0, y1):
            for i in range(x0, x1):
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
                            cols[pos] = ((kk - z0 + 1) * ey + (jj - y0 + 1)) * ex + (ii - x0 + 1)
                            vals[pos] = value
                            pos += 1
                row += 1
                rowptr[row] = pos
    return pos


@njit(cache=True)
def assemble_load(m, box, a, b, c, out):  # pragma: no cover - compiled
    """Load vector ∫ f φ for the manufactured solution u = G_a(x)·G_b(y)·G_c(z) on ``box``.

    G_w(t) = (1 + t)·sin(wπt), so f = −∇²u = F_a(x)G_b(y)G_c(z) + G_a(x)F_b(y)G_c(z)
    + G_a(x)G_b(y)F_c(z) with F_w(t) = −G_w''(t) = (wπ)²(1 + t)·sin(wπt) − 2wπ·cos(wπt).
    Element by element, f at the 2×2×2 Gauss points of every element that touches the box,
    scattered to its owned interior nodes (each node takes its 8 elements in lexicographic
    order, so the result does not depend on the box). ``out`` (float64, owned shape) is
    overwritten.
    """
    x0, x1, y0, y1, z0, z1 = box
    lx = x1 - x0
    ly = y1 - y0
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
    fq = np.empty(8)
    # elements between node planes K = ez and ez + 1 touch interior planes k = ez − 1 and ez
    for ez in range(z0, z1 + 1):
        for ey in range(y0, y1 + 1):
            for ex in range(x0, x1 + 1):
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
                    if i < x0 or i >= x1 or j < y0 or j >= y1 or k < z0 or k >= z1:
                        continue
                    s = 0.0
                    for q in range(8):
                        qx, qy, qz = q & 1, (q >> 1) & 1, (q >> 2) & 1
                        s += fq[q] * shape[qx, ax] * shape[qy, ay] * shape[qz, az]
                    out[((k - z0) * ly + (j - y0)) * lx + (i - x0)] += s


@njit(cache=True)
def exact_solution(m, box, a, b, c, out):  # pragma: no cover - compiled
    """u = G_a(x)·G_b(y)·G_c(z), G_w(t) = (1 + t)·sin(wπt), at the nodes of ``box`` (owned
    order, float64)."""
    x0, x1, y0, y1, z0, z1 = box
    lx = x1 - x0
    ly = y1 - y0
    h = 1.0 / (m + 1)
    for k in range(z0, z1):
        z = (k + 1) * h
        uz = (1.0 + z) * math.sin(c * math.pi * z)
        for j in range(y0, y1):
            y = (j + 1) * h
            uy = (1.0 + y) * math.sin(b * math.pi * y) * uz
            for i in range(x0, x1):
                x = (i + 1) * h
                out[((k - z0) * ly + (j - y0)) * lx + (i - x0)] = (
                    (1.0 + x) * math.sin(a * math.pi * x) * uy)


# The CG kernels index through unsigned integers: Numba must otherwise check every signed index
# for a negative (wrap-around) value, which doubles the time of the sparse product. ``lx``, ``ly``
# and ``lz`` are the box's extents; the extended vector is (lz + 2)·(ly + 2)·(lx + 2) long.


@njit(cache=True)
def spmv_dot(rowptr, cols, vals, p, q, lx, ly, lz, acc):  # pragma: no cover - compiled
    """q = A·p (p extended, q owned) and Σ p·q over the owned nodes added exactly to ``acc``
    (int64[exactsum.LIMBS])."""
    ex = uint64(lx + 2)
    ey = uint64(ly + 2)
    terms = np.empty(CHUNK)
    count = 0
    top = check = 0.0  # scanned as the terms are written (see exactsum.add_scanned)
    r = uint64(0)
    for kk in range(lz):
        for jj in range(ly):
            base = ((uint64(kk) + uint64(1)) * ey + uint64(jj) + uint64(1)) * ex + uint64(1)
            for ii in range(lx):
                start = rowptr[r]
                s = 0.0
                for e in range(rowptr[r + uint64(1)] - start):
                    t = uint64(start + e)
                    s += vals[t] * p[uint32(cols[t])]
                q[r] = s
                term = p[base + uint64(ii)] * s
                terms[count] = term
                top = max(top, abs(term))
                check += term - term
                count += 1
                if count == CHUNK:
                    add_scanned(acc, terms, count, top, check)
                    count = 0
                    top = check = 0.0
                r += uint64(1)
    if count:
        add_scanned(acc, terms, count, top, check)


@njit(cache=True)
def update_solution(x, r, p, q, alpha, lx, ly, lz, acc):  # pragma: no cover - compiled
    """x += α·p, r −= α·q (p extended, the rest owned), and Σ r·r added exactly to ``acc``."""
    ex = uint64(lx + 2)
    ey = uint64(ly + 2)
    terms = np.empty(CHUNK)
    count = 0
    top = check = 0.0  # scanned as the terms are written (see exactsum.add_scanned)
    i = uint64(0)
    for kk in range(lz):
        for jj in range(ly):
            base = ((uint64(kk) + uint64(1)) * ey + uint64(jj) + uint64(1)) * ex + uint64(1)
            for ii in range(lx):
                x[i] += alpha * p[base + uint64(ii)]
                ri = r[i] - alpha * q[i]
                r[i] = ri
                term = ri * ri
                terms[count] = term
                top = max(top, term)
                check += term - term
                count += 1
                if count == CHUNK:
                    add_scanned(acc, terms, count, top, check)
                    count = 0
                    top = check = 0.0
                i += uint64(1)
    if count:
        add_scanned(acc, terms, count, top, check)


@njit(cache=True)
def update_direction(p, r, beta, lx, ly, lz):  # pragma: no cover - compiled
    """p = r + β·p on the owned nodes of the extended p (β = 0: p = r, whatever p held)."""
    ex = uint64(lx + 2)
    ey = uint64(ly + 2)
    i = uint64(0)
    for kk in range(lz):
        for jj in range(ly):
            base = ((uint64(kk) + uint64(1)) * ey + uint64(jj) + uint64(1)) * ex + uint64(1)
            for ii in range(lx):
                t = base + uint64(ii)
                p[t] = r[i] + beta * p[t] if beta != 0.0 else r[i]
                i += uint64(1)


def _box_of(m: int, box: tuple[int, ...] | None) -> tuple[int, int, int, int, int, int]:
    box = (0, m, 0, m, 0, m) if box is None else tuple(int(v) for v in box)
    if len(box) != 6:
        raise ValueError(f"box {box} must be (x0, x1, y0, y1, z0, z1)")
    check_box(m, box)
    return box


def assemble_matrix(m: int, box: tuple[int, ...] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR ``(rowptr, cols, vals)`` (int64, int32, float64) of the rows of ``box`` (default:
    every interior node), columns in the extended-box numbering.

    Raises
    ------
    ValueError
        When ``m < 1`` or the box is empty or outside [0, m)³.
    """
    if m < 1:
        raise ValueError(f"m={m}: need at least one interior node per side")
    box = _box_of(m, box)
    x0, x1, y0, y1, z0, z1 = box
    nnz = local_nnz(m, box)
    rowptr = np.empty((x1 - x0) * (y1 - y0) * (z1 - z0) + 1, dtype=np.int64)
    cols = np.empty(nnz, dtype=np.int32)
    vals = np.empty(nnz)
    assemble_rows(m, box, element_stiffness(1.0 / (m + 1)), rowptr, cols, vals)
    return rowptr, cols, vals


def load_vector(m: int, wave: tuple[int, int, int], box: tuple[int, ...] | None = None
                ) -> np.ndarray:
    """Load vector (float64, owned order) of the manufactured solution with wave numbers
    ``wave`` on ``box`` (default: every interior node).

    Raises
    ------
    ValueError
        When ``m < 1`` or the box is empty or outside [0, m)³.
    """
    if m < 1:
        raise ValueError(f"m={m}: need at least one interior node per side")
    box = _box_of(m, box)
    x0, x1, y0, y1, z0, z1 = box
    out = np.empty((x1 - x0) * (y1 - y0) * (z1 - z0))
    assemble_load(m, box, *(float(w) for w in wave), out)
    return out


def precompile() -> None:
    """Compile every kernel on a 3×3×3 interior grid (fills the on-disk cache)."""
    exactsum.precompile()
    m = 3
    box = (0, m, 0, m, 0, m)
    rowptr, cols, vals = assemble_matrix(m, box)
    b = load_vector(m, (1, 1, 1), box)
    exact = np.empty_like(b)
    exact_solution(m, box, 1.0, 1.0, 1.0, exact)
    p = np.zeros((m + 2) ** 3)
    q = np.empty_like(b)
    x = np.zeros_like(b)
    acc = exactsum.new_accumulator()
    update_direction(p, b, 0.0, m, m, m)
    spmv_dot(rowptr, cols, vals, p, q, m, m, m, acc)
    update_solution(x, b.copy(), p, q, 0.5, m, m, m, acc)
    update_direction(p, b, 0.5, m, m, m)
