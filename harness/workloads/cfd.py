"""``cfd``: the CFD sweep family — network-bound halo exchange on a 2D Cartesian grid.

Each repetition advances a single Fourier mode ``steps`` times with the explicit scheme of
``kernels/cfd.py``; a halo exchange precedes every step and a global residual (max |Δc|,
allreduce MAX) is taken every ``residual_every`` steps. Verification compares the final field
with the closed form of the *discrete* scheme — the mode is multiplied by the exact
amplification factor G each step — and checks a decomposition-invariant checksum.
"""

from __future__ import annotations

import cmath
import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.decomposition import cartesian, collectives
from harness.errors import ParameterError
from harness.timing import PhaseTimer
from harness.workloads.base import FOM, Instance, Param, PhaseCost, Verification, Workload
from kernels import cfd as kernel

BYTES_PER_UPDATE = 16  # one 8-byte read and one 8-byte write per cell update, caches ideal
FLOPS_PER_UPDATE = 9  # five multiplications and four additions of the 5-point stencil
TOLERANCE = 1e-9  # relative to the mode's amplitude |G|^s
#: below this |G|^s the final field is mostly round-off and the relative check means nothing
MIN_AMPLITUDE = 1e-6


class CFD(Workload):
    name = "cfd"
    description = "2D advection-diffusion, 5-point stencil, halo exchange (network-bound)"
    variants = ("blocking", "overlap")
    deterministic_variants = ("blocking", "overlap")
    fixed_work = ("cell_updates",)
    phases = ("compute", "halo", "reduce")
    params = (
        Param("n", int, "cells per side of the periodic grid", positive=True),
        Param("steps", int, "time steps per repetition", positive=True),
        Param("nu", float, "diffusivity", minimum=0.0),
        Param("u", float, "advection velocity along rows (x), > 0", positive=True),
        Param("v", float, "advection velocity along columns (y), > 0", positive=True),
        Param("kx", int, "wave number of the initial mode along x"),
        Param("ky", int, "wave number of the initial mode along y"),
        Param("safety", float, "fraction of the stability limit used for dt, in (0, 1]",
              positive=True),
        Param("residual_every", int, "steps between global residual reductions (0: never)",
              minimum=0),
    )
    _common = {"nu": 0.01, "u": 1.0, "v": 0.5, "kx": 1, "ky": 2, "safety": 0.9,
               "residual_every": 10}
    sizes = {
        "tiny": {"n": 64, "steps": 50, **_common},
        "small": {"n": 512, "steps": 100, **_common},
        "medium": {"n": 2048, "steps": 50, **_common},
        # 8192² doubles: two arrays of 512 MiB, past the 480 MiB L3 this VM reports
        "large": {"n": 8192, "steps": 20, **_common},
    }

    def weak_scale(self, params: dict[str, Any], ranks: int) -> dict[str, Any]:
        scaled = dict(params)
        scaled["n"] = round(params["n"] * math.sqrt(ranks))
        return scaled

    def validate(self, params: dict[str, Any], variant: str, ranks: int) -> None:
        if params["safety"] > 1:
            raise ParameterError(
                f"safety={params['safety']} must be in (0, 1]: above 1 the scheme is unstable"
            )
        dims = cartesian.grid_dims(ranks, 2)
        if params["n"] < max(dims):
            raise ParameterError(
                f"n={params['n']} is smaller than the {dims[0]}x{dims[1]} process grid of "
                f"{ranks} ranks; use n >= {max(dims)}"
            )
        n = params["n"]
        if all((2 * k) % n == 0 for k in (params["kx"], params["ky"])):
            raise ParameterError(
                f"kx={params['kx']}, ky={params['ky']}: this mode is zero (or constant) on an "
                f"{n}x{n} grid, so it verifies nothing; use a wave number that is not a multiple "
                f"of {n}/2"
            )
        dt = kernel.stable_dt(n, params["nu"], params["u"], params["v"], params["safety"])
        g = kernel.amplification_factor(n, params["nu"], params["u"], params["v"], dt,
                                        params["kx"], params["ky"])
        if not (dt > 0 and math.isfinite(abs(g))):
            raise ParameterError(
                f"nu={params['nu']}, u={params['u']}, v={params['v']} on an {n}x{n} grid leave "
                "no representable time step (the stability limit overflows); use smaller values"
            )
        if abs(g) ** params["steps"] < MIN_AMPLITUDE:
            raise ParameterError(
                f"steps={params['steps']}: the mode decays to {abs(g) ** params['steps']:.1e} of "
                f"its amplitude, below {MIN_AMPLITUDE:g}, where round-off swamps the "
                "closed-form check; use fewer steps, a smaller nu or a longer wave"
            )

    def memory_per_rank(self, params: dict[str, Any], variant: str, ranks: int,
                        rank: int = 0) -> int:
        """Bytes of :class:`CFDInstance`'s arrays on ``rank``: the padded block twice (c, out) and
        the eight edge buffers of the halo exchange, float64."""
        dims = cartesian.grid_dims(ranks, 2)
        s = cartesian.block_of(params["n"], dims, (rank // dims[1], rank % dims[1]))
        return 8 * (2 * (s.rows + 2) * (s.cols + 2) + 2 * (2 * s.rows + 2 * s.cols))

    def costs(self, params: dict[str, Any], variant: str, ranks: int) -> dict[str, PhaseCost]:
        """Per repetition, for rank 0, whose block is the largest (⌈n/d₀⌉ × ⌈n/d₁⌉ on the
        process grid d = :func:`~harness.decomposition.cartesian.grid_dims` (ranks, 2), the
        ``MPI.Compute_dims`` grid the case uses). Both variants do the same work.

        ``compute``: items = the block's cell updates × steps; flops 9 and bytes 16 per update
        (:data:`FLOPS_PER_UPDATE`, :data:`BYTES_PER_UPDATE`; the residual's |Δc| and max on
        every ``residual_every``-th step are not counted).
        ``halo``: 4 messages per step (north, south, west, east; the grid is periodic, so every
        rank has four, sent to itself where the grid has one rank along a dimension), carrying
        2·(rows + cols) doubles; bytes = packing and unpacking them (16 B per double each way);
        neighbours = distinct *other* ranks (0 at one rank, 1 along a dimension of two).
        ``reduce``: ⌊steps / residual_every⌋ allreduces (MAX) of one double (none when
        ``residual_every`` is 0).

        Raises
        ------
        ValueError
            When ``ranks < 1``.
        """
        dims = cartesian.grid_dims(ranks, 2)
        block = cartesian.block_of(params["n"], dims, (0, 0))
        steps = params["steps"]
        updates = block.rows * block.cols * steps
        edge = 2 * (block.rows + block.cols)  # doubles sent per step
        every = params["residual_every"]
        reductions = steps // every if every > 0 else 0
        return {
            "compute": PhaseCost(items=updates, flops=FLOPS_PER_UPDATE * updates,
                                 bytes=BYTES_PER_UPDATE * updates),
            "halo": PhaseCost(messages=4 * steps, message_bytes=8 * edge * steps,
                              bytes=2 * 16 * edge * steps,
                              neighbours=sum(min(d - 1, 2) for d in dims)),
            "reduce": PhaseCost(reductions=reductions, reduction_bytes=8 * reductions),
        }

    def precompile(self) -> None:
        kernel.precompile()

    def setup(self, comm: Any, params: dict[str, Any], variant: str, workdir: Path) -> Instance:
        """The instance, on a duplicate of ``comm`` that its :meth:`~Instance.close` frees.
        Collective."""
        return CFDInstance(comm.Dup(), params, variant)


class CFDInstance(Instance):
    def __init__(self, comm: Any, params: dict[str, Any], variant: str):
        self.comm = comm
        self.params = params
        self.variant = variant
        n = params["n"]
        self.iterations = params["steps"]
        self.grid = cartesian.CartesianGrid(comm, n)
        self.halo = cartesian.HaloExchange(self.grid)
        s = self.grid.block
        self.dt = kernel.stable_dt(n, params["nu"], params["u"], params["v"], params["safety"])
        self.coef = kernel.stencil_coefficients(n, params["nu"], params["u"], params["v"], self.dt)
        self.inner, self.rim = cartesian.compute_regions(s.rows, s.cols)
        self.whole = (1, s.rows + 1, 1, s.cols + 1)
        self.c = np.zeros((s.rows + 2, s.cols + 2))
        self.out = np.zeros_like(self.c)
        self.residual = math.inf

    def reset(self) -> None:
        s = self.grid.block
        p = self.params
        self.c[1:-1, 1:-1] = kernel.fourier_mode(p["n"], p["kx"], p["ky"],
                                                 s.row0, s.rows, s.col0, s.cols)
        self.residual = math.inf

    def run(self, timer: PhaseTimer) -> None:
        wtime = timer.clock
        every = self.params["residual_every"]
        coef = self.coef
        comm = self.grid.cart
        c, out = self.c, self.out
        for step in range(1, self.params["steps"] + 1):
            want_residual = every > 0 and step % every == 0
            if self.variant == "blocking":
                t0 = wtime()
                self.halo.exchange(c)
                t1 = wtime()
                timer.add("halo", t1 - t0)
                if want_residual:
                    local = kernel.update_residual(c, out, *self.whole, *coef)
                else:
                    kernel.update(c, out, *self.whole, *coef)
                timer.add("compute", wtime() - t1)
            else:
                t0 = wtime()
                self.halo.start(c)
                t1 = wtime()
                local = 0.0
                for region in self.inner:
                    if want_residual:
                        local = max(local, kernel.update_residual(c, out, *region, *coef))
                    else:
                        kernel.update(c, out, *region, *coef)
                t2 = wtime()
                self.halo.finish(c)
                t3 = wtime()
                for region in self.rim:
                    if want_residual:
                        local = max(local, kernel.update_residual(c, out, *region, *coef))
                    else:
                        kernel.update(c, out, *region, *coef)
                t4 = wtime()
                timer.add("halo", (t1 - t0) + (t3 - t2))
                timer.add("compute", (t2 - t1) + (t4 - t3))
            c, out = out, c
            if want_residual:
                t0 = wtime()
                self.residual = collectives.allreduce_max(comm, local)
                timer.add("reduce", wtime() - t0)
        self.c, self.out = c, out

    def expected(self) -> tuple[np.ndarray, float]:
        """The closed form on this block after ``steps`` steps, and the amplitude |G|^steps."""
        p = self.params
        s = self.grid.block
        g = kernel.amplification_factor(p["n"], p["nu"], p["u"], p["v"], self.dt,
                                        p["kx"], p["ky"])
        steps = p["steps"]
        amplitude = abs(g) ** steps
        phase = math.remainder(steps * cmath.phase(g), 2.0 * math.pi)
        field = kernel.fourier_mode(p["n"], p["kx"], p["ky"], s.row0, s.rows, s.col0, s.cols,
                                    amplitude=amplitude, phase=phase)
        return field, amplitude

    def verify(self) -> Verification:
        cart = self.grid.cart
        expected, amplitude = self.expected()
        s = self.grid.block
        local_err = float(np.max(np.abs(self.c[1:s.rows + 1, 1:s.cols + 1] - expected)))
        error = collectives.allreduce_max(cart, local_err) / amplitude
        checksum = cartesian.field_checksum(self.grid, self.c)
        passed = bool(error <= TOLERANCE) and math.isfinite(checksum["l2"])
        return Verification(
            passed=passed,
            method="closed form of the discrete scheme (|G|^s sin(theta + s arg G)), max norm "
                   "relative to |G|^s; checksum over the gathered field in global order",
            checksum=checksum,
            error=error,
            tolerance=TOLERANCE,
        )

    def updates(self) -> int:
        return self.params["n"] ** 2 * self.params["steps"]

    def foms(self, seconds: float, phases: dict[str, dict[str, float]] | None = None
             ) -> list[FOM]:
        rate = self.updates() / seconds if seconds > 0 else math.nan
        return [FOM("cell updates/s", "cell updates/s", rate),
                FOM("effective bandwidth", "GB/s", rate * BYTES_PER_UPDATE / 1e9)]

    def work(self) -> dict[str, Any]:
        return {"cell_updates": self.updates(), "bytes_per_update": BYTES_PER_UPDATE,
                "flops_per_update": FLOPS_PER_UPDATE, "dt": self.dt, "residual": self.residual}

    def close(self) -> None:
        self.grid.free()
        self.comm.Free()
