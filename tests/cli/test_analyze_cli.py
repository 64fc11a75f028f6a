"""``harness analyze`` end to end: formats, exit codes, one-line errors, records, nothing written.

Most cases call :func:`harness.cli.main` in-process (the real error-to-exit-code mapping, without
paying an interpreter start each); two run ``python -m harness`` as a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from harness import records
from harness.cli import main
from harness.metrics import POINT_COLUMNS

PASSED = {"passed": True, "method": "closed form", "checksum": {}, "error": 0.0, "tolerance": 1.0}

# cfd strong: Amdahl f = 0.05 from 1 core, two repetitions per point, phases; fea: one core count
SCALING = "workload,mode,variant,cores,seconds,phase_compute,phase_halo\n" + "".join(
    f"cfd,strong,blocking,{c},{10 * (0.05 + 0.95 / c) * k:.6f},"
    f"{10 * 0.95 / c * k:.6f},{10 * 0.05 * k:.6f}\n"
    for c in (1, 2, 4, 8, 16) for k in (1.0, 1.01)
) + "fea,strong,,4,3.0,,\n"
PERFECT = "workload,mode,cores,seconds\n" + "".join(f"ok,strong,{c},{64 / c}\n"
                                                    for c in (1, 2, 4, 8))


def analyze(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["analyze", *map(str, args)])
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def no_nan(token: str) -> None:
    raise AssertionError(f"JSON contains {token}")


def test_table_for_people(tmp_path, capsys):
    code, out, err = analyze(capsys, write(tmp_path, SCALING))
    assert code == 0 and err == ""
    assert "== cfd/strong/blocking: baseline 1 core, T0 = 10.05 s ==" in out
    assert "Karp-Flatt" in out and "efficiency" in out
    assert "Amdahl: f = 0.05" in out
    assert "Predicted by the model, not measured" in out
    assert "95 % PI, new run" in out and "extrapolation" in out
    assert "Bottleneck: Network I/O (halo:" in out
    assert "ALERT P2 predicted, not measured (" in out
    assert "== fea/strong: baseline 4 cores, T0 = 3 s ==" in out
    assert "Note: speedup undefined: only one core count measured (4 cores" in out
    assert "nan" not in out.lower()


def test_json_document_shape_and_values(tmp_path, capsys):
    code, out, _ = analyze(capsys, write(tmp_path, SCALING), "--format", "json")
    assert code == 0
    doc = json.loads(out, parse_constant=no_nan)
    assert {"groups", "excluded"} <= set(doc) and doc["excluded"] == []
    cfd, fea = doc["groups"]
    assert {"workload", "mode", "variant", "baseline_cores", "points", "fits", "predictions",
            "bottleneck", "alerts", "notes"} <= set(cfd)
    assert (cfd["workload"], cfd["mode"], cfd["variant"], cfd["baseline_cores"]) == (
        "cfd", "strong", "blocking", 1)
    for p in cfd["points"]:
        assert {"cores", "scale", "seconds", "speedup", "efficiency", "karp_flatt", "target",
                "status"} <= set(p)
    base, two = cfd["points"][0], cfd["points"][1]
    assert base["karp_flatt"] is None and base["efficiency"] == 1.0
    t0, t2 = 10 * 1.005, 10 * (0.05 + 0.95 / 2) * 1.005  # medians of the two repetitions
    assert two["efficiency"] == pytest.approx(t0 / t2 / 2, rel=1e-6)
    assert two["karp_flatt"] == pytest.approx(0.05, rel=1e-5)
    amdahl, usl = cfd["fits"]["amdahl"], cfd["fits"]["usl"]
    assert {"serial_fraction", "ci95", "max_speedup"} <= set(amdahl)
    assert {"alpha", "beta", "ci95_alpha", "ci95_beta", "peak_scale"} <= set(usl)
    assert amdahl["serial_fraction"] == pytest.approx(0.05, abs=1e-4)
    low, high = amdahl["ci95"]
    assert low <= amdahl["serial_fraction"] <= high
    assert [p["scale"] for p in cfd["predictions"]] == [10, 50, 100, 500]
    for p in cfd["predictions"]:
        assert {"scale", "cores", "efficiency", "model"} <= set(p)
        assert p["label"] == "predicted"
    assert cfd["bottleneck"]["phase"] == "halo" and cfd["bottleneck"]["name"] == "Network I/O"
    assert all(a["kind"] in ("measured", "predicted") for a in cfd["alerts"])
    assert fea["points"] == [] and fea["notes"][0].startswith("speedup undefined")


def test_csv_is_the_points(tmp_path, capsys):
    code, out, _ = analyze(capsys, write(tmp_path, SCALING), "--format", "csv")
    assert code == 0
    points = pd.read_csv(io.StringIO(out))
    assert list(points.columns) == POINT_COLUMNS
    assert points["cores"].tolist() == [1, 2, 4, 8, 16]
    assert points["repetitions"].tolist() == [2] * 5


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("workload,mode,seconds\ncfd,strong,1\n", "missing column 'cores'"),
        ("workload,mode,cores,seconds\ncfd,strong,1,fast\n", "column 'seconds'"),
        ("workload,mode,cores,seconds\ncfd,strong,1,0\n", "column 'seconds'"),
        ("workload,mode,cores,seconds\ncfd,strong,1,-3\n", "column 'seconds'"),
        ("workload,mode,cores,seconds\ncfd,strong,0,3\n", "column 'cores'"),
        ("workload,mode,cores,seconds\ncfd,strong,-2,3\n", "column 'cores'"),
        ("workload,mode,cores,seconds\ncfd,strong,two,3\n", "column 'cores'"),
        ("workload,mode,cores,seconds\n", "no data rows"),
        ("", "the file is empty"),
    ],
)
def test_bad_csv_exits_2_with_one_line(tmp_path, capsys, text, says):
    path = write(tmp_path, text, "bad.csv")
    code, out, err = analyze(capsys, path)
    assert code == 2
    assert out == ""
    assert err.count("\n") == 1 and err.startswith(f"harness: error: {path}")
    assert says in err


def test_check_exits_3_on_a_missed_target(tmp_path, capsys):
    code, out, err = analyze(capsys, write(tmp_path, SCALING), "--check")
    assert code == 3
    assert "== cfd/strong/blocking" in out  # the report is printed before the verdict
    assert err.startswith("harness: error: ") and err.count("\n") == 1
    assert "cfd/strong/blocking at 4 cores" in err


def test_check_passes_and_ignores_predictions(tmp_path, capsys):
    code, _, err = analyze(capsys, write(tmp_path, PERFECT), "--check")
    assert code == 0 and err == ""


def test_targets_file(tmp_path, capsys):
    lenient = write(tmp_path, "p2_alert = 0.1\n[[target]]\nscale = 16\nefficiency = 0.2\n",
                    "lenient.toml")
    code, out, _ = analyze(capsys, write(tmp_path, SCALING), "--targets", lenient, "--check")
    assert code == 0
    assert f"Targets: {lenient}" in out
    bad = write(tmp_path, "[[target]]\nscale = 10\nefficiency = 0.9\ncolour = 'red'\n", "b.toml")
    code, out, err = analyze(capsys, write(tmp_path, SCALING), "--targets", bad)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert str(bad) in err and "'target[0].colour'" in err
    steps = write(tmp_path, "[[target]]\nscale = 10\nefficiency = 0.9\n"
                            "[[target]]\nscale = 10\nefficiency = 0.8\n", "s.toml")
    code, _, err = analyze(capsys, write(tmp_path, SCALING), "--targets", steps)
    assert code == 2 and "strictly increase" in err


def test_baseline_cores(tmp_path, capsys):
    csv = write(tmp_path, PERFECT)
    code, out, _ = analyze(capsys, csv, "--baseline-cores", 2, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["groups"][0]["baseline_cores"] == 2
    assert [p["scale"] for p in doc["groups"][0]["points"]] == [0.5, 1.0, 2.0, 4.0]
    code, out, err = analyze(capsys, csv, "--baseline-cores", 3)
    assert code == 2 and "--baseline-cores 3 was not measured for ok/strong" in err


def test_usage_errors_exit_2(tmp_path, capsys):
    assert analyze(capsys)[0] == 2
    assert analyze(capsys, write(tmp_path, PERFECT), "--format", "xml")[0] == 2
    code, _, err = analyze(capsys, tmp_path / "absent")
    assert code == 2 and "no such file or directory" in err


def record(**fields) -> records.RunRecord:
    base = {"run_id": records.new_run_id(), "sweep_id": "sw", "workload": "cfd",
            "variant": "blocking", "mode": "strong", "size": "tiny", "params": {}, "ranks": 1,
            "status": "ok", "repetitions": 2, "seconds": [4.0, 4.1], "verification": PASSED,
            "phases": {"compute": {"min": 3.0, "mean": 3.2, "max": 3.5},
                       "halo": {"min": 0.1, "mean": 0.2, "max": 0.3}}}
    base.update(fields)
    return records.RunRecord(**base)


def test_records_directory_with_exclusions(tmp_path, capsys):
    runs = tmp_path / "results"
    for ranks, t in ((1, 4.0), (2, 2.1), (4, 1.2)):
        records.write(runs, record(ranks=ranks, seconds=[t, t * 1.02]))
    failed = records.write(runs, record(ranks=8, status="failed", seconds=[],
                                        verification=None, error="rank 3 died"))
    crowded = records.write(runs, record(ranks=16, oversubscribed=True, seconds=[0.5]))
    code, out, _ = analyze(capsys, runs, "--format", "json")
    assert code == 0
    doc = json.loads(out, parse_constant=no_nan)
    assert [p["cores"] for p in doc["groups"][0]["points"]] == [1, 2, 4]
    reasons = {e["source"]: e["reason"] for e in doc["excluded"]}
    assert reasons[str(failed)] == "status 'failed': rank 3 died"
    assert reasons[str(crowded)].startswith("oversubscribed")
    code, out, _ = analyze(capsys, runs)
    assert "Excluded (2):" in out and f"{crowded}: oversubscribed" in out
    # a sweep's saved analysis.json beside the records is not taken for an input
    (runs / "sw" / "analysis.json").write_text(json.dumps(doc))
    assert json.loads(analyze(capsys, runs, "--format", "json")[1]) == doc


def test_subprocess_exit_codes_and_nothing_written(tmp_path):
    csv = write(tmp_path, SCALING)
    bad = write(tmp_path, "workload,mode,cores,seconds\ncfd,strong,1,-1\n", "bad.csv")
    before = sorted(p.name for p in tmp_path.rglob("*"))
    command = [sys.executable, "-m", "harness", "analyze"]
    done = subprocess.run([*command, str(bad)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.splitlines() == [
        f"harness: error: {bad}: line 2, column 'seconds': '-1' is not allowed; "
        "seconds must be a number > 0"]
    done = subprocess.run([*command, str(csv), "--check", "--format", "json"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3
    assert json.loads(done.stdout)["groups"][0]["workload"] == "cfd"
    assert len(done.stderr.splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_runs_of_different_problems_are_separate_groups(tmp_path, capsys):
    """A tiny run at 1 rank and a small run at 2 ranks are not a scaling study of one problem."""
    runs = tmp_path / "results"
    old = record(ranks=1, size="tiny", seconds=[0.00042, 0.00043]).to_dict()
    del old["overrides"]  # written before records had overrides: the problem is the size
    (runs / "sw").mkdir(parents=True)
    (runs / "sw" / "old.json").write_text(json.dumps(old))
    records.write(runs, record(ranks=2, size="small", seconds=[0.0053, 0.0052]))
    for ranks, t in ((1, 0.011), (4, 0.003)):
        records.write(runs, record(ranks=ranks, size="small", overrides={"steps": 200, "n": 512},
                                   seconds=[t, t]))
    code, out, _ = analyze(capsys, runs)
    assert code == 0
    headings = [line for line in out.splitlines() if line.startswith("== ")]
    assert headings == [
        "== cfd/strong/blocking [small]: baseline 2 cores, T0 = 0.00525 s ==",
        "== cfd/strong/blocking [small n=512 steps=200]: baseline 1 core, T0 = 0.011 s ==",
        "== cfd/strong/blocking [tiny]: baseline 1 core, T0 = 0.000425 s =="]
    assert out.count("Note: speedup undefined: only one core count measured") == 2
    doc = json.loads(analyze(capsys, runs, "--format", "json")[1], parse_constant=no_nan)
    groups = {g["problem"]: g for g in doc["groups"]}
    assert sorted(groups) == ["small", "small n=512 steps=200", "tiny"]
    assert [groups[p]["size"] for p in sorted(groups)] == ["small", "small", "tiny"]
    assert groups["small"]["points"] == [] and groups["tiny"]["points"] == []
    both = groups["small n=512 steps=200"]
    assert [p["cores"] for p in both["points"]] == [1, 4]
    assert both["points"][1]["efficiency"] == pytest.approx(0.011 / 0.003 / 4)
    points = pd.read_csv(io.StringIO(analyze(capsys, runs, "--format", "csv")[1]),
                         keep_default_na=False)
    assert points["size"].tolist() == ["small", "small"]
    assert points["problem"].tolist() == ["small n=512 steps=200"] * 2


def test_csv_repetitions_are_one_run_not_pooled(tmp_path, capsys):
    """One row per repetition is the CSV format: no note about pooled runs for it."""
    code, out, _ = analyze(capsys, write(tmp_path, SCALING))
    assert code == 0 and "pooled" not in out and "duplicate" not in out
    # the same core counts from a second file are separate runs: that is pooling
    again = write(tmp_path, SCALING, "again.csv")
    code, out, _ = analyze(capsys, write(tmp_path, SCALING), again)
    assert code == 0
    assert ("Note: 2 runs at 1 core, 2 runs at 2 cores, 2 runs at 4 cores, 2 runs at 8 cores, "
            "2 runs at 16 cores pooled: median and spread are over the repetitions of all those "
            "runs") in out


def test_records_at_one_core_count_are_pooled_runs(tmp_path, capsys):
    runs = tmp_path / "results"
    for ranks, t in ((1, 4.0), (2, 2.1), (2, 2.2), (2, 2.0)):
        records.write(runs, record(ranks=ranks, seconds=[t, t * 1.01]))
    code, out, _ = analyze(capsys, runs)
    assert code == 0
    assert "Note: 3 runs at 2 cores pooled: median and spread are over the repetitions" in out
    doc = json.loads(analyze(capsys, runs, "--format", "json")[1])
    assert doc["groups"][0]["points"][1]["repetitions"] == 6


@pytest.mark.parametrize(
    ("files", "says"),
    [
        ({"t.csv": b"workload,mode,cores,seconds\ncfd,strong,1,1\ncfd,strong,1e30,0.5\n"},
         "line 3, column 'cores': '1e+30' is not allowed; cores must be a whole number >= 1"),
        ({"t.csv": PERFECT.encode(),
          "l1.toml": b"[[target]]\nscale = 10\nefficiency = 0.9\n# caf\xe9\n"},
         "not valid TOML (not UTF-8 text"),
        ({"t.csv": PERFECT.encode(),
          "big.toml": b"[[target]]\nscale = 1" + b"0" * 400 + b"\nefficiency = 0.9\n"},
         "key 'target[0].scale' is 1000"),
    ],
)
def test_inputs_that_used_to_crash_exit_2_with_one_line(tmp_path, capsys, files, says):
    paths = []
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        paths += ["--targets", tmp_path / name] if name.endswith(".toml") else [tmp_path / name]
    code, out, err = analyze(capsys, *paths)
    assert code == 2 and out == ""
    assert err.startswith("harness: error: ") and err.count("\n") == 1
    assert says in err


def test_weak_runs_with_scaled_params_are_one_problem(tmp_path, capsys):
    """In weak mode the resolved params grow with the rank count; the problem (size and
    overrides) does not, so the runs stay one scaling study."""
    runs = tmp_path / "results"
    for ranks, t in ((1, 2.0), (2, 2.1), (4, 2.3)):
        records.write(runs, record(mode="weak", ranks=ranks, size="small", seconds=[t, t],
                                   params={"n": 256 * ranks, "steps": 50},
                                   overrides={"steps": 50}))
    doc = json.loads(analyze(capsys, runs, "--format", "json")[1], parse_constant=no_nan)
    assert len(doc["groups"]) == 1
    group = doc["groups"][0]
    assert (group["mode"], group["size"], group["problem"]) == ("weak", "small", "small steps=50")
    assert [p["efficiency"] for p in group["points"]] == pytest.approx([1.0, 2.0 / 2.1, 2.0 / 2.3])


def test_the_same_records_given_twice_are_read_once(tmp_path):
    from clitools import run_json

    for ranks in (1, 2):
        run_json("cfd", "--ranks", ranks, "--reps", 2, "--out", tmp_path, "--sweep-id", "s")
    once = subprocess.run([sys.executable, "-m", "harness", "analyze", str(tmp_path / "s"),
                           "--format", "json"], capture_output=True, text=True, check=False)
    twice = subprocess.run([sys.executable, "-m", "harness", "analyze", str(tmp_path / "s"),
                            str(tmp_path / "s" / ".." / "s"), "--format", "json"],
                           capture_output=True, text=True, check=False)
    assert once.returncode == twice.returncode == 0, twice.stderr
    assert json.loads(once.stdout) == json.loads(twice.stdout)
    assert "pooled" not in twice.stdout


def test_format_and_targets_come_from_the_environment(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("workload,mode,cores,seconds\nw,strong,1,10\nw,strong,2,5.2\n")
    env = {**os.environ, "HARNESS_ANALYZE_FORMAT": "json"}
    done = subprocess.run([sys.executable, "-m", "harness", "analyze", str(csv)], env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["groups"][0]["workload"] == "w"


def test_check_fails_on_measured_misses_and_predicted_ones_only_when_asked(tmp_path, capsys):
    # perfect scaling to 8 cores: every measured point passes; the model's 500x is far out
    good = write(tmp_path, "workload,mode,cores,seconds\n" + "".join(
        f"ok,strong,{c},{64 / c * (1 + 0.02 * (c % 3))}\n" for c in (1, 2, 4, 8)))
    code, _, err = analyze(capsys, good, "--check")
    assert code == 0, err
    code, _, err = analyze(capsys, write(tmp_path, SCALING), "--check", "--check-predicted")
    assert code == 3 and "measured or predicted point(s)" in err
    code, _, err = analyze(capsys, good, "--check-predicted")
    assert code == 2 and "--check-predicted needs --check" in err
