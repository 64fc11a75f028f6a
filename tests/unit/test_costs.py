"""Each workload's ``costs()`` against the ``work()`` of a real one-rank instance, against brute
force over every rank, and scaling as the decomposition says. (The counts of messages, bytes and
collectives in a real multi-rank run: ``tests/mpi/test_costs_mpi.py``.)"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mpi4py import MPI

from harness import workloads
from harness.decomposition import box as boxes
from harness.decomposition import cartesian
from harness.decomposition.blocks import block_range
from harness.timing import PhaseTimer
from harness.workloads import fea_costs
from harness.workloads.base import PhaseCost
from harness.workloads.param import _step_prefix, level_steps
from kernels import fea as fea_kernel
from kernels import opt as opt_kernel
from kernels import param as param_kernel

RANKS = (1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 27, 30, 64)


def one_rank(name: str, variant: str, overrides: dict[str, Any], tmp_path: Path):
    """A tiny instance run once on ``COMM_SELF`` in ``tmp_path``: (instance, params, costs)."""
    wl = workloads.get(name)
    params, variant = wl.resolve("tiny", overrides, "strong", 1, variant)
    instance = wl.setup(MPI.COMM_SELF, params, variant, tmp_path)
    instance.reset()
    instance.run(PhaseTimer(wl.phases))
    return instance, params, wl.costs(params, variant, 1)


@pytest.mark.parametrize("name", workloads.names())
def test_every_phase_stated_at_every_rank_count(name: str) -> None:
    wl = workloads.get(name)
    for variant in wl.variants:
        for ranks in RANKS:
            try:
                params, variant = wl.resolve("small", None, "strong", ranks, variant)
            except Exception:  # a combination the workload refuses (opt async islands)
                continue
            costs = wl.costs(params, variant, ranks)
            assert list(costs) == list(wl.phases)
            for phase, cost in costs.items():
                assert isinstance(cost, PhaseCost)
                values = [v for v in cost.to_dict().values() if not isinstance(v, bool)]
                assert all(math.isfinite(v) and v >= 0 for v in values), (name, phase, cost)
            assert sum(c.items for c in costs.values()) > 0


@pytest.mark.parametrize("name", workloads.names())
def test_no_ranks_is_an_error(name: str) -> None:
    wl = workloads.get(name)
    params, variant = wl.resolve("tiny")
    with pytest.raises(ValueError, match="ranks"):
        wl.costs(params, variant, 0)


# -- items, flops and bytes against work() at one rank -------------------------------------------

@pytest.mark.parametrize("variant", ["blocking", "overlap"])
def test_cfd_matches_work(variant: str, tmp_path: Path) -> None:
    instance, _, costs = one_rank("cfd", variant, {}, tmp_path)
    work = instance.work()
    compute = costs["compute"]
    assert compute.items == work["cell_updates"]
    assert compute.flops == work["flops_per_update"] * work["cell_updates"]
    assert compute.bytes == work["bytes_per_update"] * work["cell_updates"]
    assert costs["halo"].neighbours == 0  # one rank: the periodic halo goes to itself
    instance.close()


@pytest.mark.parametrize("variant", ["gather", "per-rank", "mpiio"])
def test_fea_matches_work_with_the_runs_iterations(variant: str, tmp_path: Path) -> None:
    instance, params, _ = one_rank("fea", variant, {}, tmp_path)
    work = instance.work()
    costs = fea_costs.phase_costs(params, variant, 1, work["cg_iterations_per_case"])
    iterations = sum(work["cg_iterations_per_case"])
    assert costs["compute"].items == work["unknowns"] * iterations
    assert costs["compute"].flops == work["flops_per_iteration"] * iterations
    assert costs["io"].io_bytes == work["bytes_written_per_repetition"]
    assert costs["halo"].messages == 0  # one box, no neighbours
    assert costs["reduce"].reductions == params["cases"] + 2 * iterations
    instance.close()


def test_fea_iteration_estimate_is_near_the_runs(tmp_path: Path) -> None:
    for n in (8, 16):
        instance, params, _ = one_rank("fea", "per-rank", {"n": n, "cases": 6}, tmp_path)
        measured = sum(instance.load_case_iterations)
        estimated = sum(fea_costs.estimated_iterations(params))
        assert 0.75 * measured <= estimated <= 1.35 * measured, (n, measured, estimated)
        instance.close()
    with pytest.raises(ValueError, match="iteration counts"):
        fea_costs.phase_costs(params, "gather", 1, [10])


@pytest.mark.parametrize("variant", ["sync", "async"])
def test_opt_matches_work(variant: str, tmp_path: Path) -> None:
    instance, _, costs = one_rank("opt", variant, {}, tmp_path)
    work = instance.work()
    assert costs["compute"].items == work["evaluations"]
    if variant == "async":
        assert costs["reduce"].reductions == work["exchanges"]
    instance.close()


def test_opt_mean_passes_per_evaluation() -> None:
    """The flops assume 2·cost − ½ passes per evaluation on average (h uniform)."""
    cost, d = 10, 4
    x = np.empty((4000, d))
    opt_kernel.initial_population(2024, 0, -5.12, 5.12, x)
    passes = [opt_kernel.evaluation_passes(row, cost) for row in x]
    assert min(passes) >= cost and max(passes) <= 3 * cost - 1
    assert abs(np.mean(passes) / (2 * cost - 0.5) - 1) < 0.03


@pytest.mark.parametrize("variant", ["static", "dynamic"])
def test_param_matches_work(variant: str, tmp_path: Path) -> None:
    instance, _, costs = one_rank("param", variant, {}, tmp_path)
    work = instance.work()
    assert costs["compute"].items == work["rk4_steps"] == instance.steps_done
    assert costs["distribute"].messages == work["messages"] == 0
    if variant == "static":
        assert costs["distribute"].reduction_bytes == work["result_bytes"]
    instance.close()


def test_param_dynamic_messages_match_work() -> None:
    """The manager's messages are what ``work()`` counts for the whole run."""
    wl = workloads.get("param")
    for ranks in (2, 3, 4, 9):
        for overrides in ({}, {"cases": 37, "chunk": 5}):
            params, _ = wl.resolve("tiny", overrides, "strong", ranks, "dynamic")
            chunks = math.ceil(params["cases"] / params["chunk"])
            assert wl.costs(params, "dynamic", ranks)["distribute"].messages == \
                2 * (chunks + ranks - 1)


