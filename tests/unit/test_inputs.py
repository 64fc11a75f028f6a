"""Inputs: timing CSVs (parsing and every validation failure) and run records (exclusions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import inputs, metrics, records
from harness.errors import DataError, RecordError

HEADER = "workload,mode,cores,seconds\n"
PASSED = {"passed": True, "method": "closed form", "checksum": {"sum": 1.0}, "error": 0.0,
          "tolerance": 1e-9}


def write(tmp_path: Path, text: str, name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def make_record(**fields) -> records.RunRecord:
    base = {
        "run_id": records.new_run_id(), "sweep_id": "s1", "workload": "cfd",
        "variant": "blocking", "mode": "strong", "size": "tiny", "params": {}, "ranks": 2,
        "status": "ok", "repetitions": 3, "seconds": [1.0, 1.2, 1.1],
        "phases": {"compute": {"min": 0.7, "mean": 0.8, "max": 0.9},
                   "halo": {"min": 0.1, "mean": 0.15, "max": 0.2}},
        "verification": PASSED,
    }
    base.update(fields)
    return records.RunRecord(**base)


# -- CSV --------------------------------------------------------------------------------------


def test_csv_rows_become_repetitions(tmp_path):
    path = write(tmp_path, "workload,mode,variant,cores,seconds,phase_halo,notes\n"
                           " cfd , Strong ,a,1,10.5,0.5,x\n"
                           "\n"
                           "cfd,strong,,2,5.5,,y\n"
                           "fea,weak,b,4,3,0.25,z\n")
    reps = inputs.load([path]).repetitions
    assert list(reps.columns) == ["workload", "mode", "variant", "size", "problem", "machine",
                                  "cores", "seconds", "run", "source", "run_id", "host", "code",
                                  "work", "nodes", "phase_halo"]
    assert reps["nodes"].isna().all()  # a CSV says nothing of nodes
    # a CSV names no machine, code or work: those columns are empty
    for column in ("machine", "run_id", "host", "code", "work"):
        assert set(reps[column].astype(str)) == {""}
    assert reps["workload"].astype(str).tolist() == ["cfd", "cfd", "fea"]
    assert reps["mode"].astype(str).tolist() == ["strong", "strong", "weak"]
    assert reps["variant"].astype(str).tolist() == ["a", "", "b"]
    assert reps["cores"].tolist() == [1, 2, 4]
    assert reps["cores"].dtype == np.int64
    np.testing.assert_array_equal(reps["seconds"], [10.5, 5.5, 3.0])
    np.testing.assert_array_equal(reps["phase_halo"], [0.5, np.nan, 0.25])
    assert reps["run"].is_unique  # three different (group, cores): three runs
    assert set(reps["source"].astype(str)) == {str(path)}
    assert set(reps["size"].astype(str)) == set(reps["problem"].astype(str)) == {""}


def test_csv_without_variant_column(tmp_path):
    path = write(tmp_path, HEADER + "cfd,strong,1,2\n")
    reps = inputs.load([path]).repetitions
    assert reps["variant"].astype(str).tolist() == [""]


def test_csv_size_column_names_the_problem(tmp_path):
    path = write(tmp_path, "workload,mode,cores,seconds,size\n"
                           "cfd,strong,1,2, small \ncfd,strong,1,3,tiny\ncfd,strong,2,1,\n")
    reps = inputs.load([path]).repetitions
    assert reps["size"].astype(str).tolist() == ["small", "tiny", ""]
    assert reps["problem"].astype(str).tolist() == ["small", "tiny", ""]


def test_csv_repetitions_of_one_point_are_one_run(tmp_path):
    """One row per repetition is the CSV format: rows of one file with the same group and core
    count are one run; another file, another size or another core count is another run."""
    text = ("workload,mode,size,cores,seconds\n"
            "cfd,strong,s,1,4.0\ncfd,strong,s,2,2.1\ncfd,strong,s,1,4.2\ncfd,strong,s,2,2.0\n"
            "cfd,strong,m,1,9.0\ncfd,weak,s,1,4.0\n")
    first, second = write(tmp_path, text, "a.csv"), write(tmp_path, text, "b.csv")
    reps = inputs.load([first, second]).repetitions
    runs = reps.groupby(["source", "workload", "mode", "size", "cores"], observed=True)["run"]
    assert (runs.nunique() == 1).all()  # one run per (file, group, cores)
    assert runs.first().is_unique       # and a different one for every other combination
    assert reps["run"].nunique() == 2 * 4
    by_file = reps.groupby("source", observed=True)["run"]
    assert by_file.max().iloc[0] < by_file.min().iloc[1]  # files never share a run number


def test_keys_and_phase_prefixes_are_the_analyzers():
    assert inputs.KEYS is metrics.KEYS
    assert (inputs.PHASE, inputs.PHASE_MAX) == (metrics.PHASE, metrics.PHASE_MAX)
    assert inputs.PHASE is metrics.PHASE and inputs.PHASE_MAX is metrics.PHASE_MAX


@pytest.mark.parametrize("missing", ["workload", "mode", "cores", "seconds"])
def test_missing_column(tmp_path, missing):
    columns = [c for c in ("workload", "mode", "cores", "seconds") if c != missing]
    values = {"workload": "cfd", "mode": "strong", "cores": "1", "seconds": "1"}
    path = write(tmp_path, ",".join(columns) + "\n" + ",".join(values[c] for c in columns) + "\n")
    with pytest.raises(DataError) as info:
        inputs.load([path])
    message = str(info.value)
    assert str(path) in message and f"missing column {missing!r}" in message
    assert "workload, mode, cores, seconds" in message and "\n" not in message


@pytest.mark.parametrize(
    ("rows", "line", "column", "allowed"),
    [
        ("cfd,strong,1,1\ncfd,strong,2,abc\n", 3, "seconds", "number > 0"),
        ("cfd,strong,1,0\n", 2, "seconds", "number > 0"),
        ("cfd,strong,1,1\ncfd,strong,2,1\ncfd,strong,4,-0.5\n", 4, "seconds", "number > 0"),
        ("cfd,strong,1,\n", 2, "seconds", "number > 0"),
        ("cfd,strong,1,inf\n", 2, "seconds", "number > 0"),
        ("cfd,strong,0,1\n", 2, "cores", "whole number >= 1"),
        ("cfd,strong,-4,1\n", 2, "cores", "whole number >= 1"),
        ("cfd,strong,2.5,1\n", 2, "cores", "whole number >= 1"),
        # beyond 2^53 a float is no longer a whole number of cores, and int64 would overflow
        ("cfd,strong,1,1\ncfd,strong,1e30,1\n", 3, "cores", "whole number >= 1"),
        ("cfd,strong,1,1\ncfd,strong,many,1\n", 3, "cores", "whole number >= 1"),
        ("cfd,medium,1,1\n", 2, "mode", "strong or weak"),
        (",strong,1,1\n", 2, "workload", "non-empty"),
        # a blank line still counts in the line number
        ("cfd,strong,1,1\n\ncfd,strong,2,0\n", 4, "seconds", "number > 0"),
    ],
)
def test_bad_cells_name_file_line_column_and_rule(tmp_path, rows, line, column, allowed):
    path = write(tmp_path, HEADER + rows)
    with pytest.raises(DataError) as info:
        inputs.load([path])
    message = str(info.value)
    assert message.startswith(f"{path}: line {line}, column {column!r}:")
    assert allowed in message
    assert "\n" not in message


def test_bad_phase_column(tmp_path):
    path = write(tmp_path, "workload,mode,cores,seconds,phase_io\ncfd,strong,1,1,-2\n")
    with pytest.raises(DataError, match=r"line 2, column 'phase_io'.*>= 0"):
        inputs.load([path])


def test_bad_rows_are_counted(tmp_path):
    path = write(tmp_path, HEADER + "cfd,strong,1,0\ncfd,strong,1,-1\ncfd,strong,1,x\n")
    with pytest.raises(DataError, match=r"line 2.*\(2 more bad rows in this column\)"):
        inputs.load([path])


@pytest.mark.parametrize(("text", "why"), [("", "the file is empty"), (HEADER, "no data rows"),
                                           (HEADER + "\n\n", "no data rows")])
def test_empty_csv(tmp_path, text, why):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=why):
        inputs.load([path])


def test_paths_that_are_not_inputs(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        inputs.load([tmp_path / "absent.csv"])
    with pytest.raises(DataError, match="expected a directory of run records"):
        inputs.load([write(tmp_path, "x", "notes.txt")])
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no run records"):
        inputs.load([empty])
    with pytest.raises(DataError, match="no inputs"):
        inputs.load([])


# -- run records ------------------------------------------------------------------------------


def test_records_give_one_row_per_repetition(tmp_path):
    rec = make_record(ranks=3, threads_per_rank=2, seconds=[2.0, 2.5, 2.25])
    path = records.write(tmp_path, rec)
    reps = inputs.load([tmp_path]).repetitions
    assert len(reps) == 3
    assert (reps["cores"] == 6).all()  # ranks x threads per rank
    np.testing.assert_array_equal(reps["seconds"], rec.seconds)
    assert reps["run"].nunique() == 1
    assert (reps["phase_compute"] == 0.8).all() and (reps["phasemax_compute"] == 0.9).all()
    assert (reps["phase_halo"] == 0.15).all() and (reps["phasemax_halo"] == 0.2).all()
    assert set(reps["source"].astype(str)) == {str(path)}
    assert reps["variant"].astype(str).tolist() == ["blocking"] * 3


def test_failed_and_oversubscribed_records_are_excluded_with_reason(tmp_path):
    records.write(tmp_path, make_record(ranks=1))
    records.write(tmp_path, make_record(ranks=2))
    failed = records.write(tmp_path, make_record(
        ranks=4, status="failed", seconds=[], verification=None,
        error="MPI_ABORT was invoked\nTraceback ..."))
    unverified = records.write(tmp_path, make_record(
        ranks=4, status="verification_failed",
        verification={**PASSED, "passed": False, "error": 1.0}))
    crowded = records.write(tmp_path, make_record(ranks=8, oversubscribed=True))
    jitted = records.write(tmp_path, make_record(ranks=16, compiled_while_timed=True))
    (tmp_path / "s1" / "notes.json").write_text(json.dumps({"comment": "not a record"}))
    # the harness's own documents beside the records (analysis, prediction, probe) are
    # skipped, not listed
    (tmp_path / "s1" / "analysis.json").write_text(json.dumps({"schema": "harness.analysis/1"}))
    (tmp_path / "s1" / "report").mkdir()
    (tmp_path / "s1" / "report" / "phase-prediction.json").write_text(
        json.dumps({"schema": "harness.predict/1"}))
    (tmp_path / "s1" / "probe.json").write_text(json.dumps({"schema": "harness.probe/1"}))
    data = inputs.load([tmp_path])
    assert sorted(data.repetitions["cores"].unique()) == [1, 2]
    excluded = data.excluded.set_index("source")
    assert list(data.excluded.columns) == list(inputs.EXCLUDED_COLUMNS)
    assert excluded.loc[str(failed), "reason"] == "status 'failed': MPI_ABORT was invoked"
    assert excluded.loc[str(failed), "cores"] == 4
    assert excluded.loc[str(unverified), "reason"] == (
        "status 'verification_failed': verification error 1 exceeds the tolerance 1e-09")
    assert excluded.loc[str(crowded), "reason"].startswith("oversubscribed")
    assert "compiled inside the timed region" in excluded.loc[str(jitted), "reason"]
    assert excluded.loc[str(tmp_path / "s1" / "notes.json"), "reason"].startswith(
        "not a run record")
    assert len(excluded) == 5


def test_everything_excluded_is_an_error(tmp_path):
    records.write(tmp_path, make_record(status="failed", seconds=[], verification=None))
    with pytest.raises(DataError, match="nothing to analyze: all 1 inputs were excluded"):
        inputs.load([tmp_path])


def test_malformed_record_is_an_error(tmp_path):
    path = records.write(tmp_path, make_record())
    data = json.loads(path.read_text())
    del data["ranks"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data))
    with pytest.raises(RecordError, match="'ranks' is missing"):
        inputs.load([broken])
    nested = tmp_path / "dir"
    nested.mkdir()
    (nested / "r.json").write_text(json.dumps(data))
    with pytest.raises(RecordError, match=str(nested / "r.json")):
        inputs.load([nested], strict=True)


def test_malformed_record_in_a_directory_is_skipped_and_listed(tmp_path, capsys):
    good = records.write(tmp_path, make_record(ranks=1))
    data = json.loads(good.read_text())
    del data["ranks"]
    broken = good.parent / "broken.json"
    broken.write_text(json.dumps(data))
    loaded = inputs.load([tmp_path])
    assert loaded.repetitions["source"].unique().tolist() == [str(good)]
    (reason,) = loaded.excluded.set_index("source").loc[[str(broken)], "reason"]
    assert reason.startswith("unreadable run record") and "'ranks' is missing" in reason
    warning = capsys.readouterr().err
    assert warning.startswith(f"harness: warning: skipped {broken}")


def test_records_and_csv_together(tmp_path):
    records.write(tmp_path / "runs", make_record(ranks=2, seconds=[1.0]))
    csv = write(tmp_path, HEADER + "cfd,strong,1,2.0\nother,weak,1,3.0\n")
    reps = inputs.load([tmp_path / "runs", csv]).repetitions
    assert len(reps) == 3
    assert isinstance(reps["workload"].dtype, pd.CategoricalDtype)
    assert sorted(reps["workload"].astype(str)) == ["cfd", "cfd", "other"]
    assert reps["run"].is_unique
    # the record has phases, the CSV rows have none
    assert reps["phase_halo"].isna().sum() == 2


# -- problems: size and overrides -------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "overrides", "key"),
    [
        ("small", {}, "small"),
        ("small", None, "small"),
        (" small ", {"steps": 200, "n": 512}, "small n=512 steps=200"),
        ("", {"n": 512}, "n=512"),
        ("", {}, ""),
        ("tiny", {"nu": 0.01, "variant_path": "a b", "flag": True}, 'tiny flag=true nu=0.01 '
                                                                      'variant_path="a b"'),
    ],
)
def test_problem_key(size, overrides, key):
    assert inputs.problem_key(size, overrides) == key


def test_problem_key_is_stable_and_distinct():
    assert (inputs.problem_key("s", {"a": 1, "b": 2.5})
            == inputs.problem_key("s", {"b": 2.5, "a": 1}))
    # values that differ beyond 6 significant digits stay different problems
    assert inputs.problem_key("s", {"dt": 0.1}) != inputs.problem_key("s", {"dt": 0.1000001})
    assert inputs.problem_key("s", {"n": 1}) != inputs.problem_key("s", {"n": 10})


def test_records_carry_size_and_problem(tmp_path):
    records.write(tmp_path, make_record(size="small", overrides={"steps": 200, "n": 512}))
    records.write(tmp_path, make_record(size="tiny", ranks=4))
    reps = inputs.load([tmp_path]).repetitions.sort_values("cores")
    assert reps["size"].astype(str).tolist() == ["small"] * 3 + ["tiny"] * 3
    assert reps["problem"].astype(str).tolist() == ["small n=512 steps=200"] * 3 + ["tiny"] * 3


def test_record_without_overrides_field_is_its_size(tmp_path):
    """Records written before ``overrides`` existed have no such field: no overrides."""
    data = make_record(size="medium").to_dict()
    del data["overrides"]
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    reps = inputs.load([path]).repetitions
    assert set(reps["problem"].astype(str)) == {"medium"}


def test_record_with_malformed_overrides_is_an_error(tmp_path):
    data = make_record().to_dict()
    data["overrides"] = ["n=512"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError) as info:
        inputs.load([path])
    # the shipped JSON Schema names the field and what it must be
    assert str(info.value) == f"{path}: field 'overrides': ['n=512'] is not of type 'object'"


def test_record_with_too_many_cores_is_an_error(tmp_path):
    data = make_record().to_dict()
    data["ranks"] = 10**30
    path = tmp_path / "huge.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordError, match=r"huge\.json: ranks x threads_per_rank is 1(0+) cores; "
                                          r"it must be below 2\^53$"):
        inputs.load([path])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_record_with_a_time_that_is_not_finite_is_excluded(tmp_path, bad):
    records.write(tmp_path, make_record(ranks=1))
    path = records.write(tmp_path, make_record(ranks=2, seconds=[1.0, bad]))
    data = inputs.load([tmp_path])
    assert data.repetitions["cores"].unique().tolist() == [1]
    assert np.isfinite(data.repetitions["seconds"]).all()
    reason = data.excluded.set_index("source").loc[str(path), "reason"]
    assert reason.startswith("a repetition time is not a finite number")
