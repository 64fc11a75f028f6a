"""The NumPy alternatives of ``benchmarks/alternatives.py`` compute what the kernels compute."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

from kernels import opt as opt_kernel
from kernels import param as param_kernel

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
_spec = importlib.util.spec_from_file_location("bench_alternatives", BENCH / "alternatives.py")
alternatives = importlib.util.module_from_spec(_spec)
sys.modules.setdefault("bench_alternatives", alternatives)
_spec.loader.exec_module(alternatives)


def test_param_numpy_equals_the_kernel_case_by_case():
    cases, steps, spread = 60, 40, 4.0
    grid = param_kernel.case_grid(0, cases, cases, steps, spread)
    ours = np.empty((cases, param_kernel.RESULTS))
    param_kernel.solve_range(0, cases, cases, steps, spread, ours)
    theirs = alternatives.param_numpy(*grid)
    assert np.max(np.abs(theirs - ours) / (1.0 + np.abs(ours))) <= 1e-12
    # cases of different step counts really differ (the mask matters)
    assert len(set(grid[3].tolist())) > 1


def test_opt_passes_and_values_equal_the_kernel():
    rng = np.random.default_rng(3)
    for function in (opt_kernel.RASTRIGIN, opt_kernel.ROSENBROCK):
        lower, upper = opt_kernel.BOUNDS[function]
        x = rng.uniform(lower, upper, size=(50, 6))
        passes = alternatives.opt_passes(x, 7)
        assert [opt_kernel.evaluation_passes(row, 7) for row in x] == passes.tolist()
        assert passes.min() < passes.max()
        ours = np.empty(50)
        opt_kernel.evaluate(x, function, 7, ours)
        np.testing.assert_allclose(alternatives.opt_objective_numpy(x, function, 7), ours,
                                   rtol=1e-12)