@pytest.mark.parametrize("cases,steps,spread", [(400, 100, 4.0), (37, 30, 4.0), (1, 20, 1.0),
                                                (20, 64, 2.5), (1001, 77, 63.0)])
def test_param_step_prefix_equals_the_kernels_grid(cases: int, steps: int, spread: float) -> None:
    each = param_kernel.case_grid(0, cases, cases, steps, spread)[3]
    per_level = len(param_kernel.DAMPING) * len(param_kernel.RATIOS)
    assert np.array_equal(np.repeat(level_steps(cases, steps, spread), per_level)[:cases], each)
    prefix = _step_prefix(cases, steps, spread)
    assert [prefix(k) for k in range(cases + 1)] == [0, *np.cumsum(each).tolist()]


def test_param_static_busiest_block_by_brute_force() -> None:
    wl = workloads.get("param")
    for ranks in RANKS:
        params, _ = wl.resolve("tiny", {"cases": 437}, "strong", ranks, "static")
        each = param_kernel.case_grid(0, 437, 437, params["steps"], params["spread"])[3]
        loads = [int(each[slice(*block_range(437, ranks, r))].sum()) for r in range(ranks)]
        assert wl.costs(params, "static", ranks)["compute"].items == max(loads)


def test_calibrate_matches_work(tmp_path: Path) -> None:
    instance, _, costs = one_rank("calibrate", "amdahl", {}, tmp_path)
    work = instance.work()
    assert costs["serial"].items == work["serial_iterations"]
    assert costs["compute"].items == work["parallel_iterations"]
    assert costs["serial"].serial and not costs["compute"].serial
    instance.close()


# -- busiest rank against brute force over every rank ---------------------------------------------

