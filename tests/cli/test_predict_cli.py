"""``harness predict`` as a user runs it: formats, -o, exit 2 on bad input, nothing written."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.machinefile import SCHEMA
from harness.predict_render import CSV_COLUMNS

# cfd strong tiny: compute halves with the cores, a constant halo, a growing reduce
HEADER = "workload,mode,variant,size,cores,seconds,phase_compute,phase_halo,phase_reduce\n"
SWEEP = HEADER + "".join(
    f"cfd,strong,blocking,tiny,{c},{(0.8 / c + 0.1 + 0.01 * c) * k:.6f},{0.8 / c * k:.6f},"
    f"{0.1 * k:.6f},{0.01 * c * k:.6f}\n"
    for c in (1, 2, 4, 8) for k in (1.0, 1.01))

MACHINE = f"""schema = "{SCHEMA}"
[machine]
name = "test-node"
cores_per_node = 4
[network.intra]
latency = 1e-6
bandwidth = 1e9
[network.inter]
latency = 5e-6
bandwidth = 5e8
[allreduce.intra]
alpha = 2e-6
beta = 1e-9
[memory]
ranks = [1, 2, 4]
bandwidth = [2e10, 3e10, 4e10]
[io]
writers = [1, 2]
write_bandwidth = [1e9, 1.5e9]
read_bandwidth = [2e9, 3e9]
"""


def harness(capsys, *args) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(["predict", *map(str, args)])
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.fixture
def sweep(tmp_path) -> Path:
    path = tmp_path / "sweep.csv"
    path.write_text(SWEEP)
    return path


@pytest.fixture
def model(tmp_path) -> Path:
    path = tmp_path / "machine.toml"
    path.write_text(MACHINE)
    return path


def test_table_labels_every_figure_a_prediction(capsys, sweep, model):
    code, out, err = harness(capsys, sweep, "--machine", model)
    assert code == 0, err
    assert "PREDICTION, not a measurement" in out
    assert "== cfd/strong/blocking [tiny]: baseline 1 core" in out
    for scale in ("10x", "50x", "100x", "500x"):
        assert f"\n      {scale}" in out or f"\n     {scale}" in out
    assert "(predicted)" in out and "far" in out
    assert "Dominant at 500x (predicted)" in out
    assert "What-ifs" in out and "infiniband" in out
    # a CSV names no overrides or records: the mechanistic model still comes from cfd's costs
    assert "compute x" in out


def test_json_document(capsys, sweep, model):
    code, out, _ = harness(capsys, sweep, "--machine", model, "--format", "json",
                           "--to", "10x,100x")
    assert code == 0
    doc = json.loads(out)
    assert doc["schema"] == "harness.predict/1"
    assert doc["machine"]["name"] == "test-node" and doc["machine"]["inter_measured"]
    (group,) = doc["groups"]
    assert group["baseline_cores"] == 1 and group["measured_cores"] == [1, 2, 4, 8]
    assert [p["scale"] for p in group["predictions"]] == [10.0, 100.0]
    for p in group["predictions"]:
        assert p["label"] == "predicted"
        assert p["extrapolation"] == pytest.approx(p["scale"] / 8)
        assert set(p["phases"]) == {"compute", "halo", "reduce"}
        parts = sum(v["seconds"] for v in p["phases"].values()) + p["remainder"]
        assert p["phase_sum"] == pytest.approx(parts)
        assert p["total_method"] == group["total"]["method"]
        if p["total_method"] == "phases":
            assert p["seconds"] == pytest.approx(parts)
    assert group["total"]["held"] == 8 and group["total"]["method"] in ("phases", "whole")
    infiniband = next(w for w in group["what_ifs"] if w["name"] == "infiniband")
    assert "allreduce.alpha=2us" in infiniband["changes"] and "Thakur" in infiniband["assumption"]
    assert {w["name"] for w in group["what_ifs"]} == {"infiniband", "parallel filesystem",
                                                      "async"}
    assert {ph["phase"] for ph in group["phases"]} == {"compute", "halo", "reduce"}


def test_csv_and_output_file(capsys, sweep, model, tmp_path):
    out_file = tmp_path / "predict.csv"
    code, out, _ = harness(capsys, sweep, "--machine", model, "--format", "csv",
                           "--cores", "40,400", "-o", out_file)
    assert code == 0 and out == ""
    frame = pd.read_csv(io.StringIO(out_file.read_text()))
    assert list(frame.columns) == CSV_COLUMNS
    assert sorted(frame["cores"].unique()) == [40, 400]
    totals = frame.loc[(frame["quantity"] == "total") & (frame["scenario"] == "prediction")]
    assert len(totals) == 2 and (totals["label"] == "predicted").all()
    assert set(frame["scenario"]) >= {"prediction", "infiniband", "async"}


def test_set_and_async_variant(capsys, sweep, model):
    code, out, _ = harness(capsys, sweep, "--machine", model, "--set", "network.latency=50us",
                           "--variant", "async", "--format", "json")
    assert code == 0
    (group,) = json.loads(out)["groups"]
    names = [w["name"] for w in group["what_ifs"]]
    assert names[0] == "--set network.latency=50us" and "async" not in names
    assert any("asynchronous algorithm assumed" in n for n in group["notes"])


def test_without_machine_model(capsys, sweep):
    code, out, _ = harness(capsys, sweep, "--format", "json")
    assert code == 0
    (group,) = json.loads(out)["groups"]
    assert group["what_ifs"] == []
    assert all(p["chosen"] == "empirical" for p in group["phases"])


@pytest.mark.parametrize("args, message", [
    (["--to", "ten"], "is not a scale"),
    (["--to", "10x,-5x"], "is not a scale"),
    (["--cores", "2.5"], "is not a core count"),
    (["--to", "10x", "--cores", "50"], "not both"),
    (["--set", "network.latency=1us"], "give one with --machine"),
    (["--machine", "MODEL", "--set", "network.speed=1us"], "unknown key"),
    (["--machine", "MODEL", "--set", "network.latency=fast"], "is not a time"),
    (["--machine", "MISSING"], "no such machine model"),
    (["--machine", "BROKEN"], "not valid TOML"),
    (["--variant", "sync"], "Invalid value"),
    (["-o", "NODIR/out.txt"], "no such directory"),
])
def test_bad_input_is_one_line_and_exit_2(capsys, tmp_path, sweep, model, args, message):
    broken = tmp_path / "broken.toml"
    broken.write_text("schema = [")
    names = {"MODEL": model, "MISSING": tmp_path / "absent.toml", "BROKEN": broken,
             "NODIR/out.txt": tmp_path / "nodir" / "out.txt"}
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, out, err = harness(capsys, sweep, *(names.get(a, a) for a in args))
    assert code == 2 and out == ""
    assert message in err and len(err.strip().splitlines()) == 1
    assert err.startswith("harness: error:") and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.rglob("*")) == before


def test_no_records_is_exit_2(capsys, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = harness(capsys, empty)
    assert code == 2 and "no run records" in err


def test_infeasible_scale_in_every_format(capsys, sweep, model):
    # cfd tiny is a 64 x 64 grid: 100 000 ranks cannot share it
    code, out, _ = harness(capsys, sweep, "--machine", model, "--cores", "16,100000",
                           "--format", "json")
    assert code == 0
    rows = {p["cores"]: p for p in json.loads(out)["groups"][0]["predictions"]}
    assert rows[16]["label"] == "predicted" and rows[16]["infeasible"] is None
    assert rows[100000]["label"] == "infeasible" and "process grid" in rows[100000]["infeasible"]
    assert "seconds" not in rows[100000]
    code, out, _ = harness(capsys, sweep, "--machine", model, "--cores", "16,100000")
    assert code == 0 and "infeasible" in out
    code, out, _ = harness(capsys, sweep, "--machine", model, "--cores", "16,100000",
                           "--format", "csv")
    frame = pd.read_csv(io.StringIO(out))
    assert (frame.loc[frame["cores"] == 100000, "status"] == "infeasible").all()


# Amdahl's total 1.8 + 10/p, split into two phases whose laws (10/p + 0.005 p², 1.8 - 0.005 p²)
# no single normal-form term follows: the phase sum misses the largest measured count, the
# whole-curve model does not
WHOLE_SWEEP = "workload,mode,variant,size,cores,seconds,phase_compute,phase_halo\n" + "".join(
    f"cfd,strong,blocking,tiny,{p},{(1.8 + 10 / p) * k:.6f},{(10 / p + 0.005 * p * p) * k:.6f},"
    f"{(1.8 - 0.005 * p * p) * k:.6f}\n" for p in (1, 2, 4, 8, 16) for k in (1.0, 1.01))


def test_total_by_the_whole_curve_model_in_every_format(capsys, tmp_path):
    path = tmp_path / "whole.csv"
    path.write_text(WHOLE_SWEEP)
    code, out, _ = harness(capsys, path, "--format", "json", "--to", "10x,100x")
    assert code == 0
    (group,) = json.loads(out)["groups"]
    assert group["total"]["method"] == "whole" and group["total"]["held"] == 16
    assert abs(group["total"]["whole_error"]) < abs(group["total"]["phase_error"])
    for p in group["predictions"]:
        assert p["total_method"] == "whole"
        assert p["seconds"] == pytest.approx(1.8 + 10 / p["cores"], rel=0.02)
        parts = sum(v["seconds"] for v in p["phases"].values()) + p["remainder"]
        assert p["phase_sum"] == pytest.approx(parts) and p["phase_sum"] != p["seconds"]
    code, out, _ = harness(capsys, path, "--to", "10x,100x")
    assert code == 0 and "Total: the whole-curve model" in out and " W " in out
    assert "% of the predicted phase sum" in out
    code, out, _ = harness(capsys, path, "--format", "csv", "--to", "10x")
    frame = pd.read_csv(io.StringIO(out))
    assert list(frame.loc[frame["quantity"] == "total", "model"]) == ["whole"]
