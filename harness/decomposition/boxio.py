"""Writing the FEA's boxes: one I/O pattern per FEA variant, and gathering boxes in order.

All patterns write float64 in the global interior-node order (x fastest) except ``per-rank``:
``gather`` (``Gatherv`` of every box to rank 0, which places the boxes and writes one file),
``per-rank`` (each rank writes its box, x fastest within the box, to its own file) and ``mpiio``
(a subarray file view per rank and a collective ``Write_all`` into one shared file).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import numpy as np

from harness.decomposition.box import Box, BoxLayout


def place(boxes: list[Box], m: int, flat: np.ndarray, out: np.ndarray) -> None:
    """Put the boxes' values, concatenated in rank order in ``flat``, into ``out`` (m³, global
    order)."""
    grid = out.reshape(m, m, m)
    offset = 0
    for x0, x1, y0, y1, z0, z1 in boxes:
        size = (x1 - x0) * (y1 - y0) * (z1 - z0)
        grid[z0:z1, y0:y1, x0:x1] = flat[offset:offset + size].reshape(z1 - z0, y1 - y0, x1 - x0)
        offset += size


class BoxWriter:
    """Writes one owned vector per call in a variant's pattern (collective except ``per-rank``).

    ``gather`` keeps two m³ buffers on rank 0 (the boxes as they arrive, and the global order);
    ``mpiio`` keeps a committed subarray datatype; :meth:`free` releases it.
    """

    def __init__(self, comm: Any, layout: BoxLayout, variant: str):
        from mpi4py import MPI

        self.comm, self.layout, self.variant = comm, layout, variant
        self.root = comm.Get_rank() == 0
        self.filetype = None
        self.arrived: np.ndarray | None = None
        self.whole: np.ndarray | None = None
        if variant == "gather":
            boxes = layout.boxes()
            self.boxes = boxes
            self.counts = [(b[1] - b[0]) * (b[3] - b[2]) * (b[5] - b[4]) for b in boxes]
            self.displs = list(itertools.accumulate([0, *self.counts[:-1]]))
            m3 = layout.m ** 3
            self.arrived = np.empty(m3) if self.root else None
            self.whole = np.empty(m3) if self.root else None
        elif variant == "mpiio":
            x0, x1, y0, y1, z0, z1 = layout.box
            m = layout.m
            self.filetype = MPI.DOUBLE.Create_subarray(
                [m, m, m], [z1 - z0, y1 - y0, x1 - x0], [z0, y0, x0]).Commit()

    def write(self, path: Path, local: np.ndarray, fsync: bool = False) -> None:
        from mpi4py import MPI

        if self.variant == "per-rank":
            _write_file(path, local, fsync)
        elif self.variant == "gather":
            if self.root:
                self.comm.Gatherv(local, [self.arrived, self.counts, self.displs, MPI.DOUBLE],
                                  root=0)
                place(self.boxes, self.layout.m, self.arrived, self.whole)
                _write_file(path, self.whole, fsync)
            else:
                self.comm.Gatherv(local, None, root=0)
        else:
            fh = MPI.File.Open(self.comm, str(path), MPI.MODE_WRONLY | MPI.MODE_CREATE)
            try:
                fh.Set_view(0, MPI.DOUBLE, self.filetype)
                fh.Write_all(local)
                if fsync:
                    fh.Sync()
            finally:
                fh.Close()

    def free(self) -> None:
        if self.filetype is not None:
            self.filetype.Free()
            self.filetype = None


def gather_global(comm: Any, layout: BoxLayout, local: np.ndarray,
                  root: int = 0) -> np.ndarray | None:
    """Every rank's box, placed in global order (m³ float64), on ``root``; ``None`` elsewhere."""
    from mpi4py import MPI

    boxes = layout.boxes()
    counts = [(b[1] - b[0]) * (b[3] - b[2]) * (b[5] - b[4]) for b in boxes]
    displs = list(itertools.accumulate([0, *counts[:-1]]))
    if comm.Get_rank() == root:
        flat = np.empty(layout.m ** 3)
        comm.Gatherv(local, [flat, counts, displs, MPI.DOUBLE], root=root)
        out = np.empty_like(flat)
        place(boxes, layout.m, flat, out)
        return out
    comm.Gatherv(local, None, root=root)
    return None


def _write_file(path: Path, data: np.ndarray, fsync: bool) -> None:
    with open(path, "wb") as f:
        f.write(memoryview(data))
        if fsync:
            f.flush()
            os.fsync(f.fileno())