def test_cfd_neighbours_and_block_by_brute_force() -> None:
    wl = workloads.get("cfd")
    for ranks in RANKS:
        params, _ = wl.resolve("tiny", {"n": 67}, "strong", ranks, "blocking")
        dims = cartesian.grid_dims(ranks, 2)
        blocks, peers = [], []
        for r in range(ranks):
            i, j = divmod(r, dims[1])
            blocks.append(cartesian.block_of(67, dims, (i, j)))
            around = {((i + di) % dims[0]) * dims[1] + (j + dj) % dims[1]
                      for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1))}
            peers.append(len(around - {r}))
        costs = wl.costs(params, "blocking", ranks)
        steps = params["steps"]
        assert costs["compute"].items == max(b.rows * b.cols for b in blocks) * steps
        assert costs["halo"].message_bytes == max(16 * (b.rows + b.cols) for b in blocks) * steps
        assert costs["halo"].neighbours == max(peers)


def test_fea_busiest_boxes_by_brute_force() -> None:
    m = 29
    params = {"n": m + 1, "cases": 1, "tol": 1e-8, "maxiter": 100}
    for ranks in RANKS:
        dims = boxes.balanced_dims(ranks)
        lays = [boxes.box_layout(m, ranks, r, dims) for r in range(ranks)]
        costs = fea_costs.phase_costs(params, "per-rank", ranks, [1])
        nnz = max(fea_kernel.local_nnz(m, lay.box) for lay in lays)
        ghosts = max(boxes.halo_doubles(lay) for lay in lays)
        links = max(len(boxes.neighbour_offsets(lay)) for lay in lays)
        rows = max(lay.rows for lay in lays)
        assert costs["compute"].flops == 2 * nnz + 10 * max(
            lay.rows for lay in lays if fea_kernel.local_nnz(m, lay.box) == nnz)
        assert costs["halo"].message_bytes == 8 * ghosts
        assert costs["halo"].messages == costs["halo"].neighbours == links
        assert costs["io"].io_bytes == 8 * rows


# -- scaling as the decomposition says -------------------------------------------------------------

def test_divisible_problems_divide_their_work() -> None:
    """Compute items ∝ 1/p where every rank gets the same share; serial work stays."""
    cases = [("cfd", "blocking", {"n": 64}, "compute", (1, 2, 4, 8, 16)),
             ("fea", "per-rank", {"n": 17}, "compute", (1, 2, 4, 8)),
             ("opt", "sync", {"population": 64}, "compute", (1, 2, 4, 8, 16)),
             ("calibrate", "amdahl", {}, "compute", (1, 2, 4, 8, 16))]
    for name, variant, overrides, phase, counts in cases:
        wl = workloads.get(name)
        params, _ = wl.resolve("tiny", overrides, "strong", 1, variant)
        base = wl.costs(params, variant, 1)[phase].items
        for ranks in counts:
            assert wl.costs(params, variant, ranks)[phase].items * ranks == base, (name, ranks)
    wl = workloads.get("calibrate")
    params, _ = wl.resolve("tiny")
    assert {wl.costs(params, "amdahl", p)["serial"].items for p in (1, 7, 500)} == \
        {params["serial_iterations"]}


def test_communication_grows_as_the_decomposition_says() -> None:
    cfd = workloads.get("cfd")
    params, _ = cfd.resolve("tiny", {"n": 256}, "strong", 1, "blocking")
    # a square grid of p = q² blocks: the halo shrinks as 1/q while messages stay at 4 a step
    halo = {q: cfd.costs(params, "blocking", q * q)["halo"] for q in (2, 4, 8)}
    assert halo[2].message_bytes == 2 * halo[4].message_bytes == 4 * halo[8].message_bytes
    assert {h.messages for h in halo.values()} == {4 * params["steps"]}
    fea = workloads.get("fea")
    params, _ = fea.resolve("tiny", {"n": 33}, "strong", 1, "gather")
    links = [fea.costs(params, "gather", p)["halo"].neighbours for p in (1, 2, 4, 8, 27)]
    assert links == [0, 1, 3, 7, 26]
    # the gather's writer writes everything at any rank count
    assert {fea.costs(params, "gather", p)["io"].io_bytes for p in (1, 8, 27)} == \
        {8 * 32 ** 3 * params["cases"]}
