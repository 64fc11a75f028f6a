"""``make validate RECORDS=...``: ``harness predict`` held out on the harness's own records
(``benchmarks/records_validate.py`` and ``benchmarks/validate.py --records``)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from harness import inputs, machinefile, predict, targets

from .test_predict import MACHINE, costs, write_sweep  # noqa: F401 (fixture)

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
sys.path.insert(0, str(BENCH))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(name, module)
    spec.loader.exec_module(module)
    return sys.modules[name]


records_validate = _load("records_validate")
validate = _load("validate")


def test_holdout_is_harness_predict_on_the_smaller_counts(tmp_path, costs):  # noqa: F811
    full = write_sweep(tmp_path / "full")
    (label, mode, group), = records_validate.series(full)
    assert label.startswith("records:cfd") and mode == "strong"
    result = records_validate.holdout(group, MACHINE)
    assert result["held"] == 8 and result["cores"] == [1, 2, 4, 8]
    # the same prediction harness predict makes from records of 1, 2 and 4 ranks
    train = inputs.load([write_sweep(tmp_path / "train", counts=(1, 2, 4))]).repetitions
    (f,) = predict.forecast(train, targets.defaults(), cores=[8], machine=MACHINE)
    row = f.rows.iloc[0]
    assert result["predicted"] == pytest.approx(float(row["phase_sum"]))
    method, error, _ = result["nested"]
    assert method == row["total_method"]
    assert error == pytest.approx(float(row["seconds"]) / result["measured"] - 1.0)
    assert set(result["phases"]) == {"compute", "halo", "reduce", "rest"}
    # 8 ranks cross the node (4 cores per node): the halo's mechanistic model knows the slower
    # link, the empirical fit cannot
    halo = result["phases"]["halo"]
    assert abs(halo[2]) < 0.05 and halo[4].startswith("mechanistic")
    empirical = records_validate.holdout(group, None)["phases"]["halo"]
    assert abs(empirical[2]) > 0.5 and empirical[4].startswith("empirical")


def test_too_few_counts_give_no_row(tmp_path, costs):  # noqa: F811
    (_, _, group), = records_validate.series(write_sweep(tmp_path, counts=(1, 2)))
    assert records_validate.holdout(group, MACHINE) is None


def test_validate_records_table(tmp_path, costs, capsys):  # noqa: F811
    records = write_sweep(tmp_path / "sweep")
    model = machinefile.save(MACHINE, tmp_path / "machine.toml")
    empty = tmp_path / "no-csv"
    empty.mkdir()
    assert validate.main([str(empty), "--records", str(records), "--machine", str(model)]) == 0
    out = capsys.readouterr().out
    assert "no CSV series" in out
    assert "records:cfd" in out and "1-4>8" in out and "with the machine model hand" in out
    assert "mechanistic" in out and "nested choice" in out


@pytest.mark.parametrize("args,message", [
    (["--records"], "--records needs a value"),
    (["--records", "nowhere"], "not a directory"),
    (["--machine", "missing.toml"], "missing.toml"),
])
def test_validate_bad_input_is_one_line_and_exit_2(capsys, tmp_path, args, message):
    assert validate.main([str(tmp_path), *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in captured.err


def test_records_interval_is_the_parts_in_quadrature(tmp_path, costs):  # noqa: F811
    (_, _, group), = records_validate.series(write_sweep(tmp_path))
    result = records_validate.holdout(group, MACHINE)
    low, high = result["interval"]
    assert low <= result["predicted"] <= high
    assert np.isfinite([low, high]).all()
