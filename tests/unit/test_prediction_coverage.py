"""The 95 % prediction interval means what it says, on data from known laws.

500 seeded studies, a third each from Amdahl, the Universal Scalability Law and Amdahl plus a
``c log2 p`` collective term; 1, 2, 4, 8 and 16 cores, three runs per core count of five
repetitions each, 3–10 % run-to-run and 1 % within-run noise (log-normal). The analyzer chooses
its model as always; the truth is the efficiency of one new run, drawn from the same law, against
the measured baseline. The interval must cover it in 90–98 % of the studies at a measured scale
(8 cores) and at a held-out one (32 cores, 2x beyond the data).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from harness import metrics, modelpredict, prediction, targets

CORES = (1, 2, 4, 8, 16)
RUNS, REPS, WITHIN = 3, 5, 0.01
MEASURED, HELD_OUT = 8, 32
CASES = 500


def law(kind: str, rng: np.random.Generator):
    if kind == "amdahl":
        f = rng.uniform(0.005, 0.1)
        return lambda p: f + (1 - f) / p
    if kind == "usl":
        alpha, beta = rng.uniform(0.0, 0.05), rng.uniform(0.0, 5e-4)
        return lambda p: (1 + alpha * (p - 1) + beta * p * (p - 1)) / p
    f, c = rng.uniform(0.0, 0.05), rng.uniform(0.0, 0.01)
    return lambda p: f + (1 - f) / p + c * np.log2(p)


def run_median(g, p, sigma, rng) -> float:
    level = 10.0 * g(p) * np.exp(rng.normal(0.0, sigma))
    return float(np.median(level * np.exp(rng.normal(0.0, WITHIN, REPS))))


def study(kind: str, seed: int) -> tuple[bool, bool]:
    rng = np.random.default_rng(seed)
    g, sigma = law(kind, rng), rng.uniform(0.03, 0.10)
    rows = []
    for p in CORES:
        for run in range(RUNS):
            level = 10.0 * g(p) * np.exp(rng.normal(0.0, sigma))
            rows += [("w", "strong", p, t, p * RUNS + run)
                     for t in level * np.exp(rng.normal(0.0, WITHIN, REPS))]
    reps = pd.DataFrame(rows, columns=["workload", "mode", "cores", "seconds", "run"])
    points = metrics.scaling(metrics.summarize(reps), targets.defaults())
    t0 = float(points.loc[points["cores"] == 1, "seconds"].iloc[0])
    result = prediction.predict_group(points, "strong", 1, t0, np.array([]))
    assert result.chosen is not None
    covered = []
    for p in (MEASURED, HELD_OUT):
        predicted = modelpredict.predict(result.chosen, np.array([float(p)]), 1, t0).iloc[0]
        new_run = t0 / (p * run_median(g, p, sigma, rng))
        covered.append(bool(predicted["pi95_low"] <= new_run <= predicted["pi95_high"]))
    return covered[0], covered[1]


@pytest.mark.slow
def test_prediction_interval_coverage_at_measured_and_held_out_scales():
    kinds = ("amdahl", "usl", "amdahl-log")
    results = np.array([study(kinds[i % 3], 1000 + i) for i in range(CASES)])
    measured, held_out = results.mean(axis=0)
    assert 0.90 <= measured <= 0.98, f"coverage at {MEASURED} cores: {measured:.3f}"
    assert 0.90 <= held_out <= 0.98, f"coverage at {HELD_OUT} cores: {held_out:.3f}"
