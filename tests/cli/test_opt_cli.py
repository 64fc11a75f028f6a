"""``harness run opt`` end to end: verified records, rank-independent sync checksum, bad input."""

from __future__ import annotations

import importlib.util
import json
import math
import statistics
from pathlib import Path

import pytest
from clitools import assert_refused, harness

pytestmark = pytest.mark.skipif(importlib.util.find_spec("harness.cli.run") is None,
                                reason="harness.cli.run is not there yet")


def run_json(out: Path, ranks: int, *extra: str) -> dict:
    done = harness("run", "opt", "--ranks", str(ranks), "--reps", "2", "--out", str(out),
                   "--json", *extra)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)  # --json: one document on stdout and nothing else
    assert record["status"] == "ok"
    assert record["verification"]["passed"]
    assert record["verification"]["error"] <= record["verification"]["tolerance"]
    assert record["ranks"] == ranks
    written = list(out.rglob(f"opt-{record['mode']}-p{ranks}-*.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text())["run_id"] == record["run_id"]
    return record


def test_sync_two_ranks_match_one_rank(tmp_path: Path) -> None:
    one = run_json(tmp_path / "one", 1)
    two = run_json(tmp_path / "two", 2)
    assert one["variant"] == two["variant"] == "sync"
    assert two["verification"]["checksum"] == one["verification"]["checksum"]  # bit for bit
    for record in (one, two):
        assert set(record["phases"]) == {"compute", "reduce"}
        assert record["fom"]["name"] == "evaluations/s"
        p = record["params"]
        assert record["iterations"] == p["generations"]
        evaluations = p["population"] * p["generations"]
        assert record["work"]["evaluations"] == evaluations
        rate = evaluations / statistics.median(record["seconds"])
        assert math.isclose(record["fom"]["value"], rate, rel_tol=1e-9)


def test_async_two_ranks_verified(tmp_path: Path) -> None:
    record = run_json(tmp_path, 2, "--variant", "async", "--set", "function=rosenbrock")
    assert record["variant"] == "async"
    assert record["params"]["function"] == "rosenbrock"
    assert record["work"]["exchanges"] > 1


def test_weak_mode_scales_the_population(tmp_path: Path) -> None:
    record = run_json(tmp_path, 2, "--mode", "weak", "--reps", "1")
    one_rank = harness("run", "opt", "--mode", "weak", "--reps", "1", "--out",
                       str(tmp_path / "one"), "--json")
    assert one_rank.returncode == 0, one_rank.stderr
    assert record["params"]["population"] == 2 * json.loads(one_rank.stdout)["params"][
        "population"]


@pytest.mark.parametrize(("args", "named"), [
    (["--variant", "async", "--set", "population=3", "--ranks", "4"], "population=3"),
    (["--variant", "async", "--set", "population=12", "--ranks", "4"], "population=12"),
    (["--set", "d=0"], "d=0"),
    (["--set", "d=0", "--ranks", "2"], "d=0"),
    (["--set", "function=sphere"], "function='sphere'"),
    (["--set", "generations=0", "--ranks", "2"], "generations=0"),
    (["--set", "CR=2"], "CR=2"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], named: str) -> None:
    out = tmp_path / "out"
    done = harness("run", "opt", *args, "--out", str(out), "--json")
    assert_refused(done, named, out)
