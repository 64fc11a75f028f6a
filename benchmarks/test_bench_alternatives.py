"""The param and opt workloads against what a user would pick instead, same problem and budget.

* ``param``: the workload's run at 1 rank (Numba RK4, case by case) against the same RK4
  vectorized across cases in NumPy (``benchmarks/alternatives.py``). Target: ≥ 3× NumPy's
  cases per second. NumPy's results must equal ours within 1e-12 (|a − b| / (1 + |b|)) before
  its time counts.
* ``opt``: the workload's ``sync`` run at 1 rank against ``scipy.optimize.differential_evolution``
  (DE/rand/1/bin, same F, CR, population — our initial population as its ``init`` — and the same
  number of evaluations: ``maxiter = generations − 1``, its initial evaluation included; no
  polishing, no early stop) on the same objective written in NumPy and called vectorized.
  Target: ≥ 3× SciPy's evaluations per second. The NumPy objective must equal the kernel's
  (1e-12 relative; 1e-10 absolute near the minimum, where the sum cancels) on the initial
  population and on SciPy's final one, and SciPy must have made
  exactly the budgeted evaluations, before its time counts.

Sizes: ``HARNESS_BENCH_PARAM_SIZE`` (default ``medium``: 80,000 cases) and
``HARNESS_BENCH_OPT_SIZE`` (default ``small``: d = 8, 128 individuals, 500 generations, 100–300
passes per evaluation). Both run under one BLAS thread's worth of NumPy (element-wise, no BLAS).
"""

from __future__ import annotations

import os

import alternatives
import checks
import numpy as np
import pytest
import scipy
from mpi4py import MPI
from scipy.optimize import differential_evolution

from harness.timing import PhaseTimer
from harness.workloads.opt import Optimization
from harness.workloads.param import ParameterStudy
from kernels import opt as opt_kernel
from kernels import param as param_kernel

PARAM_SIZE = os.environ.get("HARNESS_BENCH_PARAM_SIZE", "medium")
OPT_SIZE = os.environ.get("HARNESS_BENCH_OPT_SIZE", "small")
ROUNDS = int(os.environ.get("HARNESS_BENCH_ALT_ROUNDS", "3"))
MIN_RATIO = 3.0
_medians: dict[str, float] = {}


def _case(workload, size, variant, tmp_path_factory):
    params, variant = workload.resolve(size, {}, "strong", 1, variant)
    workload.precompile()
    instance = workload.setup(MPI.COMM_SELF, params, variant,
                              tmp_path_factory.mktemp(workload.name))
    return params, instance


def _run(instance, phases):
    timer = PhaseTimer(phases)
    instance.reset()
    instance.run(timer)


def _ratio(benchmark, capsys, name, ours_key, theirs_key, unit, detail):
    if ours_key in _medians and theirs_key in _medians:
        # rates per second: same work on both sides, so the ratio of times inverted
        check = checks.record(benchmark, name, _medians[theirs_key] / _medians[ours_key], ">=",
                              MIN_RATIO, "alternative", detail)
        with capsys.disabled():
            print(f"\n  {name}: ours {_medians[ours_key]:.3f} s, theirs "
                  f"{_medians[theirs_key]:.3f} s per run ({unit})\n  {checks.line(check)}")


@pytest.fixture(scope="module")
def param_instance(tmp_path_factory):
    return _case(ParameterStudy(), PARAM_SIZE, "static", tmp_path_factory)


@pytest.fixture(scope="module")
def opt_instance(tmp_path_factory):
    return _case(Optimization(), OPT_SIZE, "sync", tmp_path_factory)


@pytest.mark.benchmark(group="param vs NumPy")
def test_param_ours(benchmark, param_instance):
    params, instance = param_instance
    _run(instance, ParameterStudy.phases)  # warm-up
    benchmark.pedantic(_run, args=(instance, ParameterStudy.phases), rounds=ROUNDS, iterations=1)
    assert instance.verify().passed
    _medians["param_ours"] = benchmark.stats.stats.median
    benchmark.extra_info.update({"size": PARAM_SIZE, "cases": params["cases"],
                                 "cases_per_s": params["cases"] / _medians["param_ours"]})
    checks.fom(benchmark, "param", params["cases"] / _medians["param_ours"],
               f"cases/s ({PARAM_SIZE}, 1 rank)")


