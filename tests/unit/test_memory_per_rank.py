"""Each workload's memory estimate against the arrays of a real (one-rank) instance, and the
per-rank counts of opt and param at the platform's 2,500 ranks."""

import numpy as np
import pytest
from mpi4py import MPI

from harness import workloads
from harness.decomposition.blocks import block_sizes


def held(instance, names):
    total = 0
    for name in names:
        value = getattr(instance, name, None)
        if isinstance(value, np.ndarray):
            total += value.nbytes
        elif isinstance(value, dict):
            total += sum(a.nbytes for a in value.values())
    return total


CASES = {
    "cfd": ({}, "blocking", lambda c: held(c, ["c", "out"]) + held(c.halo, ["send", "recv"])),
    "opt": ({}, "sync", lambda c: held(c, ["initial", "population", "trials", "initial_fitness",
                                             "fitness", "trial_fitness"])),
    "opt-async": ({}, "async", lambda c: held(c, [
        "initial", "population", "trials", "initial_fitness", "fitness", "trial_fitness"])
        + held(c.bests, ["send", "recv"])),
    "param": ({}, "static", lambda c: held(c, ["results"])),
}


@pytest.mark.parametrize("key", list(CASES))
def test_estimate_equals_a_tiny_runs_arrays(key, tmp_path):
    overrides, variant, count = CASES[key]
    wl = workloads.get(key.split("-")[0])
    params, variant = wl.resolve("tiny", overrides, "strong", 1, variant)
    instance = wl.setup(MPI.COMM_SELF, params, variant, tmp_path)
    try:
        assert wl.memory_per_rank(params, variant, 1) == count(instance) > 0
    finally:
        instance.close()


def test_opt_and_param_per_rank_counts_at_2500_ranks():
    opt = workloads.get("opt")
    params, _ = opt.resolve("large", {"population": 10000}, "strong", 2500, "async")
    islands = block_sizes(params["population"], 2500)
    assert min(islands) >= 4  # DE/rand/1: an individual and three donors
    assert opt.memory_per_rank(params, "async", 2500, 0) < opt.memory_per_rank(params, "sync",
                                                                                2500, 0)
    weak, _ = opt.resolve("small", {}, "weak", 2500, "async")
    assert min(block_sizes(weak["population"], 2500)) >= 4
    param = workloads.get("param")
    params, _ = param.resolve("large", {}, "strong", 2500, "static")
    assert min(block_sizes(params["cases"], 2500)) == 800
    assert param.memory_per_rank(params, "static", 2500, 0) == 24 * 2_000_000
    assert param.memory_per_rank(params, "static", 2500, 1) == 24 * 800
    assert param.memory_per_rank(params, "dynamic", 2500, 7) == 24 * 128 + 16
