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
        s = cartesian.slab_of(n, dims, coords)
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
    for r0, r1, c0, c1 in inner:  # inner cells never read a ghost
        assert r0 >= 2 and r1 <= rows and c0 >= 2 and c1 <= cols


@pytest.mark.parametrize("ranks,expected", [(1, (1, 1)), (2, (2, 1)), (4, (2, 2)),
                                            (6, (3, 2)), (12, (4, 3)), (7, (7, 1))])
def test_grid_dims_balanced(ranks, expected):
    assert cartesian.grid_dims(ranks, 2) == expected
