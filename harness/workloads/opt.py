"""``opt``: the optimization family — differential evolution, synchronization-bound.

DE/rand/1/bin (``kernels/opt.py``) minimizes Rastrigin or Rosenbrock in d dimensions; one
evaluation makes between ``cost`` and ``3·cost`` passes over x depending on x, so individuals —
and ranks — differ in cost. The population is split into contiguous blocks of individuals.

- ``sync``: one population. Every rank builds all trial vectors (cheap, from the counter-based
  streams keyed by individual index), evaluates the trials of its block, and the trial fitness is
  allgathered every generation; selection then runs everywhere on identical data. The result is
  bit-for-bit the same at any rank count.
- ``async``: each rank's block is an island evolving on its own. Every ``k`` generations (and
  after the last) the islands' bests are exchanged with a non-blocking allgather that completes
  at the next exchange point; the best received replaces an island's worst individual when it
  beats the island's best. After the final exchange every island holds the global best.

Phases: ``compute`` (trials, evaluations, selection, migration) and ``reduce`` (time inside the
collectives, i.e. waiting for the slowest rank). Verification: the best fitness is within
``TOLERANCE`` of the known minimum 0 (Rastrigin at the origin, Rosenbrock at (1, …, 1)) for the
fixed seed and budget of each size.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from harness.decomposition import population
from harness.decomposition.blocks import check_ranks
from harness.errors import ParameterError
from harness.timing import PhaseTimer
from harness.workloads.base import FOM, Instance, Param, PhaseCost, Verification, Workload
from kernels import opt as kernel

TOLERANCE = 1e-8  # absolute, on f_best − f*, with f* = 0 for both objectives
MAX_SEED = 2**63 - 1
ISLAND_MIN = 4  # DE/rand/1 needs an individual and three distinct donors
#: flops of one pass of the objective over x (d coordinates): Rastrigin 7 per coordinate
#: (shift, square, 2π·x, cos counted as one, 10·cos, difference, sum), Rosenbrock 10 per
#: neighbouring pair (two shifts, square, two differences, 100·a·a, b·b, two sums)
FLOPS_PER_PASS = {"rastrigin": lambda d: 7 * d, "rosenbrock": lambda d: 10 * (d - 1)}

#: DE controls and generation budgets per objective and size. Rastrigin is separable (low CR
#: works best), Rosenbrock is not (high CR). Each budget is about 1.3-2x the generations the
#: sync variant needs to reach TOLERANCE from the default seed (and seeds 1-3) at that size.
TUNED: dict[str, dict[str, Any]] = {
    "rastrigin": {"F": 0.5, "CR": 0.2,
                  "generations": {"tiny": 200, "small": 500, "medium": 850, "large": 1400}},
    "rosenbrock": {"F": 0.7, "CR": 0.9,
                   "generations": {"tiny": 400, "small": 1100, "medium": 2800, "large": 6000}},
}


def tuned_defaults(function: str, size: str) -> dict[str, Any]:
    """``F``, ``CR`` and ``generations`` of objective ``function`` at ``size``."""
    tuned = TUNED[function]
    return {"F": tuned["F"], "CR": tuned["CR"], "generations": tuned["generations"][size]}


def _size(d: int, individuals: int, cost: int, size: str) -> dict[str, Any]:
    return {"function": "rastrigin", "d": d, "population": individuals, "cost": cost, "k": 10,
            "seed": 2024, **tuned_defaults("rastrigin", size)}


class Optimization(Workload):
    name = "opt"
    description = "differential evolution on a costly objective (synchronization-bound)"
    variants = ("sync", "async")
    deterministic_variants = ("sync",)
    fixed_work = ("evaluations", "generations", "population", "dimensions")
    phases = ("compute", "reduce")
    params = (
        Param("function", str, "objective to minimize", choices=tuple(kernel.FUNCTIONS)),
        Param("d", int, "dimensions of the search space", positive=True),
        Param("population", int, "individuals in the whole population", positive=True),
        Param("generations", int, "generations per repetition (default per objective)",
              positive=True),
        Param("cost", int, "passes per evaluation: between cost and 3*cost, varying with x",
              minimum=1),
        Param("k", int, "generations between exchanges of island bests (async)",
              positive=True),
        Param("seed", int, "seed of the counter-based random streams", minimum=0),
        Param("F", float, "differential weight, in (0, 2] (default per objective)",
              positive=True),
        Param("CR", float, "crossover probability, in [0, 1] (default per objective)",
              minimum=0.0),
    )
    sizes = {
        "tiny": _size(4, 64, 10, "tiny"),
        "small": _size(8, 128, 100, "small"),
        "medium": _size(12, 256, 300, "medium"),
        "large": _size(16, 512, 300, "large"),
    }

    def resolve(
        self,
        size: str = "tiny",
        overrides: dict[str, Any] | None = None,
        mode: str = "strong",
        ranks: int = 1,
        variant: str | None = None,
    ) -> tuple[dict[str, Any], str]:
        """As :meth:`Workload.resolve`; choosing ``function`` also picks its tuned ``F``,
        ``CR`` and ``generations`` unless those are set too.

        Raises
        ------
        ParameterError
            Unknown size, mode, variant or parameter, or a value out of range.
        """
        overrides = dict(overrides or {})
        function = overrides.get("function")
        if isinstance(function, str) and function in TUNED and size in self.sizes:
            for key, value in tuned_defaults(function, size).items():
                overrides.setdefault(key, value)
        return super().resolve(size, overrides, mode, ranks, variant)

    def weak_scale(self, params: dict[str, Any], ranks: int) -> dict[str, Any]:
        scaled = dict(params)
        scaled["population"] = params["population"] * ranks
        return scaled

    def validate(self, params: dict[str, Any], variant: str, ranks: int) -> None:
        if params["F"] > 2:
            raise ParameterError(f"F={params['F']} must be in (0, 2]")
        if params["CR"] > 1:
            raise ParameterError(f"CR={params['CR']} must be in [0, 1]")
        if params["seed"] > MAX_SEED:
            raise ParameterError(f"seed={params['seed']} must be in [0, 2**63 - 1]")
        if params["function"] == "rosenbrock" and params["d"] < 2:
            raise ParameterError(
                f"d={params['d']} is too small for rosenbrock (it couples neighbouring "
                "coordinates); use d >= 2"
            )
        if variant == "async" and params["population"] < ISLAND_MIN * ranks:
            raise ParameterError(
                f"population={params['population']} is too small for async at {ranks} ranks: "
                f"each island needs >= {ISLAND_MIN} individuals for DE/rand/1; "
                f"use population >= {ISLAND_MIN * ranks}"
            )
        if params["population"] < ISLAND_MIN:
            raise ParameterError(
                f"population={params['population']} is too small: DE/rand/1 needs an "
                f"individual and three distinct donors; use population >= {ISLAND_MIN}"
            )

    def memory_per_rank(self, params: dict[str, Any], variant: str, ranks: int,
                        rank: int = 0) -> int:
        """Bytes of :class:`OptInstance`'s arrays on ``rank``: initial, current and trial vectors
        (rows × d) and their fitness (rows), float64, where rows is the whole population
        (``sync``) or the rank's island (``async``, plus the exchange buffers of the island
        bests: (ranks + 1) × (d + 1))."""
        d = params["d"]
        if variant == "sync":
            return 8 * 3 * params["population"] * (d + 1)
        island = population.population_blocks(params["population"], ranks, rank).local
        return 8 * (3 * island * (d + 1) + (ranks + 1) * (d + 1))

    def costs(self, params: dict[str, Any], variant: str, ranks: int) -> dict[str, PhaseCost]:
        """Per repetition (``generations`` G), for rank 0, whose block of ⌈population/p⌉
        individuals (:func:`~harness.decomposition.population.population_blocks`) is the
        largest.

        ``compute``: items = objective evaluations of the rank's block, ⌈P/p⌉·G. An evaluation
        makes cost + ⌊2·cost·h⌋ passes, h a hash of x uniform in [0, 1), so 2·cost − ½ on
        average; flops = that mean × :data:`FLOPS_PER_PASS`. bytes = 8(d + 1) per evaluation
        (the trial read once, its fitness written) plus 8(6d + 2) per trial built and selected
        (parent, three donors and the trial written, the trial read back at selection, two
        fitness values) — over the whole population on every rank for ``sync`` (trials and
        selection are replicated; only evaluations are divided), over the island for ``async``.
        ``reduce``: ``sync``: G in-place ``Allgatherv`` of the trial fitness, each assembling
        8·P bytes; ``async``: ⌈G/k⌉ ``Iallgather`` of the island bests (every k-th generation
        and the last), each assembling 8·p·(d + 1) bytes.

        Raises
        ------
        ValueError
            When ``ranks < 1``.
        """
        check_ranks(ranks)
        d, pop, generations = params["d"], params["population"], params["generations"]
        local = population.population_blocks(pop, ranks, 0).local
        evaluations = local * generations
        built = (pop if variant == "sync" else local) * generations
        flops = (2 * params["cost"] - 0.5) * FLOPS_PER_PASS[params["function"]](d)
        compute = PhaseCost(items=evaluations, flops=flops * evaluations,
                            bytes=8 * (d + 1) * evaluations + 8 * (6 * d + 2) * built)
        if variant == "sync":
            reduce = PhaseCost(reductions=generations, reduction_bytes=8 * pop * generations)
        else:
            exchanges = -(-generations // params["k"])
            reduce = PhaseCost(reductions=exchanges,
                               reduction_bytes=8 * ranks * (d + 1) * exchanges)
        return {"compute": compute, "reduce": reduce}

    def precompile(self) -> None:
        kernel.precompile()

    def setup(self, comm: Any, params: dict[str, Any], variant: str, workdir: Path) -> Instance:
        """The instance, on a duplicate of ``comm`` that its :meth:`~Instance.close` frees.
        Collective."""
        return OptInstance(comm.Dup(), params, variant)


class OptInstance(Instance):
    """One rank's share of a DE run: the whole population (sync) or its island (async)."""

    def __init__(self, comm: Any, params: dict[str, Any], variant: str):
        self.comm = comm
        self.params = params
        self.variant = variant
        self.iterations = params["generations"]
        self.function = kernel.function_id(params["function"])
        self.lower, self.upper = kernel.BOUNDS[self.function]
        self.blocks = population.blocks_of(comm, params["population"])
        d = params["d"]
        b = self.blocks
        if variant == "sync":
            # every rank holds the whole population; individual i is row i
            self.first = 0
            rows = b.population
        else:
            # this rank's island: individuals [start, stop)
            self.first = b.start
            rows = b.local
        self.initial = np.empty((rows, d))
        kernel.initial_population(params["seed"], self.first, self.lower, self.upper,
                                  self.initial)
        self.initial_fitness = np.empty(rows)
        if variant == "sync":
            kernel.evaluate(self.initial[b.start:b.stop], self.function, params["cost"],
                            self.initial_fitness[b.start:b.stop])
            population.allgather_blocks(comm, self.initial_fitness, b)
        else:
            kernel.evaluate(self.initial, self.function, params["cost"], self.initial_fitness)
        self.population = self.initial.copy()
        self.fitness = self.initial_fitness.copy()
        self.trials = np.empty_like(self.initial)
        self.trial_fitness = np.empty(rows)
        self.bests = population.BestExchange(comm, d) if variant == "async" else None
        self.exchanges = 0
        self.migrations = 0

    def reset(self) -> None:
        self.population[...] = self.initial
        self.fitness[...] = self.initial_fitness
        self.exchanges = 0
        self.migrations = 0

    def run(self, timer: PhaseTimer) -> None:
        if self.variant == "sync":
            self._run_sync(timer)
        else:
            self._run_async(timer)

    def _run_sync(self, timer: PhaseTimer) -> None:
        wtime = timer.clock
        p = self.params
        b = self.blocks
        pop, fit, trials, tfit = self.population, self.fitness, self.trials, self.trial_fitness
        mine, my_fit = trials[b.start:b.stop], tfit[b.start:b.stop]
        for generation in range(1, p["generations"] + 1):
            t0 = wtime()
            kernel.de_trials(pop, 0, p["seed"], generation, p["F"], p["CR"],
                             self.lower, self.upper, trials)
            kernel.evaluate(mine, self.function, p["cost"], my_fit)
            t1 = wtime()
            population.allgather_blocks(self.comm, tfit, b)
            t2 = wtime()
            kernel.select(pop, fit, trials, tfit)
            t3 = wtime()
            timer.add("compute", (t1 - t0) + (t3 - t2))
            timer.add("reduce", t2 - t1)

    def _run_async(self, timer: PhaseTimer) -> None:
        wtime = timer.clock
        p = self.params
        last = p["generations"]
        pop, fit, trials, tfit = self.population, self.fitness, self.trials, self.trial_fitness
        bests = self.bests
        for generation in range(1, last + 1):
            t0 = wtime()
            kernel.de_trials(pop, self.first, p["seed"], generation, p["F"], p["CR"],
                             self.lower, self.upper, trials)
            kernel.evaluate(trials, self.function, p["cost"], tfit)
            kernel.select(pop, fit, trials, tfit)
            t1 = wtime()
            if generation % p["k"] == 0 or generation == last:
                received = bests.wait() if bests.pending else None
                t2 = wtime()
                if received is not None:
                    self._migrate(received)
                t3 = wtime()
                best = int(np.argmin(fit))
                bests.post(fit[best], pop[best])
                self.exchanges += 1
                t4 = wtime()
                timer.add("compute", (t1 - t0) + (t3 - t2))
                timer.add("reduce", (t2 - t1) + (t4 - t3))
            else:
                bests.poll()
                timer.add("compute", t1 - t0)
                timer.add("reduce", wtime() - t1)
        # complete the final exchange so every island ends holding the global best
        t0 = wtime()
        received = bests.wait()
        t1 = wtime()
        self._migrate(received)
        timer.add("reduce", t1 - t0)
        timer.add("compute", wtime() - t1)

    def _migrate(self, received: np.ndarray) -> None:
        """Put the best of the received island bests in place of this island's worst."""
        row = received[int(np.argmin(received[:, 0]))]
        if kernel.replace_worst(self.population, self.fitness, row[1:], row[0]):
            self.migrations += 1

    # -- results --------------------------------------------------------------------------------

    def local_fitness(self) -> np.ndarray:
        """Fitness of the individuals this rank owns, ``[start, stop)`` (a copy)."""
        b = self.blocks
        fit = self.fitness[b.start:b.stop] if self.variant == "sync" else self.fitness
        return fit.copy()

    def population_fitness(self) -> np.ndarray:
        """Fitness of the whole population in individual order, on every rank. Collective."""
        if self.variant == "sync":
            return self.fitness.copy()
        return population.gather_population(self.comm, self.fitness, self.blocks)

    def population_vectors(self) -> np.ndarray:
        """The whole population (individual order), on every rank. Collective."""
        if self.variant == "sync":
            return self.population.copy()
        return population.gather_population(self.comm, self.population, self.blocks)

    def close(self) -> None:
        self.comm.Free()

    def verify(self) -> Verification:
        fitness = self.population_fitness()
        vectors = self.population_vectors()
        best = float(np.min(fitness))
        total = math.fsum(fitness.tolist())
        # the fitness sum is often exactly 0 once every individual sits at the optimum; the
        # coordinates still differ in their last bits, so their sum tells runs apart
        coordinates = math.fsum(vectors.ravel().tolist())
        optimum = kernel.OPTIMUM[self.function]
        error = best  # f* = 0 for both objectives
        passed = bool(math.isfinite(total) and 0.0 <= error <= TOLERANCE)
        return Verification(
            passed=passed,
            method=f"best {self.params['function']} value against its known minimum 0 at "
                   f"x = ({optimum:g}, ..., {optimum:g}) for the fixed seed and budget; checksum: "
                   "best, exact sums (fsum) of the final population's fitness and coordinates",
            checksum={"best": best, "sum": total, "x_sum": coordinates},
            error=error,
            tolerance=TOLERANCE,
        )

    def evaluations(self) -> int:
        """Objective evaluations per repetition (the initial population's are not timed)."""
        return self.params["population"] * self.params["generations"]

    def foms(self, seconds: float, phases: dict[str, dict[str, float]] | None = None
             ) -> list[FOM]:
        rate = self.evaluations() / seconds if seconds > 0 else math.nan
        gens = self.params["generations"] / seconds if seconds > 0 else math.nan
        return [FOM("evaluations/s", "evaluations/s", rate),
                FOM("generations/s", "generations/s", gens)]

    def work(self) -> dict[str, Any]:
        p = self.params
        work: dict[str, Any] = {
            "evaluations": self.evaluations(),
            "generations": p["generations"],
            "population": p["population"],
            "dimensions": p["d"],
            "passes_per_evaluation": [p["cost"], 3 * p["cost"] - 1],
        }
        if self.variant == "async":
            work["exchanges"] = self.exchanges
        return work
