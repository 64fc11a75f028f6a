"""``harness run param`` end to end: verified records, rank-independent checksums, bad input."""

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


def run_json(tmp_path: Path, ranks: int, variant: str, *extra: str) -> dict:
    out = tmp_path / f"out-{variant}-{ranks}"
    done = harness("run", "param", "--ranks", str(ranks), "--variant", variant, "--reps", "2",
                   "--out", str(out), "--json", *extra)
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)  # --json: one document on stdout and nothing else
    assert record["status"] == "ok"
    assert record["verification"]["passed"]
    assert record["ranks"] == ranks and record["variant"] == variant
    # the record on disk is the one printed
    written = list(out.rglob(f"param-{record['mode']}-p{ranks}-*.json"))
    assert len(written) == 1
    assert json.loads(written[0].read_text())["run_id"] == record["run_id"]
    return record


@pytest.fixture(scope="module")
def serial_checksum(tmp_path_factory: pytest.TempPathFactory) -> dict[str, float]:
    record = run_json(tmp_path_factory.mktemp("serial"), 1, "static")
    return record["verification"]["checksum"]


@pytest.mark.parametrize("variant", ["static", "dynamic"])
def test_two_ranks_match_one_rank(tmp_path: Path, variant: str,
                                  serial_checksum: dict[str, float]) -> None:
    record = run_json(tmp_path, 2, variant)
    assert record["verification"]["checksum"] == serial_checksum
    assert set(record["phases"]) == {"compute", "distribute"}
    assert record["fom"]["unit"] == "cases/s"
    assert record["iterations"] == record["params"]["cases"] == record["work"]["cases"]
    # the headline FOM is the cases of one repetition over its median time
    cases_per_second = record["params"]["cases"] / statistics.median(record["seconds"])
    assert math.isclose(record["fom"]["value"], cases_per_second, rel_tol=1e-9)


def test_chunk_larger_than_cases_and_weak_mode(tmp_path: Path) -> None:
    record = run_json(tmp_path, 2, "dynamic", "--mode", "weak", "--set", "cases=30",
                      "--set", "chunk=100")
    assert record["params"]["cases"] == 60
    assert record["mode"] == "weak"


@pytest.mark.parametrize(("ranks", "setting", "named"), [
    (2, "chunk=0", "chunk=0"),
    (2, "cases=-1", "cases=-1"),
    (2, "steps=abc", "steps='abc'"),
    (1, "chunk=0", "chunk=0"),
    (1, "spread=1000", "spread=1000"),
])
def test_bad_input_exits_2_with_one_line(tmp_path: Path, ranks: int, setting: str,
                                         named: str) -> None:
    out = tmp_path / "out"
    done = harness("run", "param", "--ranks", str(ranks), "--set", setting, "--out", str(out),
                   "--json")
    assert_refused(done, named, out)
