"""The ``calibrate`` workload does fixed work, and the analyzer recovers its serial fraction.

Rank 0 does s serial iterations while the others wait, then the ranks share W parallel
iterations, so Amdahl's f = s / (s + W), fixed by the problem. Nothing here depends on this
machine's speed: real runs check that the work is the same at every rank count and in every run;
the recovery of f is checked on records built in the test from those runs, with times drawn from
Amdahl's law and seeded noise. (The recovery on this machine's real times is ``make bench``.)
"""

import json
import os

import numpy as np
import pytest
from clitools import harness, run_json


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs for a 2-rank run that is not oversubscribed")
    out = tmp_path_factory.mktemp("cal")
    runs = [run_json("calibrate", "--ranks", ranks, "--size", "tiny", "--reps", 2,
                     "--out", out, "--sweep-id", "real") for ranks in (1, 2, 1)]
    # what is tested here is the work and the pooling, not this machine's timings: a run that
    # shared its CPUs with other work (contended) is analyzed as if it had not
    (out / "cal").mkdir()
    for run in runs:
        quiet = {**run, "contended": False, "contention": 0.0}
        (out / "cal" / f"{run['run_id']}.json").write_text(json.dumps(quiet))
    return out, runs


def test_every_run_of_a_problem_does_the_same_work(real_runs):
    _, runs = real_runs
    assert all(r["status"] == "ok" for r in runs)
    works = [r["fixed_work"] for r in runs]
    assert works[0] == works[1] == works[2] == {"serial_iterations": 400_000,
                                                  "parallel_iterations": 1_600_000}
    assert {r["work"]["expected_serial_fraction"] for r in runs} == {0.2}
    assert {r["verification"]["checksum"]["iterations"] for r in runs} == {2_000_000}


def test_runs_of_different_work_are_not_pooled(real_runs, tmp_path):
    out, runs = real_runs
    other = run_json("calibrate", "--ranks", 1, "--size", "tiny", "--reps", 2,
                     "--set", "serial_iterations=500000", "--out", tmp_path, "--sweep-id", "x")
    assert other["fixed_work"]["serial_iterations"] == 500_000
    # a --set override is a different problem: a separate group, never pooled
    done = harness("analyze", out / "cal", tmp_path / "x", "--format", "json")
    assert done.returncode == 0, done.stderr
    problems = {g["problem"] for g in json.loads(done.stdout)["groups"]}
    assert problems == {"tiny", "tiny serial_iterations=500000"}
    # the same problem with different work (a record edited, or written by an older harness
    # that measured its work) is refused with the reason
    record = dict(runs[0])
    record.update(run_id="edited-1", fixed_work={"serial_iterations": 123,
                                                 "parallel_iterations": 1_600_000})
    (tmp_path / "edited.json").write_text(json.dumps(record))
    done = harness("analyze", out / "cal", tmp_path / "edited.json")
    assert done.returncode == 2
    assert "runs did different work, so they are not pooled" in done.stderr
    assert "serial_iterations" in done.stderr and done.stderr.count("\n") == 1


def synthetic(template: dict, ranks: int, run: int, seconds: list[float]) -> dict:
    record = json.loads(json.dumps(template))
    record.update(run_id=f"amdahl-p{ranks}-{run}", ranks=ranks, seconds=seconds,
                  seconds_min=seconds, seconds_mean=seconds, repetitions=len(seconds),
                  oversubscribed=False, contended=False, contention=0.0)
    for phase in record["phases"].values():
        phase.update(min=0.0, mean=0.0, max=0.0)
    return record


def test_the_analyzer_recovers_the_serial_fraction(real_runs, tmp_path):
    _, runs = real_runs
    template = runs[0]
    f = template["work"]["expected_serial_fraction"]
    rng = np.random.default_rng(2026)
    directory = tmp_path / "amdahl"
    directory.mkdir()
    # three runs at 1, 2, 4, 8 ranks; 2 % run-to-run and 1 % within-run noise
    for ranks in (1, 2, 4, 8):
        for run in range(3):
            level = 0.05 * (f + (1 - f) / ranks) * np.exp(rng.normal(0, 0.02))
            times = (level * np.exp(rng.normal(0, 0.01, 5))).tolist()
            record = synthetic(template, ranks, run, times)
            (directory / f"p{ranks}-{run}.json").write_text(json.dumps(record))
    done = harness("analyze", directory, "--format", "json")
    assert done.returncode == 0, done.stderr
    (group,) = json.loads(done.stdout)["groups"]
    amdahl = group["fits"]["amdahl"]
    assert amdahl["status"] == "fitted"
    low, high = amdahl["ci95"]
    assert low <= f <= high
    assert amdahl["serial_fraction"] == pytest.approx(f, abs=0.03)
    two = next(p for p in group["points"] if p["cores"] == 2)
    assert two["karp_flatt"] == pytest.approx(f, abs=0.05)
    assert two["runs"] == 3