@pytest.mark.benchmark(group="param vs NumPy")
def test_param_numpy(benchmark, param_instance, capsys):
    params, instance = param_instance
    grid = param_kernel.case_grid(0, params["cases"], params["cases"], params["steps"],
                                  params["spread"])
    theirs = alternatives.param_numpy(*grid)
    _run(instance, ParameterStudy.phases)
    deviation = np.max(np.abs(theirs - instance.results) / (1.0 + np.abs(instance.results)))
    assert deviation <= 1e-12, f"NumPy RK4 differs from the kernel by {deviation:.3e}"
    benchmark.pedantic(alternatives.param_numpy, args=grid, rounds=ROUNDS, iterations=1)
    _medians["param_numpy"] = benchmark.stats.stats.median
    benchmark.extra_info.update({"size": PARAM_SIZE, "cases": params["cases"],
                                 "max_deviation_from_ours": float(deviation),
                                 "cases_per_s": params["cases"] / _medians["param_numpy"]})
    _ratio(benchmark, capsys, "param Numba / NumPy vectorized RK4, cases/s", "param_ours",
           "param_numpy", f"{params['cases']} cases", f"size={PARAM_SIZE}")


@pytest.mark.benchmark(group="opt vs scipy differential_evolution")
def test_opt_ours(benchmark, opt_instance):
    _, instance = opt_instance
    _run(instance, Optimization.phases)  # warm-up
    benchmark.pedantic(_run, args=(instance, Optimization.phases), rounds=ROUNDS, iterations=1)
    assert instance.verify().passed
    _medians["opt_ours"] = benchmark.stats.stats.median
    evaluations = instance.evaluations()
    benchmark.extra_info.update({"size": OPT_SIZE, "evaluations": evaluations,
                                 "evaluations_per_s": evaluations / _medians["opt_ours"]})
    checks.fom(benchmark, "opt", evaluations / _medians["opt_ours"],
               f"evaluations/s ({OPT_SIZE}, 1 rank)")


@pytest.mark.benchmark(group="opt vs scipy differential_evolution")
def test_opt_scipy(benchmark, opt_instance, capsys):
    params, instance = opt_instance
    fid = opt_kernel.function_id(params["function"])
    lower, upper = opt_kernel.BOUNDS[fid]
    cost, pop = params["cost"], params["population"]
    budget = instance.evaluations()  # population x generations, what our timed run makes

    counted = [0]

    def objective(xt):  # scipy's vectorized call: x is (d, S); its nfev counts calls
        counted[0] += xt.shape[1]
        return alternatives.opt_objective_numpy(np.ascontiguousarray(xt.T), fid, cost)

    def kernel_values(x):
        out = np.empty(x.shape[0])
        opt_kernel.evaluate(np.ascontiguousarray(x), fid, cost, out)
        return out

    initial = instance.initial.copy()
    np.testing.assert_allclose(objective(initial.T), kernel_values(initial), rtol=1e-12)
    results = []

    def solve():
        results.append(differential_evolution(
            objective, [(lower, upper)] * params["d"], strategy="rand1bin",
            maxiter=params["generations"] - 1, init=initial, mutation=params["F"],
            recombination=params["CR"], tol=0.0, atol=-1.0, polish=False,
            updating="deferred", vectorized=True, rng=params["seed"]))

    counted[0] = 0
    solve()
    last, evaluations = results[-1], counted[0]
    assert evaluations == budget, f"scipy made {evaluations} evaluations, budget {budget}"
    final = np.atleast_2d(last.population)
    # near the minimum 10·d − Σ 10·cos(2πx) cancels: compare absolutely there
    np.testing.assert_allclose(objective(final.T), kernel_values(final), rtol=1e-12,
                               atol=1e-10)
    benchmark.pedantic(solve, rounds=ROUNDS, iterations=1)
    _medians["opt_scipy"] = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "size": OPT_SIZE, "evaluations": evaluations, "scipy": scipy.__version__,
        "scipy_best": float(last.fun), "pop": pop,
        "evaluations_per_s": evaluations / _medians["opt_scipy"]})
    _ratio(benchmark, capsys, "opt Numba DE / scipy differential_evolution, evaluations/s",
           "opt_ours", "opt_scipy", f"{budget} evaluations", f"size={OPT_SIZE}")
