"""``benchmarks/bench_check.py`` judges a saved pytest-benchmark JSON; ``scaling.sh`` parses."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name):
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_check = _load("bench_check")
checks = _load("checks")


class FakeBenchmark:
    def __init__(self):
        self.extra_info = {}


def _saved(tmp_path, values):
    benchmarks = []
    for name, value, op, target in values:
        fake = FakeBenchmark()
        checks.record(fake, name, value, op, target, "alternative")
        benchmarks.append({"name": f"test_{len(benchmarks)}", "extra_info": fake.extra_info})
    path = tmp_path / "0001_bench.json"
    path.write_text(json.dumps({"benchmarks": benchmarks}))
    return path


def _all_met():
    return [(name, 2.0, "<=", 5.0) if "harness" in name or "fea" in name else (name, 2.0, ">=", 1.0)
            for name in bench_check.EXPECTED]


def test_every_target_met_exits_0(tmp_path, capsys):
    assert bench_check.main([str(_saved(tmp_path, _all_met()))]) == 0
    assert "every target met" in capsys.readouterr().out


def test_a_miss_exits_1_and_is_listed(tmp_path, capsys):
    values = _all_met()
    values[0] = (values[0][0], 0.5, ">=", 0.9)
    assert bench_check.main([str(_saved(tmp_path, values))]) == 1
    out = capsys.readouterr().out
    assert "1 target(s) missed" in out and f"{values[0][0]} = 0.5, target >= 0.9" in out
    assert bench_check.main([str(_saved(tmp_path, values)), "--report"]) == 0


def test_an_absent_check_is_a_miss(tmp_path, capsys):
    assert bench_check.main([str(_saved(tmp_path, _all_met()[1:]))]) == 1
    assert "not measured" in capsys.readouterr().out


def test_nan_never_meets_a_target():
    assert not checks.met({"value": float("nan"), "op": ">=", "target": 0.0})
    with pytest.raises(ValueError):
        checks.record(FakeBenchmark(), "x", 1.0, "==", 1.0, "roof")


def test_bad_input_is_one_line_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[]")
    assert bench_check.main([str(bad)]) == 2
    assert bench_check.main([str(tmp_path / "missing.json")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("bench-check: error:") for line in err)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not found")
def test_scaling_script_parses_and_refuses_too_few_cpus(tmp_path):
    script = BENCH / "scaling.sh"
    assert subprocess.run(["bash", "-n", str(script)], check=False).returncode == 0
    done = subprocess.run(["bash", str(script), str(tmp_path / "out")], capture_output=True,
                          text=True, check=False,
                          env={"PATH": "/usr/bin:/bin", "CORES": "1 100000",
                               "HARNESS": sys.executable})
    assert done.returncode == 2 and "100000 ranks need 100000 CPUs" in done.stderr
    assert not (tmp_path / "out").exists()
