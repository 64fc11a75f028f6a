"""Block partitioning, the 2D process grid and the overlap variant's regions (pure integers)."""

import itertools

import numpy as np
import pytest

from harness.decomposition import blocks, cartesian


@pytest.mark.parametrize("n", [0, 1, 2, 7, 64, 101])
@pytest.mark.parametrize("parts", [1, 2, 3, 4, 7, 16])
def test_blocks_cover_every_item_once(n, parts):
    owned = np.zeros(n, dtype=int)
    for k in range(parts):
        start, stop = blocks.block_range(n, parts, k)
        owned[start:stop] += 1
        for item in range(start, stop):
            assert blocks.block_owner(n, parts, item) == k
    assert (owned == 1).all()
    sizes = blocks.block_sizes(n, parts)
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1
    assert blocks.block_offsets(n, parts)[0] == 0


def test_block_range_rejects_bad_requests():
    with pytest.raises(ValueError):
        blocks.block_range(10, 0, 0)
    with pytest.raises(ValueError):
        blocks.block_range(10, 3, 3)


# grids smaller than the process grid are rejected by validation, so not listed here
VALID = [(n, ranks) for n in (1, 2, 5, 64, 100, 257) for ranks in (1, 2, 3, 4, 6, 7, 12, 16, 30)
         if n >= max(cartesian.grid_dims(ranks, 2))]


@pytest.mark.parametrize("n,ranks", VALID)
def test_every_cell_owned_exactly_once(n, ranks):
    dims = cartesian.grid_dims(ranks, 2)
    assert dims[0] * dims[1] == ranks
    owned = np.zeros((n, n), dtype=int)
    for coords in itertools.product(range(dims[0]), range(dims[1])):
        s = cartesian.block_of(n, dims, coords)
        assert s.rows >= 1 and s.cols >= 1
        owned[s.row0:s.row0 + s.rows, s.col0:s.col0 + s.cols] += 1
    assert (owned == 1).all()


@pytest.mark.parametrize("rows", [1, 2, 3, 4, 9])
@pytest.mark.parametrize("cols", [1, 2, 3, 4, 9])
def test_overlap_regions_cover_the_interior_once(rows, cols):
    inner, rim = cartesian.compute_regions(rows, cols)
    hits = np.zeros((rows + 2, cols + 2), dtype=int)
    for r0, r1, c0, c1 in inner + rim:
        hits[r0:r1, c0:c1] += 1
    assert (hits[1:-1, 1:-1] == 1).all()
    assert hits.sum() == rows * cols  # nothing outside the interior
    for r0, r1, c0, c1 in inner:  # inner cells never read a halo cell
        assert r0 >= 2 and r1 <= rows and c0 >= 2 and c1 <= cols


@pytest.mark.parametrize("ranks,expected", [(1, (1, 1)), (2, (2, 1)), (4, (2, 2)),
                                            (6, (3, 2)), (12, (4, 3)), (7, (7, 1))])
def test_grid_dims_balanced(ranks, expected):
    assert cartesian.grid_dims(ranks, 2) == expected


# -- the FEA's 3D boxes (pure integers) -------------------------------------------------------

from harness.decomposition import box  # noqa: E402
from harness.errors import ParameterError  # noqa: E402
from harness.workloads.fea import FEA  # noqa: E402


@pytest.mark.parametrize("ranks,expected", [(1, (1, 1, 1)), (2, (2, 1, 1)), (8, (2, 2, 2)),
                                            (50, (5, 5, 2)), (250, (10, 5, 5)),
                                            (500, (10, 10, 5)), (2500, (25, 10, 10)),
                                            (2477, (2477, 1, 1))])
def test_balanced_dims(ranks, expected):
    assert box.balanced_dims(ranks) == expected


def axis_covered(m: int, parts: int) -> bool:
    spans = [blocks.block_range(m, parts, k) for k in range(parts)]
    return spans[0][0] == 0 and spans[-1][1] == m and all(
        a < b for a, b in spans) and all(s[1] == t[0] for s, t in itertools.pairwise(spans))


@pytest.mark.parametrize("size", ["tiny", "small", "medium", "large"])
@pytest.mark.parametrize("mode", ["strong", "weak"])
def test_fea_decomposition_at_every_rank_count_to_2500(size, mode):
    """Every rank count 1..2500: the workload accepts it exactly when each axis of both
    candidate grids has a node per rank, and then every box is non-empty and the boxes tile
    the cube (a product of per-axis block partitions)."""
    wl = FEA()
    accepted = 0
    for ranks in range(1, 2501):
        n = wl.weak_scale(dict(wl.sizes[size]), ranks)["n"] if mode == "weak" else \
            wl.sizes[size]["n"]
        m = n - 1
        feasible = m >= box.largest_grid_dim(ranks)
        try:
            wl.resolve(size, {}, mode, ranks)
        except ParameterError as e:
            assert not feasible and f"{ranks} ranks" in str(e)
            continue
        assert feasible
        accepted += 1
        for dims in {box.balanced_dims(ranks), cartesian.grid_dims(ranks, 3)}:
            assert dims[0] * dims[1] * dims[2] == ranks
            assert all(axis_covered(m, d) for d in dims)
    assert accepted > 0


@pytest.mark.parametrize("ranks", [5, 50, 250, 500, 2500])
def test_platform_points_have_boxes(ranks):
    """The platform's scales: large at n = 256 (strong) and medium per rank (weak)."""
    wl = FEA()
    strong, _ = wl.resolve("large", {"n": 256}, "strong", ranks)
    weak, _ = wl.resolve("medium", {}, "weak", ranks)
    for params in (strong, weak):
        lay = box.box_layout(params["n"] - 1, ranks, ranks - 1)
        assert min(lay.extents) >= 1
    lay = box.box_layout(255, 2500, 0)
    assert lay.dims == (25, 10, 10) and lay.extents == (26, 26, 11)


def test_box_layout_of_every_rank_tiles_the_cube():
    m, ranks = 11, 30
    owned = np.zeros((m, m, m), dtype=int)
    lay = box.box_layout(m, ranks, 0)
    for x0, x1, y0, y1, z0, z1 in lay.boxes():
        owned[z0:z1, y0:y1, x0:x1] += 1
    assert (owned == 1).all()
    with pytest.raises(ValueError, match="cannot be split"):
        box.box_layout(4, 30, 0)
    with pytest.raises(ValueError, match="does not hold"):
        box.box_layout(11, 30, 0, (5, 3, 1))
